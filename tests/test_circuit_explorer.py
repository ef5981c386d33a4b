"""CircuitExplorer and link(): the Python side (the browser side: tests/browser/test_circuit_explorer.py)."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
import torch
import traitlets

import circuitwidgets as cw
from circuitwidgets.widgets import export_sizes
from circuitwidgets.widgets.circuit_explorer import DEFAULT_TEXT, PANELS
from circuitwidgets.widgets.selection import SELECTION_FIELDS

TEXT = "When Mary and John went to the store, John gave a drink to Mary"
OTHER = "The store gave John a drink"


@pytest.fixture(scope="module")
def pocket():
    return cw.load_pocket_model("attn-only-2l")


@pytest.fixture
def dash(random_model):
    return cw.CircuitExplorer(random_model, TEXT)


def fields(view) -> dict:
    return {name: getattr(view, name) for name in view._linked}


def test_the_four_views_share_one_selection(dash):
    assert list(dash.views) == list(PANELS)
    assert isinstance(dash.attention, cw.AttentionExplorer) and isinstance(dash.ov, cw.OVBrowser)
    assert isinstance(dash.lens, cw.LogitLens) and isinstance(dash.induction, cw.InductionScores)
    for view in dash.views.values():
        assert view.selection is dash.selection
    # The dashboard mirrors every field of the selection.
    assert {name: getattr(dash, name) for name in SELECTION_FIELDS} == {
        name: getattr(dash.selection, name) for name in SELECTION_FIELDS
    }
    assert dash.text == TEXT and all(v.text == TEXT for v in (dash.attention, dash.lens, dash.ov))


def test_pocket_dashboard_opens_on_the_induction_head_with_the_default_text(pocket):
    w = cw.CircuitExplorer(pocket)
    assert w.text == DEFAULT_TEXT
    # InductionScores picks the best induction head on an empty selection: L1.3 on the pocket
    # model (MODEL_CARD.md), and the other views show it too.
    assert (w.layer, w.head) == (1, 3)
    assert all((v.layer, v.head) == (1, 3) for v in w.views.values())
    assert w.lens_layer == pocket.cfg.n_layers and w.position == w.attention.store.seq_len - 1


def test_setting_a_field_moves_all_four(dash):
    dash.head = 2
    assert [v.head for v in dash.views.values()] == [2, 2, 2, 2] and dash.selection.head == 2
    dash.select(1, 3)
    assert [(v.layer, v.head) for v in dash.views.values()] == [(1, 3)] * 4
    dash.attention.head = 0  # a view's own change moves the dashboard and the others
    assert dash.head == 0 and dash.ov.head == 0 and dash.lens.head == 0
    dash.query = 4
    assert dash.attention.query == 4
    dash.lens_layer = 1
    assert dash.lens.lens_layer == 1


def test_replacing_the_selection_moves_all_four(dash):
    new = cw.Selection(layer=0, head=1, lens_layer=0)
    dash.selection = new
    for view in dash.views.values():
        assert view.selection is new and (view.layer, view.head) == (0, 1)
    assert dash.lens.lens_layer == 0 and (dash.layer, dash.head) == (0, 1)
    new.head = 3
    assert dash.head == 3 and [v.head for v in dash.views.values()] == [3] * 4


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("head", 4, r"head 4 is out of range"),
        ("layer", -1, r"layer -1"),
        ("query", 99, r"query 99 is out of range; it must be in \[0, \d+\] \(this text has \d+ tokens\)"),
        ("lens_layer", 3, r"lens_layer 3 is out of range; it must be in \[0, 2\]"),
        ("position", "x", r"'position' trait .* expected an int, not the str 'x'"),
        ("collapsed", ["attention", "chart"], r"collapsed names unknown panels \['chart'\]"),
    ],
)
def test_bad_values_name_the_value_and_the_range(dash, name, value, message):
    before = getattr(dash, name)
    with pytest.raises(traitlets.TraitError, match=message):
        setattr(dash, name, value)
    assert getattr(dash, name) == before


def test_the_views_cannot_be_swapped_out(dash, random_model):
    with pytest.raises(traitlets.TraitError, match="attention is one of the dashboard's own views"):
        dash.attention = cw.AttentionExplorer(random_model, OTHER)


def test_text_reruns_the_views_that_take_one(dash):
    dash.text = OTHER
    assert dash.error == ""
    assert dash.attention.text == OTHER and dash.lens.text == OTHER and dash.ov.text == OTHER
    assert dash.attention.tokens == dash.lens.tokens and len(dash.attention.tokens) == dash.attention.store.seq_len
    assert dash.ov.defaults.kind == "text"
    assert dash.induction.mode == "random" and dash.induction.text == OTHER  # kept for its text mode


def test_bad_text_shows_inline_and_keeps_the_last_good_views(dash):
    tokens = list(dash.attention.tokens)
    too_long = "x " * 80  # n_ctx is 64
    dash.text = too_long
    assert "context" in dash.error and "64" in dash.error
    assert dash.text == too_long  # what the user typed is kept
    assert dash.attention.tokens == tokens and dash.lens.tokens == tokens  # the last good views
    dash.text = TEXT
    assert dash.error == ""


def test_typing_in_a_view_moves_the_dashboard_text(dash):
    dash.attention.text = OTHER
    assert dash.text == OTHER and dash.lens.text == OTHER


def test_constructor_errors(random_model):
    with pytest.raises(ValueError, match="empty"):
        cw.CircuitExplorer(random_model, "")
    with pytest.raises(TypeError, match="text must be a str, got int"):
        cw.CircuitExplorer(random_model, 3)
    with pytest.raises(traitlets.TraitError, match="unknown panels"):
        cw.CircuitExplorer(random_model, TEXT, collapsed=["nope"])


# ---- link() ---------------------------------------------------------------------------------------


def test_link_shares_the_first_views_selection(random_model):
    a = cw.AttentionExplorer(random_model, TEXT, layer=1, head=2)
    b = cw.InductionScores(random_model)
    c = cw.OVBrowser(random_model)
    sel = cw.link(a, b, c)
    assert sel is a.selection and b.selection is sel and c.selection is sel
    assert (b.layer, b.head) == (1, 2) and (c.layer, c.head) == (1, 2)  # they adopt a's head
    b.head = 0
    assert a.head == 0 and c.head == 0


def test_link_to_a_given_selection_and_relink(random_model):
    a = cw.AttentionExplorer(random_model, TEXT)
    lens = cw.LogitLens(random_model, TEXT)
    shared = cw.Selection(layer=1, head=3)
    assert cw.link(a, lens, selection=shared) is shared
    assert (a.layer, a.head) == (1, 3) and (lens.layer, lens.head) == (1, 3)
    other = cw.link(a)  # a alone on its own (current) selection: still the shared one
    assert other is shared


def test_link_composes_with_a_dashboard(random_model):
    dash = cw.CircuitExplorer(random_model, TEXT)
    extra = cw.AttentionExplorer(random_model, OTHER)
    cw.link(dash, extra)
    assert extra.selection is dash.selection
    extra.select(0, 2)
    assert [(v.layer, v.head) for v in dash.views.values()] == [(0, 2)] * 4


def test_link_rejects_what_is_not_a_view(random_model):
    a = cw.AttentionExplorer(random_model, TEXT)
    with pytest.raises(TypeError, match=r"argument 1 is Selection"):
        cw.link(a, cw.Selection())
    with pytest.raises(TypeError, match=r"argument 0 is str"):
        cw.link("a view")
    with pytest.raises(TypeError, match="at least one view"):
        cw.link()
    with pytest.raises(TypeError, match="selection must be a circuitwidgets.Selection, got dict"):
        cw.link(a, selection={"head": 1})


# ---- static export ---------------------------------------------------------------------------------


def _state(path):
    page = path.read_text(encoding="utf-8")
    (raw,) = re.findall(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', page, re.S)
    return json.loads(raw)["state"]


def _bank_heads(entry):
    return entry["state"]["_bank"]["heads"]


def test_export_holds_every_view_marked_static(dash, tmp_path):
    dash.select(1, 2)
    path = dash.save_html(tmp_path / "dash.html")
    assert path == tmp_path / "dash.html"
    state = _state(path)
    for view in [dash, *dash.views.values()]:
        assert state[view.model_id]["state"]["_static"] is True
    assert state[dash.model_id]["state"]["attention"] == f"IPY_MODEL_{dash.attention.model_id}"
    # The views' static state went in too (the views are referenced, not listed).
    assert state[dash.lens.model_id]["state"]["_attribution"]["position"] == dash.position
    assert state[dash.ov.model_id]["state"]["_answers"]  # token maps of the selected head
    assert dash._static is False and dash.attention._static is False


def test_full_resolution_embeds_every_head(tmp_path, tiny_tokenizer):
    from tests.conftest import make_random_model, model_kinds

    model = make_random_model(model_kinds()[0], tiny_tokenizer, n_ctx=1024)
    text = " ".join("abcdefgh"[i % 8] for i in range(500))  # about 800 tokens
    dash = cw.CircuitExplorer(model, text)
    seq = dash.attention.store.seq_len
    assert 2 * 4 * seq * seq * 2 > cw.widgets.attention_explorer.AUTO_EXPORT_BYTES  # "auto": selected only
    small = dash.save_html(tmp_path / "default.html")
    large = dash.save_html(tmp_path / "full.html", full_resolution=True)
    every = [[l, h] for l in range(2) for h in range(4)]
    assert _bank_heads(_state(small)[dash.attention.model_id]) == [[dash.layer, dash.head]]
    assert _bank_heads(_state(large)[dash.attention.model_id]) == every
    assert sorted(_bank_heads(_state(large)[dash.induction.model_id])) == every
    entry = _state(large)[dash.attention.model_id]
    (buf,) = [b for b in entry["buffers"] if b["path"][0] == "_bank"]
    patterns = np.frombuffer(base64.b64decode(buf["data"]), "<f2").reshape(8, seq, seq)
    expected = torch.stack([dash.attention.store.pattern(l, h) for l, h in every])  # as sent: float16
    np.testing.assert_array_equal(patterns, expected.numpy())
    # Sizes: the full file holds 7 more heads' float16 patterns of the text, in base64 (4/3);
    # InductionScores' sequences are short, so it held every head already.
    a, b = export_sizes(small), export_sizes(large)
    assert a.total == small.stat().st_size and b.total == large.stat().st_size
    assert b.data - a.data == pytest.approx(7 * seq * seq * 2 * 4 / 3, rel=0.01)
    assert a.code == b.code > 0 and a.total - a.code - a.data > 3_000_000  # the widget manager
    with pytest.raises(TypeError, match="full_resolution must be True or False"):
        dash.save_html(tmp_path / "x.html", full_resolution="yes")
    assert not hasattr(dash.attention, "_export_heads")  # options do not leak into later exports


def test_export_sizes_rejects_other_files(tmp_path):
    other = tmp_path / "plain.html"
    other.write_text("<html></html>")
    with pytest.raises(ValueError, match="not a file written by save_html"):
        export_sizes(other)


def test_closing_a_dashboard_closes_what_it_made_and_nothing_else(random_model):
    from ipywidgets.widgets.widget import _instances

    mine = cw.Selection()
    cw.CircuitExplorer(random_model, TEXT).close()  # anything made once per process, made now
    before = set(_instances)
    for _ in range(3):  # a cell re-run three times
        dash = cw.CircuitExplorer(random_model, TEXT)
        dash.close()
    assert set(_instances) == before
    assert all(view.comm is None for view in dash.views.values())
    shared = cw.CircuitExplorer(random_model, TEXT, selection=mine)
    shared.close()
    assert mine.comm is not None and mine.model_id in _instances  # the user's selection stays
    assert set(_instances) == before


# ---- panels= and the optional patching panel ----------------------------------------------------

POCKET_PAIR = ("a b c d a b c", "a b c e a b c")
PATCH_OPTIONS = {"target": " d", "distractor": " e"}


@pytest.fixture(scope="module")
def patching_dash(pocket):
    return cw.CircuitExplorer(
        pocket, POCKET_PAIR[0], panels=[*PANELS, "patching"], corrupted=POCKET_PAIR[1],
        patching_options={**PATCH_OPTIONS, "exact": ["heads"]},
    )


def test_the_default_panels_are_the_four_and_no_patching(dash):
    assert dash.panels == list(PANELS) and dash.patching is None


def test_the_patching_panel_shares_the_selection_and_shows_analysis_numbers(patching_dash, pocket):
    from circuitwidgets import analysis

    w = patching_dash
    assert list(w.views) == [*PANELS, "patching"] and w.panels == list(w.views)
    assert w.patching.selection is w.selection and w.patching.clean == POCKET_PAIR[0]
    want = analysis.patching(pocket, *POCKET_PAIR, "logit_diff", at="heads", **PATCH_OPTIONS)
    np.testing.assert_allclose(w.patching.exact["heads"].numpy(), want.values.numpy(), atol=1e-5)
    w.patching.select(0, 2)  # what a click on a head cell sends
    assert (w.attention.layer, w.attention.head, w.ov.head, w.layer, w.head) == (0, 2, 2, 0, 2)
    w.selection.lens_layer, w.selection.position = 1, 4  # a residual cell's click
    assert (w.lens.lens_layer, w.lens.position, w.patching.position) == (1, 4, 4)
    w.text = "x y z x y z"  # the other panels follow; the patching pair stays
    assert w.attention.text == "x y z x y z" and w.patching.clean == POCKET_PAIR[0] and w.error == ""
    w.text = POCKET_PAIR[0]


def test_a_subset_of_panels_in_any_order(random_model):
    w = cw.CircuitExplorer(random_model, TEXT, panels=["lens", "attention"])
    assert list(w.views) == ["lens", "attention"] and w.ov is None and w.induction is None
    w.text = OTHER
    assert w.lens.text == OTHER and w.error == ""
    w.position = len(w.attention.tokens) - 1
    with pytest.raises(traitlets.TraitError, match="unknown panels"):
        w.collapsed = ["ov"]  # not a panel of this dashboard
    w.close()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(panels=["attention", "chart"]), r"panels names unknown panels \['chart'\]"),
        (dict(panels=[]), "panels is empty"),
        (dict(panels=3), "panels must be a panel name or a list"),
        (dict(panels=[*PANELS, "patching"]), "needs corrupted="),
        (dict(corrupted="a b c e a b c"), "add 'patching' to panels="),
        (dict(panels=["patching"], corrupted="a b c"), "4 tokens"),
    ],
)
def test_bad_panels(pocket, kwargs, message):
    with pytest.raises((ValueError, TypeError)) as caught:
        cw.CircuitExplorer(pocket, POCKET_PAIR[0], **kwargs)
    assert re.search(message, str(caught.value)), str(caught.value)


def test_the_export_holds_the_patching_grids(patching_dash, tmp_path):
    page = patching_dash.save_html(tmp_path / "dash.html").read_text(encoding="utf-8")
    (state_json,) = re.findall(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', page, re.S)
    state = json.loads(state_json)["state"]
    mine = state[patching_dash.patching.model_id]
    assert mine["state"]["_static"] is True
    buffers = {tuple(b["path"]): b for b in mine["buffers"]}
    exact = np.frombuffer(base64.b64decode(buffers[("exact", "heads", "buffer")]["data"]), "<f4")
    np.testing.assert_array_equal(exact, patching_dash.patching.exact["heads"].flatten().numpy())
    assert state[patching_dash.model_id]["state"]["patching"] == f"IPY_MODEL_{patching_dash.patching.model_id}"


def test_the_flow_composition_and_paths_panels_follow_the_dashboard(tmp_path):
    model = cw.load_pocket_model()
    w = cw.CircuitExplorer(model, "def f(x):\n    return x\ndef f(x):", panels=["attention", "flow", "composition", "paths"])
    assert list(w.views) == ["attention", "flow", "composition", "paths"] and w.ov is None
    w.layer, w.head = 1, 2
    assert {(v.layer, v.head) for v in w.views.values()} == {(1, 2)}
    w.composition.select(0, 1)                       # a click in one panel moves the others
    assert (w.attention.layer, w.paths.layer, w.flow.head) == (0, 0, 1)
    new = "a = 1\nb = 2\na = 1"
    w.text = new
    assert (w.attention.text, w.flow.text, w.paths.text) == (new, new, new)
    assert w.flow.result.str_tokens == w.attention.tokens  # the flow graph re-ran on the new text
    w.paths.text = "x = 2\ny = 3\nx = 2"                 # typed into a panel: the dashboard follows
    assert w.text == w.attention.text == "x = 2\ny = 3\nx = 2"
    page = w.save_html(tmp_path / "all.html").read_text()
    for bundle in ("flow_graph", "composition_graph", "path_explorer"):
        assert f"cw-{bundle.replace('_', '-')}" in page or bundle in page
    w.close()
    assert all(v.comm is None for v in w.views.values())
