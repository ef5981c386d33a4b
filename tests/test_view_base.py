"""What every view shares through its base class (``widgets/_base.py``): the constructor
preamble (unknown keywords, the model, a model without weights), the busy line, read-only
traits; and the smaller robustness points of issue #17 (point 7) that live there."""

from __future__ import annotations

import copy

import pytest
import torch
import traitlets

import circuitwidgets as cw
from circuitwidgets.widgets._transport import encode_trait

TEXT = "When Mary and John went to the store, John gave a drink to Mary."


@pytest.fixture(scope="module")
def dash(plain_model):
    return cw.CircuitExplorer(plain_model, TEXT)


# ---- the constructor preamble -----------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda m: cw.TokenView(m, TEXT, haed=3),
        lambda m: cw.AttentionExplorer(m, TEXT, haed=3),
        lambda m: cw.OVBrowser(m, haed=3),
        lambda m: cw.LogitLens(m, TEXT, haed=3),
        lambda m: cw.InductionScores(m, haed=3),
        lambda m: cw.CircuitExplorer(m, TEXT, haed=3),
    ],
)
def test_a_misspelt_keyword_raises_naming_the_valid_ones(plain_model, make):
    with pytest.raises(TypeError, match=r"got an unexpected keyword argument 'haed'.*keyword arguments are .*layout"):
        make(plain_model)


def test_a_misspelt_keyword_suggests_the_close_one(plain_model):
    with pytest.raises(TypeError, match=r"'haed' \(did you mean 'head'\?\)"):
        cw.AttentionExplorer(plain_model, TEXT, haed=3)


def test_token_view_refuses_a_selection_clearly(plain_model):
    """TokenView shows no layer, head or position: a selection would be silently ignored, so
    it is refused, saying why (issue #23, point 7)."""
    with pytest.raises(TypeError, match=r"'selection' \(TokenView follows no Selection: it shows no layer, head or position to share\); its keyword arguments are model, text, tokens, tokenizer, layout"):
        cw.TokenView(plain_model, TEXT, selection=cw.Selection())


def test_ipywidgets_keywords_still_pass(plain_model):
    w = cw.TokenView(plain_model, TEXT, layout={"width": "400px"})
    assert w.layout.width == "400px"


def test_a_model_without_weights_says_what_to_do(plain_model):
    on_meta = copy.deepcopy(plain_model).to("meta")
    with pytest.raises(ValueError, match=r"is on the 'meta' device: its weights were never loaded.*Load real weights"):
        cw.TokenView(on_meta, TEXT)
    with pytest.raises(ValueError, match="'meta' device"):
        cw.OVBrowser(on_meta)


# ---- read-only traits and the busy line ---------------------------------------------------------


def test_read_only_traits_refuse_outside_assignment_but_the_view_updates_them(plain_model):
    w = cw.TokenView(plain_model, TEXT)
    with pytest.raises(traitlets.TraitError, match=r"probs is read-only: TokenView sets it .*refused 5.*you can set are text"):
        w.probs = 5
    before = list(w.tokens)
    w.text = "a b c a b c"  # the view itself still redraws them
    assert w.tokens != before and w.probs.shape == (len(w.tokens),) and w.error == ""


def test_busy_line_is_cleared_however_the_work_ends(plain_model):
    w = cw.AttentionExplorer(plain_model, TEXT)
    seen = []
    w.observe(lambda change: seen.append(change["new"]), names="busy")
    w.text = ""  # refused inline
    assert w.busy == "" and seen[0].startswith("Running the model") and seen[-1] == ""
    with pytest.raises(RuntimeError):
        with w._busy("working"):
            raise RuntimeError("boom")
    assert w.busy == ""


def test_traits_hold_numbers_and_the_wire_holds_bytes(plain_model):
    """#16.4: a Python user reads tensors; the browser gets the same wire dict as before."""
    ov = cw.OVBrowser(plain_model)
    ov.spectrum
    assert isinstance(ov.copying, torch.Tensor) and ov.copying.shape == (ov.n_layers, ov.n_heads)
    wire = encode_trait(ov, "copying")
    assert wire["dtype"] == "float32" and wire["shape"] == [ov.n_layers, ov.n_heads]
    assert bytes(wire["buffer"]) == ov.copying.numpy().astype("<f4").tobytes()
    att = cw.AttentionExplorer(plain_model, TEXT)
    assert att.thumbnails.dtype == torch.float32 and encode_trait(att, "thumbnails")["dtype"] == "uint8"
    assert [s.key for s in att.head_scores][:2] == ["entropy", "bos_share"]
    assert torch.equal(att._bank.patterns[0], att.store.pattern(att.layer, att.head))


# ---- issue #17, point 7 ------------------------------------------------------------------------


def test_dashboard_refuses_nothing_selected_and_stays_in_step(dash):
    before = (dash.layer, dash.head)
    for name in ("layer", "head", "lens_layer", "position"):
        with pytest.raises(traitlets.TraitError, match=rf"The '{name}' trait of a CircuitExplorer instance expected an int, not the NoneType None"):
            setattr(dash, name, None)
    assert (dash.layer, dash.head) == before == (dash.selection.layer, dash.selection.head)
    assert all((v.layer, v.head) == before for v in dash.views.values())
    assert dash.selection.lens_layer == dash.lens.lens_layer == dash.lens_layer


def test_a_refused_text_leaves_the_ov_panel_s_default_tokens(dash):
    defaults, tokens = dash.ov.defaults, list(dash.attention.tokens)
    dash.text = "word " * 100  # past the 64-token context
    assert "context is 64 tokens" in dash.error
    assert dash.ov.defaults == defaults and dash.ov.text == TEXT
    assert dash.attention.tokens == tokens and dash.lens.tokens == tokens
    dash.text = TEXT
    assert dash.error == ""


def test_token_map_of_a_float_names_what_it_takes(plain_model):
    ov = cw.OVBrowser(plain_model)
    with pytest.raises(TypeError, match=r"tokens must be a token \(a string that is one token, or an id\) or a list of them, got float 1.5"):
        ov.token_map("ov", 1.5)
    assert ov.token_map("ov", torch.tensor([5, 6])).given.tolist() == [5, 6]


def test_collapsed_takes_one_name_or_a_list_alike_in_constructor_and_trait(plain_model, dash):
    one = cw.CircuitExplorer(plain_model, TEXT, collapsed="ov")
    assert one.collapsed == ["ov"]
    dash.collapsed = "ov"
    assert dash.collapsed == ["ov"]
    for bad in (["o", "v"], "o"):
        with pytest.raises(traitlets.TraitError, match=r"collapsed names unknown panels \['o'"):
            dash.collapsed = bad
        with pytest.raises(traitlets.TraitError, match=r"collapsed names unknown panels \['o'"):
            cw.CircuitExplorer(plain_model, TEXT, collapsed=bad)
    assert dash.collapsed == ["ov"]
    dash.collapsed = []
