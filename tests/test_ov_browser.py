"""OVBrowser in Python: traits and their checks, the spectra it sends, the token-map messages
it answers (against circuitwidgets.analysis), its cache, linking and the static export's data."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
import traitlets

import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.widgets import _token_queries
from circuitwidgets.widgets._export import static_state
from circuitwidgets.widgets._transport import encode_trait, from_wire
from circuitwidgets.widgets.ov_browser import DEFAULT_TARGETS, DEFAULT_TOKENS, PICKABLE_TOKENS, frequent_tokens
from view_requests import ask, with_buffers

TEXT = "When Mary and John went to the store, John gave a drink to Mary."


@pytest.fixture
def browser(random_model):
    return cw.OVBrowser(random_model)


def query(widget, **question):
    """The widget's reply to a token-map question, as the view asks it: (message, buffers)."""
    return ask(widget, "query", question, raw=True)


def decode_answer(message, buffers):
    content = with_buffers(message["response"], buffers)
    return from_wire(content["top_ids"]), from_wire(content["top_values"])


# ---- traits and defaults -----------------------------------------------------------------------


def test_shape_traits_and_frequent_default_tokens(browser, random_model):
    a = cw.ModelAdapter(random_model)
    assert (browser.n_layers, browser.n_heads, browser.d_head, browser.d_vocab) == (
        a.n_layers, a.n_heads, a.d_head, a.d_vocab,
    )
    d = browser.defaults
    assert d.kind == "frequent" and len(d.tokens) == DEFAULT_TOKENS
    assert d.targets == d.tokens[:DEFAULT_TARGETS] and d.tokens == d.choices[:DEFAULT_TOKENS]
    assert len(d.choices) == PICKABLE_TOKENS
    for entry in d.choices:
        assert a.to_single_token(entry.text) == entry.id  # each really is one token
        assert entry.id not in a.special_token_ids
    assert [e.id for e in d.choices] == frequent_tokens(a, PICKABLE_TOKENS)


def test_frequent_tokens_are_whole_words_in_merge_order(random_model):
    a = cw.ModelAdapter(random_model)
    ids = frequent_tokens(a, 5)
    names = a.to_str_tokens(ids)
    assert all(n.startswith(" ") and n[1:].isalpha() and len(n) >= 3 for n in names)
    assert ids == sorted(ids)
    everything = frequent_tokens(a, a.d_vocab)  # words first, then every other ordinary token
    assert len(everything) == len(set(everything)) and not set(everything) & a.special_token_ids


def test_text_tokens_are_the_defaults(random_model):
    w = cw.OVBrowser(random_model, TEXT)
    a = cw.ModelAdapter(random_model)
    ids = [t for t in dict.fromkeys(a.to_tokens(TEXT)[0].tolist()) if t not in a.special_token_ids]
    assert w.defaults.kind == "text"
    assert [e.id for e in w.defaults.choices] == ids[:PICKABLE_TOKENS]
    assert [e.id for e in w.defaults.tokens] == ids[:DEFAULT_TOKENS]
    w.text = ""
    assert w.defaults.kind == "frequent"


def test_a_text_with_no_ordinary_tokens_is_an_inline_error(random_model):
    w = cw.OVBrowser(random_model, TEXT)
    before = w.defaults
    w.text = "<|endoftext|>"
    assert "no ordinary tokens" in w.error and w.defaults == before
    w.text = " Mary"
    assert w.error == "" and w.defaults.tokens[0].text == " Mary"
    with pytest.raises(ValueError, match="no ordinary tokens"):
        cw.OVBrowser(random_model, "<|endoftext|>")


def test_bad_values_name_the_value_and_the_range(browser):
    with pytest.raises(traitlets.TraitError, match=r"layer 2 is out of range; this model has layers 0\.\.1"):
        browser.layer = 2
    with pytest.raises(traitlets.TraitError, match=r"head -1 is out of range; this model has heads 0\.\.3"):
        browser.head = -1
    with pytest.raises(traitlets.TraitError, match=r"k 0 is out of range; it must be in \[1, 100\]"):
        browser.k = 0
    with pytest.raises(traitlets.TraitError, match=r"token id 300 is out of range \[0, 300\)"):
        browser.token = 300
    with pytest.raises(traitlets.TraitError, match=r"circuit 'qk' is not one of \['full', 'ov'\]"):
        browser.circuit = "qk"
    with pytest.raises(ValueError, match=r"circuit 'QK' is not one of"):
        cw.OVBrowser(browser.adapter, circuit="QK")
    with pytest.raises(ValueError, match="token_maps 'some' is not one of"):
        browser.save_html("x.html", token_maps="some")
    with pytest.raises(TypeError, match="needs a TransformerLens model"):
        cw.OVBrowser("gpt2")
    assert (browser.layer, browser.head, browser.k) == (0, 0, 10)


# ---- spectra -----------------------------------------------------------------------------------


def test_spectra_are_computed_once_on_demand_with_progress(browser, random_model):
    assert browser.copying is None and browser.eigenvalues is None  # nothing until asked
    progress = []
    browser.observe(lambda c: progress.append(c["new"]), "busy")
    assert ask(browser, "spectrum", {})["ok"]  # what the view asks when shown
    n_layers = browser.n_layers
    assert progress[0].startswith("Computing the eigenvalues of every head's W_E·W_V·W_O·W_U")
    assert progress[1:-1] == [f"Computing OV eigenvalues: layer {i + 1} of {n_layers} done" for i in range(n_layers)]
    assert progress[-1] == ""
    expected = analysis.ov_spectrum(random_model)
    np.testing.assert_array_equal(from_wire(encode_trait(browser, "copying")), expected.copying.numpy())
    np.testing.assert_array_equal(from_wire(encode_trait(browser, "positive_mass")), expected.positive_mass.numpy())
    pairs = from_wire(encode_trait(browser, "eigenvalues"))
    assert pairs.shape == (browser.n_layers, browser.n_heads, browser.d_head, 2)
    np.testing.assert_array_equal(pairs[..., 0] + 1j * pairs[..., 1], expected.eigenvalues.numpy())
    progress.clear()
    assert browser.spectrum is browser.spectrum and progress == []  # kept, not recomputed


def test_plain_ov_circuit(random_model):
    w = cw.OVBrowser(random_model, circuit="ov")
    torch.testing.assert_close(w.spectrum.copying, analysis.copying_scores(random_model, "ov"))
    assert w.spectrum.circuit == "ov"
    w.circuit = "full"
    np.testing.assert_array_equal(from_wire(encode_trait(w, "copying")), analysis.copying_scores(random_model).numpy())


# ---- token maps --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, function",
    [("ov", analysis.ov_token_map), ("ov_sources", analysis.ov_sources_for), ("qk", analysis.qk_token_map)],
)
def test_answers_are_what_analysis_returns(browser, random_model, mode, function):
    message, buffers = query(browser, mode=mode, layer=1, head=2, k=7, tokens=[" Mary", 42])
    content = message["response"]
    assert message["ok"] and content["mode"] == mode and (content["layer"], content["head"]) == (1, 2)
    expected = function(random_model, 1, 2, [" Mary", 42], k=7)
    ids, values = decode_answer(message, buffers)
    np.testing.assert_array_equal(ids, expected.top_ids.numpy())
    np.testing.assert_array_equal(values, expected.top_values.numpy())
    assert content["given"] == expected.given.tolist() and content["given_strs"] == expected.given_strs
    assert content["top_strs"] == expected.top_strs and content["k"] == 7
    json.dumps(content)  # the rest is plain JSON


def test_defaults_and_python_api_agree_with_analysis(browser, random_model):
    browser.select(1, 1)
    ids = [e.id for e in browser.defaults.tokens]
    shown = browser.token_map("ov")
    expected = analysis.ov_token_map(random_model, 1, 1, ids, k=10)
    assert torch.equal(shown.top_ids, expected.top_ids) and shown.top_strs == expected.top_strs
    browser.token = 7
    assert browser.token_map("ov_sources").given.tolist()[0] == 7  # the selected token first


def test_bad_tokens_get_a_message_not_a_traceback(browser, random_model):
    content, _ = query(browser, mode="ov", layer=0, head=0, k=5, tokens=["The quick brown fox"])
    assert not content["ok"] and content["detail"]["entry"] == "The quick brown fox"
    assert "not a single token" in content["error"]
    a = cw.ModelAdapter(random_model)
    pieces = a.to_tokens("The quick brown fox")[0, 1:].tolist()
    assert [p["id"] for p in content["detail"]["pieces"]] == pieces and len(pieces) > 1
    cases = [
        (dict(tokens=[300]), r"token id 300 is out of range \[0, 300\)"),
        (dict(tokens=[""]), "the token is empty"),
        (dict(tokens=[1.5]), "a token must be a string or an id, got float"),
        (dict(tokens="Mary"), "tokens must be a list"),
        (dict(tokens=[]), "ask about 1 to 64 tokens"),
        (dict(tokens=[1], head=4), r"head 4 is out of range; this model has heads 0\.\.3"),
        (dict(tokens=[1], k=0), r"k 0 is out of range"),
        (dict(tokens=[1], mode="vo"), r"mode 'vo' is not one of \['ov', 'ov_sources', 'qk'\]"),
    ]
    for change, message in cases:
        question = dict(mode="ov", layer=0, head=0, k=5) | change
        content, buffers = query(browser, **question)
        assert not content["ok"] and not content["stale"] and buffers == []
        assert re.search(message, content["error"]), (change, content["error"])


def test_rows_are_cached_so_a_head_seen_before_costs_nothing(browser, monkeypatch):
    calls = []
    real = _token_queries._ANSWER["ov"]
    monkeypatch.setitem(_token_queries._ANSWER, "ov", lambda *a, **kw: calls.append(a[3].tolist()) or real(*a, **kw))
    first = query(browser, mode="ov", layer=1, head=0, k=5, tokens=[5, 6])
    query(browser, mode="ov", layer=0, head=0, k=5, tokens=[5, 6])
    again = query(browser, mode="ov", layer=1, head=0, k=5, tokens=[6, 5, 9])
    assert calls == [[5, 6], [5, 6], [9]]  # only the new row is computed
    ids_first, _ = decode_answer(*first)
    ids_again, _ = decode_answer(*again)
    np.testing.assert_array_equal(ids_again[:2], ids_first[::-1])


# ---- linking -----------------------------------------------------------------------------------


def test_linked_with_attention_explorer_through_the_selection(random_model):
    sel = cw.Selection()
    ov = cw.OVBrowser(random_model, selection=sel, layer=1, head=2)
    ae = cw.AttentionExplorer(random_model, TEXT, selection=sel)
    assert (ae.layer, ae.head) == (1, 2)
    ae.head = 3
    assert (ov.layer, ov.head) == (1, 3)
    ov.select(0, 1)
    assert (ae.layer, ae.head, sel.layer, sel.head) == (0, 1, 0, 1)
    sel.token = 12
    assert ov.token == 12
    sel.token = 10**6  # a token of a bigger model: ignored here
    assert ov.token == 12


# ---- static export -----------------------------------------------------------------------------


def test_static_state_embeds_every_spectrum_and_the_default_answers(browser, random_model):
    browser.select(1, 3)
    state = static_state(browser)
    np.testing.assert_array_equal(from_wire(state["copying"]), analysis.copying_scores(random_model).numpy())
    answers = state["_answers"]
    assert [(a["mode"], a["layer"], a["head"]) for a in answers] == [(m, 1, 3) for m in ("ov", "ov_sources", "qk")]
    ov = answers[0]
    expected = analysis.ov_token_map(random_model, 1, 3, [e.id for e in browser.defaults.tokens], k=10)
    np.testing.assert_array_equal(from_wire(ov["top_ids"]), expected.top_ids.numpy())
    assert len(static_state(browser, {"token_maps": "all"})["_answers"]) == 3 * browser.n_layers * browser.n_heads
    assert static_state(browser, {"token_maps": "none"})["_answers"] == []


def test_save_html_writes_the_spectra_without_a_kernel(browser, tmp_path):
    page = browser.save_html(tmp_path / "ov.html").read_text(encoding="utf-8")
    (state,) = re.findall(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', page, flags=re.S)
    entry = json.loads(state)["state"][browser.model_id]
    paths = {tuple(b["path"]) for b in entry["buffers"]}
    assert ("eigenvalues", "buffer") in paths and ("_answers", 0, "top_ids", "buffer") in paths
    assert entry["state"]["_static"] is True


# ---- the pocket model ----------------------------------------------------------------------------


def test_pocket_induction_head_is_shown_as_copying():
    from circuitwidgets.pocket import WEIGHTS_DIR

    card = json.loads((WEIGHTS_DIR / "attn-only-2l" / "measurements.json").read_text())
    measured, threshold = card["checks"], card["recipe"]["thresholds"]["copying"]
    layer, head = measured["induction_head"]
    w = cw.OVBrowser(cw.load_pocket_model("attn-only-2l"))
    shown = float(from_wire(static_state(w)["copying"])[layer, head])
    assert (layer, head) == (1, 3)
    assert shown >= threshold  # the card's bar for a copying head (0.7)
    assert shown == pytest.approx(measured["copying_full_ov"][layer][head], abs=1e-3)  # the card's value
