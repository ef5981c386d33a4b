"""TokenView's state as Python and the front end see it (no browser: see tests/browser)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from ipywidgets.widgets.widget import _remove_buffers

import circuitwidgets as cw
from circuitwidgets.analysis.next_token import next_token_probabilities
from circuitwidgets.widgets import _bundles
from circuitwidgets.widgets._transport import encode_trait, from_wire

TEXT = "The quick brown fox"
TOO_LONG = "x " * 80  # 160 tokens; the test models' n_ctx is 64


@pytest.fixture
def view(random_model):
    return cw.TokenView(random_model, TEXT)


def _drawn(w):
    return w.tokens, bytes(encode_trait(w, "token_ids")["buffer"]), bytes(encode_trait(w, "probs")["buffer"])


def test_state_holds_the_model_numbers(view, random_model):
    expected = next_token_probabilities(random_model, TEXT)
    assert view.text == TEXT and view.error == ""
    assert view.tokens == expected.str_tokens
    assert from_wire(encode_trait(view, "token_ids")).tolist() == expected.token_ids.tolist()
    probs = from_wire(encode_trait(view, "probs"))
    assert probs.dtype == np.float32 and math.isnan(probs[0])
    np.testing.assert_array_equal(probs[1:], expected.probs[1:].numpy())
    assert view.result.text == TEXT
    assert view.model_name == cw.ModelAdapter(random_model).name


def test_front_end_gets_the_bundle(view):
    js, css = _bundles.read_bundle("token_view")
    assert view._esm == js and "render" in js
    assert view._css == css and ".cw-token" in css
    assert view._anywidget_id == "circuitwidgets.widgets.token_view.TokenView"
    assert view._static is False


def test_arrays_travel_as_binary_buffers_not_json(view):
    state, buffer_paths, buffers = _remove_buffers(view.get_state())
    assert ["probs", "buffer"] in buffer_paths and ["token_ids", "buffer"] in buffer_paths
    assert all(isinstance(b, memoryview) for b in buffers)
    # What is left as JSON holds no floats at all
    floats = []
    json.loads(json.dumps(state), parse_float=lambda s: floats.append(s) or 0.0)
    assert floats == []


def test_new_data_arrives_in_one_update(view, monkeypatch):
    """tokens, ids and probabilities change together, so the view never draws a mix."""
    sent = []
    monkeypatch.setattr(
        view.comm, "publish_msg",
        lambda msg_type, data=None, buffers=None, **kw: sent.append((data, buffers)),
    )
    view.text = "A lazy dog"
    assert view.tokens == next_token_probabilities(view._adapter, "A lazy dog").str_tokens
    data_updates = [(d, b) for d, b in sent if d["method"] == "update" and "tokens" in d["state"]]
    assert len(data_updates) == 1
    ((data, buffers),) = data_updates
    assert {"tokens", "token_ids", "probs"} <= set(data["state"])
    assert sorted(data["buffer_paths"]) == [["probs", "buffer"], ["token_ids", "buffer"]]
    assert [b.nbytes for b in buffers] == [4 * len(view.tokens)] * 2


@pytest.mark.parametrize(
    "bad, reason",
    [("", "text is empty"), (TOO_LONG, "text is 161 tokens long, but this model's context is 64 tokens")],
)
def test_bad_text_shows_an_error_and_keeps_the_last_view(view, bad, reason):
    before = _drawn(view)
    view.text = bad
    assert reason in view.error
    assert view.text == bad  # the user's text is not lost
    assert _drawn(view) == before and view.result.text == TEXT
    view.text = "fixed it"
    assert view.error == "" and view.tokens[-1] != before[0][-1]


def test_returning_to_the_drawn_text_clears_the_error(view):
    before = _drawn(view)
    view.text = ""
    view.text = TEXT
    assert view.error == "" and _drawn(view) == before


def test_constructor_rejects_bad_input(random_model):
    with pytest.raises(ValueError, match="text is empty"):
        cw.TokenView(random_model, "")
    with pytest.raises(TypeError, match="needs a TransformerLens model"):
        cw.TokenView(None, TEXT)
    with pytest.raises(TypeError, match="the string 'gpt2'"):
        cw.TokenView("gpt2", TEXT)


def test_missing_bundle_names_the_build_command(random_model, tmp_path, monkeypatch):
    monkeypatch.setattr(_bundles, "STATIC_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"token_view\.js is missing.*npm install && npm run build"):
        cw.TokenView(random_model, TEXT)
