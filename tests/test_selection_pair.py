"""A pair of heads in the shared selection (issue 21): ``Selection.pair`` holds both heads of
an edge or a two-head path; setting it selects the reading head, selecting another head clears
it; every view that shows pairs mirrors it (checked against its own model), a view whose model
lacks the pair shows none while the others keep it; an export carries the writer's pattern.
The browser side (kit/selection.ts applies the same rule) is in js/tests/selection.test.ts and
tests/browser/test_composition_graph.py."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
import traitlets

import circuitwidgets as cw
from circuitwidgets.checks import check_pair

from conftest import make_random_model, model_kinds


@pytest.fixture(scope="module")
def pocket():
    return cw.load_pocket_model("attn-only-2l")  # 2 layers x 4 heads


def test_setting_a_pair_selects_its_reader_and_another_head_clears_it():
    sel = cw.Selection()
    seen = []
    sel.observe(lambda change: seen.append((change["name"], change["new"])), names=["layer", "head", "pair"])
    sel.pair = (0, 1, 1, 3)  # a tuple is kept as a list
    assert (sel.pair, sel.layer, sel.head) == ([0, 1, 1, 3], 1, 3)
    assert ("layer", 1) in seen and ("head", 3) in seen  # never the new layer with the old head
    assert ("layer", 1) not in [(n, v) for n, v in seen if n == "head"]
    sel.layer = 1  # the reader again: nothing changes
    assert sel.pair == [0, 1, 1, 3]
    sel.head = 2
    assert (sel.pair, sel.layer, sel.head) == ([], 1, 2)
    sel.pair = [0, 0, 1, 2]  # its reader is already selected
    assert sel.pair == [0, 0, 1, 2]
    sel.pair = []
    assert (sel.layer, sel.head) == (1, 2)
    assert "pair=[]" in repr(sel)


@pytest.mark.parametrize("value, message", [
    ([0, 1, 1], r"pair \[0, 1, 1\] must be \[\] or \[writer layer, writer head, reader layer, reader head\]"),
    ([1, 0, 0, 1], r"pair \[1, 0, 0, 1\]: the writing head's layer 1 must be before the reading head's 0"),
    ([1, 0, 1, 1], r"must be before the reading head's 1"),
    ([0, -1, 1, 0], r"pair \[0, -1, 1, 0\]: writer head -1 is out of range; it must be at least 0"),
    ([0, 0.5, 1, 0], r"writer head must be an int, got float 0.5"),
    ([0, True, 1, 0], r"writer head must be an int, got bool"),
    ("L0H1", r"pair 'L0H1' must be \[\]"),
    (None, r"pair None must be \[\]"),
])
def test_a_bad_pair_is_refused_naming_it_and_nothing_changes(value, message):
    sel = cw.Selection(layer=1, head=3, pair=[0, 1, 1, 3])
    with pytest.raises(traitlets.TraitError, match=message):
        sel.pair = value
    assert (sel.pair, sel.layer, sel.head) == ([0, 1, 1, 3], 1, 3)


def test_check_pair_bounds_by_the_model():
    assert check_pair([0, 3, 1, 0], n_layers=2, n_heads=4) == [0, 3, 1, 0]
    with pytest.raises(ValueError, match=r"reader layer 2 is out of range; it must be in \[0, 1\]"):
        check_pair([0, 0, 2, 0], n_layers=2, n_heads=4)
    assert check_pair([0, 0, 2, 0]) == [0, 0, 2, 0]  # a selection knows no model


def test_every_linked_view_sees_the_pair_in_python(pocket):
    sel = cw.Selection()
    graph = cw.CompositionGraph(pocket, selection=sel)
    attention = cw.AttentionExplorer(pocket, "a b c d a b c d", selection=sel)
    paths = cw.PathExplorer(pocket, "a b c d a b c d", selection=sel)
    scores = cw.InductionScores(pocket, selection=sel, half=8, batch=1)
    graph.select_pair(0, 1, 1, 3)  # a click on the edge
    assert sel.pair == attention.pair == paths.pair == [0, 1, 1, 3]
    assert [(v.layer, v.head) for v in (attention, paths, scores)] == [(1, 3)] * 3
    attention.pair = [0, 2, 1, 1]  # any view sets it, checked against its model
    assert sel.pair == graph.pair == paths.pair == [0, 2, 1, 1] and (scores.layer, scores.head) == (1, 1)
    with pytest.raises(traitlets.TraitError, match=r"pair \[0, 4, 1, 1\]: writer head 4 is out of range; it must be in \[0, 3\]"):
        attention.pair = [0, 4, 1, 1]
    assert sel.pair == [0, 2, 1, 1]
    scores.select(0, 0)  # a single head, in any view: the pair is gone everywhere
    assert sel.pair == graph.pair == attention.pair == paths.pair == []


def test_a_view_whose_model_lacks_the_pair_shows_none_and_the_others_keep_it(pocket, tiny_tokenizer):
    small = cw.CompositionGraph(make_random_model(model_kinds()[0], tiny_tokenizer, n_heads=2, d_head=32))
    sel = cw.Selection()
    big = cw.AttentionExplorer(pocket, "a b c a b c", selection=sel)
    sel.pair = [0, 9, 1, 9]  # no model here has head 9: the views ignore it, the selection keeps it
    assert big.pair == [] and sel.pair == [0, 9, 1, 9]
    sel.pair = [0, 1, 1, 1]
    cw.link(big, small)  # both heads exist in both models: small adopts the shared pair
    assert small.pair == [0, 1, 1, 1] and small.selection is sel
    big.pair = [0, 1, 1, 3]  # head 3 only the pocket model has: small shows none ...
    assert small.pair == [] and (small.layer, small.head) == (1, 1)
    assert sel.pair == big.pair == [0, 1, 1, 3]  # ... and leaves the pair to the views that can show it
    big.pair = [0, 1, 1, 1]
    assert small.pair == [0, 1, 1, 1]  # a pair it has again


def test_the_constructor_takes_a_pair_and_refuses_a_bad_one(pocket):
    graph = cw.CompositionGraph(pocket, pair=(0, 2, 1, 1))
    assert graph.pair == graph.selection.pair == [0, 2, 1, 1] and (graph.layer, graph.head) == (1, 1)
    with pytest.raises(ValueError, match=r"must be before"):
        cw.CompositionGraph(pocket, pair=[1, 1, 1, 1])


def test_an_export_carries_both_heads_patterns(pocket, tmp_path):
    w = cw.AttentionExplorer(pocket, "a b c d a b c d")
    w.pair = [0, 1, 1, 3]
    path = w.save_html(tmp_path / "pair.html", heads="selected")
    page = path.read_text(encoding="utf-8")
    (state,) = re.findall(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', page, re.S)
    states = json.loads(state)["state"]
    mine = states[w.model_id]
    bank = mine["state"]["_bank"]
    assert bank["heads"] == [[1, 3], [0, 1]]  # the reader, then the writer
    (buf,) = [b for b in mine["buffers"] if b["path"][:2] == ["_bank", "patterns"]]
    patterns = np.frombuffer(base64.b64decode(buf["data"]), "<f2").reshape(bank["patterns"]["shape"])
    np.testing.assert_array_equal(patterns[1], w.store.pattern(0, 1).numpy())
    assert states[w.selection.model_id]["state"]["pair"] == [0, 1, 1, 3]  # the pair travels too
