"""AttentionExplorer and the shared Selection, in Python: traits, linking, what is sent to the
browser (thumbnails, quantization bounds, patterns on demand) and the static export's data."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
import torch
import traitlets

import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.widgets._attention_store import (
    HALF_ABSOLUTE_ERROR,
    HALF_RELATIVE_ERROR,
    THUMBNAIL_SIZE,
    AttentionStore,
    thumbnail,
)
from circuitwidgets.widgets._transport import encode_trait, UNIT_MAX_ERROR, from_wire
from circuitwidgets.widgets.attention_explorer import AUTO_EXPORT_BYTES
from view_requests import ask

TEXT = "When Mary and John went to the store, John gave a drink to Mary."
LONG = "def add(a, b):\n    return a + b\n" * 2  # more tokens than THUMBNAIL_SIZE, fewer than n_ctx


@pytest.fixture
def explorer(random_model):
    return cw.AttentionExplorer(random_model, TEXT)


# ---- thumbnails and quantization ---------------------------------------------------------------


@pytest.mark.parametrize("seq, size", [(41, 40), (97, 40), (64, 7), (100, 1)])
def test_thumbnail_is_the_block_maximum(seq, size):
    torch.manual_seed(seq)
    p = torch.rand(3, seq, seq)
    t = thumbnail(p, size)
    assert t.shape == (3, size, size)
    for i in range(size):
        r0, r1 = (i * seq) // size, -(-((i + 1) * seq) // size)
        for j in range(size):
            c0, c1 = (j * seq) // size, -(-((j + 1) * seq) // size)
            torch.testing.assert_close(t[:, i, j], p[:, r0:r1, c0:c1].amax(dim=(-1, -2)))
    # every cell of the pattern is covered by some block whose maximum bounds it
    rows = (torch.arange(seq) * size) // seq
    assert torch.all(t[:, rows][:, :, rows] >= p)


def test_short_patterns_are_their_own_thumbnail():
    p = torch.rand(2, 5, 5)
    assert torch.equal(thumbnail(p, THUMBNAIL_SIZE), p)
    with pytest.raises(ValueError, match="at least 1"):
        thumbnail(p, 0)


def test_store_sends_patterns_within_the_float16_bound(random_model):
    """The store keeps no pattern: what it sends (float16) is within float16's bound of the
    model's own hook_pattern, and its thumbnails and summaries are those of the full patterns."""
    exact = analysis.attention_patterns(random_model, LONG)
    store = AttentionStore.build(cw.ModelAdapter(random_model), LONG)
    assert store.reason == "" and store.patterns._kept is None
    x = exact.patterns.double()
    sent = torch.stack([torch.stack([store.pattern(l, h) for h in range(x.shape[1])]) for l in range(x.shape[0])])
    assert sent.dtype == torch.float16
    bound = torch.clamp(x * HALF_RELATIVE_ERROR, min=HALF_ABSOLUTE_ERROR) + 1e-7  # + the rebuild's float32 error
    assert torch.all((sent.double() - x).abs() <= bound)
    torch.testing.assert_close(store.thumbnails, thumbnail(exact.patterns))
    torch.testing.assert_close(store.entropy, exact.entropy)
    torch.testing.assert_close(store.bos_share, exact.bos_share)
    assert store.thumbnails.shape[-1] == THUMBNAIL_SIZE < store.seq_len


def test_thumbnails_sent_as_uint8_within_half_a_step(random_model):
    w = cw.AttentionExplorer(random_model, LONG)
    wire = encode_trait(w, "thumbnails")
    assert wire["dtype"] == "uint8"
    assert wire["shape"] == [w.n_layers, w.n_heads, THUMBNAIL_SIZE, THUMBNAIL_SIZE]
    err = np.abs(from_wire(wire) - w.store.thumbnails.numpy())
    assert err.max() <= UNIT_MAX_ERROR + 1e-7


def test_bytes_sent_scale_with_the_screen(random_model):
    """Up front the browser gets thumbnails, scores and ONE full pattern, whatever the length."""
    w = cw.AttentionExplorer(random_model, LONG)
    seq = w.store.seq_len
    bank = encode_trait(w, "_bank")
    assert bank["heads"] == [[0, 0]]
    assert bank["patterns"]["shape"] == [1, seq, seq] and bank["patterns"]["dtype"] == "float16"
    # heads x 40² bytes + one seq² float16 pattern: never heads x seq²
    assert encode_trait(w, "thumbnails")["buffer"].nbytes == w.n_layers * w.n_heads * THUMBNAIL_SIZE**2
    assert bank["patterns"]["buffer"].nbytes == 2 * seq * seq


# ---- traits and the shared selection --------------------------------------------------------------


def test_layer_and_head_are_validated_with_the_model_range(explorer):
    with pytest.raises(traitlets.TraitError, match=r"head 4 is out of range; this model has heads 0..3"):
        explorer.head = 4
    with pytest.raises(traitlets.TraitError, match=r"layer 2 is out of range; this model has layers 0..1"):
        explorer.layer = 2
    seq = explorer.store.seq_len
    with pytest.raises(traitlets.TraitError, match=rf"query {seq} is out of range; this text has {seq} tokens"):
        explorer.query = seq
    assert (explorer.layer, explorer.head, explorer.query) == (0, 0, None)


def test_view_and_selection_follow_each_other(explorer):
    seen = []
    explorer.observe(lambda c: seen.append(c["new"]), "head")
    explorer.head = 2
    assert explorer.selection.head == 2
    explorer.selection.head = 3  # as a click in the browser would
    assert explorer.head == 3 and seen == [2, 3]
    explorer.selection.head = 9  # a head this model does not have: ignored here
    assert explorer.head == 3
    explorer.query = 4
    assert explorer.selection.query == 4
    explorer.select(1, 2)
    assert (explorer.selection.layer, explorer.selection.head) == (1, 2)
    with pytest.raises(ValueError, match="layer 5 is out of range"):
        explorer.select(5, 0)


def test_two_views_share_one_selection(random_model):
    sel = cw.Selection()
    a = cw.AttentionExplorer(random_model, TEXT, selection=sel, layer=1, head=2)
    b = cw.AttentionExplorer(random_model, "John gave a drink", selection=sel)
    assert (b.layer, b.head) == (1, 2)  # adopts what the selection holds
    b.head = 0
    assert a.head == 0 and sel.head == 0
    last = a.store.seq_len - 1
    assert b.store.seq_len <= last
    a.query = last  # beyond b's text: b keeps no query rather than an invalid one
    assert b.query is None and a.query == last


def test_replacing_the_selection_relinks(random_model, explorer):
    other = cw.Selection(layer=1, head=1)
    old = explorer.selection
    explorer.selection = other
    assert (explorer.layer, explorer.head) == (1, 1)
    explorer.head = 3
    assert other.head == 3 and old.head != 3
    old.head = 2
    assert explorer.head == 3  # no longer listening to the old one


def test_selection_fields_are_non_negative():
    with pytest.raises(traitlets.TraitError):
        cw.Selection(layer=-1)
    assert "lens_layer=None" in repr(cw.Selection())


# ---- text ------------------------------------------------------------------------------------------


def test_new_text_reruns_and_bad_text_keeps_the_view(explorer):
    run = explorer.run_id
    explorer.query = 12
    explorer.text = "John gave"
    assert explorer.tokens == explorer.store.str_tokens and explorer.run_id == run + 1
    assert explorer.query is None  # past the end of the shorter text
    tokens = explorer.tokens
    explorer.text = "x " * 80  # longer than n_ctx 64
    assert "context is 64 tokens" in explorer.error
    assert explorer.tokens == tokens and explorer.text == "x " * 80 and explorer.busy == ""
    explorer.text = "John gave"
    assert explorer.error == ""


def test_constructor_rejects_bad_text(random_model):
    with pytest.raises(ValueError, match="text is empty"):
        cw.AttentionExplorer(random_model, "")


# ---- patterns on demand -------------------------------------------------------------------------------


def test_browser_asks_for_a_head_and_gets_its_float16_pattern(explorer):
    reply = ask(explorer, "pattern", {"layer": 1, "head": 3, "run": explorer.run_id})
    content = reply["response"]
    assert reply["ok"] and (content["layer"], content["head"]) == (1, 3)
    got = from_wire(content["pattern"])
    np.testing.assert_array_equal(got, explorer.store.pattern(1, 3).numpy())
    # a request about an older text is dropped; a bad head is answered with the reason
    assert ask(explorer, "pattern", {"layer": 1, "head": 3, "run": -1})["stale"]
    refused = ask(explorer, "pattern", {"layer": 1, "head": 9, "run": explorer.run_id})
    assert not refused["ok"] and not refused["stale"] and "head 9 is out of range" in refused["error"]
    torch.testing.assert_close(explorer.pattern(1, 3), explorer.store.pattern(1, 3).float())


# ---- static export ---------------------------------------------------------------------------------------


def _exported_state(path, widget):
    page = path.read_text(encoding="utf-8")
    (state,) = re.findall(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', page, re.S)
    return json.loads(state)["state"]


@pytest.mark.parametrize("heads, expected", [
    ("selected", [[1, 2]]),
    ("all", [[l, h] for l in range(2) for h in range(4)]),
    ("auto", [[l, h] for l in range(2) for h in range(4)]),  # tiny: under AUTO_EXPORT_BYTES
    ([(0, 3)], [[1, 2], [0, 3]]),
])
def test_export_embeds_the_chosen_full_patterns(explorer, tmp_path, heads, expected):
    explorer.select(1, 2)
    path = explorer.save_html(tmp_path / "a.html", heads=heads)
    states = _exported_state(path, explorer)
    mine = states[explorer.model_id]
    bank = mine["state"]["_bank"]
    assert bank["heads"] == expected and bank["run"] == explorer.run_id
    (buf,) = [b for b in mine["buffers"] if b["path"][:2] == ["_bank", "patterns"]]
    patterns = np.frombuffer(base64.b64decode(buf["data"]), "<f2").reshape(bank["patterns"]["shape"])
    for i, (l, h) in enumerate(expected):
        np.testing.assert_array_equal(patterns[i], explorer.store.pattern(l, h).numpy())
    assert encode_trait(explorer, "_bank")["heads"] == [[0, 0]]  # the live widget is untouched
    assert mine["state"]["selection"] == f"IPY_MODEL_{explorer.selection.model_id}"
    assert states[explorer.selection.model_id]["state"]["head"] == 2  # the selection travels too


def test_auto_export_falls_back_to_the_selected_head_when_large(explorer, monkeypatch):
    monkeypatch.setattr("circuitwidgets.widgets.attention_explorer.AUTO_EXPORT_BYTES", 10)
    assert explorer._heads_to_export("auto") == [(0, 0)]
    assert AUTO_EXPORT_BYTES >= 2**20
    with pytest.raises(ValueError, match="'auto', 'selected', 'all'"):
        explorer._heads_to_export("some")
    with pytest.raises(ValueError, match="head 7 is out of range"):
        explorer._heads_to_export([(0, 7)])


def test_export_holds_only_the_views_and_what_they_reference(random_model, tmp_path, explorer):
    other = cw.TokenView(random_model, "unrelated")  # alive in the kernel, not exported
    states = _exported_state(explorer.save_html(tmp_path / "b.html"), explorer)
    assert other.model_id not in states
    assert set(states) >= {explorer.model_id, explorer.selection.model_id}
