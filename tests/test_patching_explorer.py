"""PatchingExplorer: the numbers it shows are circuitwidgets.analysis's patching grids (which
tests/test_analysis_patching.py checks against TransformerLens), exact grids computed chunk by
chunk through the request channel as the browser asks for them, bad input refused or shown
inline with the last good grids kept, the shared selection, hostile text and the export."""

from __future__ import annotations

import json
import re

import pytest
import torch
import traitlets

import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.widgets._transport import from_wire
from circuitwidgets.widgets.patching_explorer import CHUNKS

from intervention_models import CLEAN, CORRUPTED, DISTRACTOR, INTERVENTION_KINDS, TARGET, intervention_model
from view_requests import ask

POCKET_CLEAN, POCKET_CORRUPTED = "a b c d a b c", "a b c e a b c"
HOSTILE_CLEAN = 'x </script><script>alert(1)</script> <b>'
HOSTILE_CORRUPTED = 'y </script><script>alert(1)</script> <b>'


@pytest.fixture(scope="module", params=INTERVENTION_KINDS)
def model(request, tiny_tokenizer, tmp_path_factory):
    return intervention_model(request.param, tiny_tokenizer, str(tmp_path_factory.mktemp("llama")))


@pytest.fixture(scope="module")
def pocket():
    return cw.load_pocket_model()


@pytest.fixture()
def view(pocket):
    return cw.PatchingExplorer(pocket, POCKET_CLEAN, POCKET_CORRUPTED, target=" d", distractor=" e")


def _drive_exact(w, grid):
    """Ask for chunks as the browser does until the grid is done; the replies' progress."""
    steps = []
    while True:
        reply = ask(w, "exact", {"grid": grid, "run": w.run_id})
        assert reply["ok"], reply
        steps.append((reply["response"]["done"], reply["response"]["total"]))
        if steps[-1][0] == steps[-1][1]:
            return steps


def test_every_grid_equals_analysis_on_each_model_kind(model):
    w = cw.PatchingExplorer(model, CLEAN, CORRUPTED, target=TARGET, distractor=DISTRACTOR)
    expected = ["resid_pre", "attn_out", "mlp_out", "heads", "heads_by_pos"]
    assert w.grids == expected
    approx = analysis.attribution_patching(model, CLEAN, CORRUPTED, "logit_diff", at=expected, target=TARGET, distractor=DISTRACTOR)
    for grid in w.grids:
        torch.testing.assert_close(w.approx[grid], approx[grid].values.float())
        steps = _drive_exact(w, grid)
        assert len(steps) <= CHUNKS and steps[-1][1] == approx[grid].values.numel()
        assert [done for done, _ in steps] == sorted(done for done, _ in steps)  # progress only grows
        exact = analysis.patching(model, CLEAN, CORRUPTED, "logit_diff", at=grid, target=TARGET, distractor=DISTRACTOR)
        torch.testing.assert_close(w.exact[grid], exact.values, atol=1e-5, rtol=1e-5)
        assert torch.equal(w.values(grid, "exact"), w.exact[grid])
    assert w.target_str == TARGET and w.distractor_str == DISTRACTOR
    assert w.clean_value == pytest.approx(approx["heads"].clean_metric)
    assert w.corrupted_value == pytest.approx(approx["heads"].corrupted_metric)
    assert w.differing == [i for i, (a, b) in enumerate(zip(w.clean_tokens, w.corrupted_tokens)) if a != b]
    assert len(w.differing) == 1 and "John" in w.clean_tokens[w.differing[0]]  # "John" -> "Mary"


@pytest.mark.parametrize("metric", ["prob", "logit", "kl"])
def test_each_named_metric_equals_analysis(pocket, metric):
    w = cw.PatchingExplorer(pocket, POCKET_CLEAN, POCKET_CORRUPTED, target=" d", metric=metric, exact="heads")
    want = analysis.patching(pocket, POCKET_CLEAN, POCKET_CORRUPTED, metric, at="heads", target=" d")
    torch.testing.assert_close(w.exact["heads"], want.values, atol=1e-5, rtol=1e-5)
    assert w.distractor_str == ""


def test_on_the_pocket_model_the_residual_grid_peaks_at_the_name(view):
    assert view.grids == ["resid_pre", "attn_out", "heads", "heads_by_pos"]  # attention-only: no MLP tab
    assert view.differing == [4]
    view.compute_exact("resid_pre")
    layer0 = view.exact["resid_pre"][0]
    assert int(layer0.argmax()) == 4 and view.clean_tokens[4] == " d"
    assert float(layer0[4]) == pytest.approx(1.0, abs=1e-4)  # patching the only differing token restores it all
    assert (view.layer, view.head) == analysis.patching(
        view._adapter, POCKET_CLEAN, POCKET_CORRUPTED, "logit_diff", at="heads", target=" d", distractor=" e"
    ).peak() or (view.layer, view.head) == view.results["heads"].peak()


def test_cancel_keeps_the_cells_done_and_resumes(view):
    first = ask(view, "exact", {"grid": "heads_by_pos", "run": view.run_id})["response"]
    assert 0 < first["done"] < first["total"] and "heads_by_pos" not in view.exact
    # the browser stops asking (Cancel); asking again goes on from the cells done
    second = ask(view, "exact", {"grid": "heads_by_pos", "run": view.run_id})["response"]
    assert second["done"] == 2 * first["done"]
    view.compute_exact("heads_by_pos")
    want = analysis.patching(view._adapter, POCKET_CLEAN, POCKET_CORRUPTED, "logit_diff", at="heads_by_pos", target=" d", distractor=" e")
    torch.testing.assert_close(view.exact["heads_by_pos"], want.values, atol=1e-5, rtol=1e-5)


def test_a_request_about_an_old_pair_is_stale_and_a_new_pair_drops_exact_grids(view):
    run = view.run_id
    view.compute_exact("heads")
    view.set_prompts("x y z x y", "x y w x y", target=" z", distractor=" w")
    assert view.run_id == run + 1 and view.exact == {} and view.differing == [3]
    reply = ask(view, "exact", {"grid": "heads", "run": run})
    assert reply["stale"] and not reply["ok"]
    bad = ask(view, "exact", {"grid": "mlp_out", "run": view.run_id})
    assert not bad["ok"] and "mlp_out" in bad["error"] and "resid_pre" in bad["error"]


def test_prompts_of_different_lengths_name_both_lengths_and_tokenizations(pocket):
    with pytest.raises(ValueError) as caught:
        cw.PatchingExplorer(pocket, "a b c", "a b c d e")
    message = str(caught.value)
    assert "4 tokens" in message and "6 tokens" in message
    assert "' c'" in message and "' e'" in message


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(target=" d", distractor=" d"), "distractor ' d' is the target"),
        (dict(clean="", corrupted=""), "empty"),
        (dict(target=" d e"), "d e"),
        (dict(metric="logit_dif"), "logit_dif"),
        (dict(grid="mlp_out"), "mlp_out"),
        (dict(method="fast"), "fast"),
        (dict(exact=["nope"]), "nope"),
        (dict(memory_budget=0), "memory_budget"),
    ],
)
def test_bad_input_at_construction(pocket, kwargs, message):
    args = dict(clean=POCKET_CLEAN, corrupted=POCKET_CORRUPTED, target=" d", distractor=" e")
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError, traitlets.TraitError)) as caught:
        cw.PatchingExplorer(pocket, args.pop("clean"), args.pop("corrupted"), **args)
    assert message in str(caught.value)


def test_a_bad_assignment_shows_inline_and_keeps_the_last_good_grids(view):
    view.compute_exact("heads")
    before = {name: grid.clone() for name, grid in view.approx.items()}
    exact, tokens, run = view.exact["heads"].clone(), list(view.clean_tokens), view.run_id
    view.clean = "a b c"  # 4 tokens against 8
    assert "4 tokens" in view.error and "8 tokens" in view.error
    view.distractor = " d"  # equal to the target
    assert view.clean_tokens == tokens and view.run_id == run
    assert all(torch.equal(before[name], view.approx[name]) for name in before)
    assert torch.equal(view.exact["heads"], exact)
    # an exact grid asked for now is of the pair on screen, not of the refused one
    view.compute_exact("resid_pre")
    want = analysis.patching(view._adapter, POCKET_CLEAN, POCKET_CORRUPTED, "logit_diff", at="resid_pre", target=" d", distractor=" e")
    torch.testing.assert_close(view.exact["resid_pre"], want.values, atol=1e-5, rtol=1e-5)
    view.distractor, view.clean = " e", POCKET_CLEAN  # good again
    assert view.error == "" and view.run_id > run


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("target", "a b", "a b"), ("distractor", 10**7, str(10**7)), ("metric", "nope", "nope"),
        ("grid", "mlp_out", "mlp_out"), ("method", 3, "3"), ("layer", 2, "2"), ("head", 4, "4"),
        ("lens_layer", 3, "3"), ("position", 8, "8"), ("clean", None, "None"), ("approx", {}, "read-only"),
        ("differing", [1], "read-only"),
    ],
)
def test_bad_trait_values_raise_and_change_nothing(view, name, value, message):
    state = (view.run_id, view.error, list(view.clean_tokens), getattr(view, name))
    with pytest.raises(traitlets.TraitError) as caught:
        setattr(view, name, value)
    assert message in str(caught.value)
    assert (view.run_id, view.error, list(view.clean_tokens), getattr(view, name)) == state


def test_values_and_compute_exact_check_their_arguments(view):
    with pytest.raises(ValueError, match="not computed yet"):
        view.values("heads", "exact")
    with pytest.raises(ValueError, match="'mlp_out' is not one of"):
        view.compute_exact("mlp_out")
    with pytest.raises(ValueError, match="method 'both'"):
        view.values("heads", "both")
    view.grid, view.method = "heads_by_pos", "attribution"
    assert view.values().shape == (2, 4, 8)


def test_clicks_move_a_linked_attention_explorer_and_logit_lens(pocket, view):
    attention = cw.AttentionExplorer(pocket, POCKET_CLEAN)
    lens = cw.LogitLens(pocket, POCKET_CLEAN)
    sel = cw.link(view, attention, lens)
    view.select(0, 2)  # what a click on the head cell L0.H2 sends
    assert (attention.layer, attention.head, sel.layer, sel.head) == (0, 2, 0, 2)
    sel.lens_layer, sel.position = 1, 4  # a click on the residual cell (layer 1, position 4)
    assert (lens.lens_layer, lens.position, view.lens_layer, view.position) == (1, 4, 1, 4)
    sel.position = 30  # a position this pair does not have: the view keeps its own
    assert view.position == 4



def _cached_patterns(model, monkeypatch) -> list[tuple[int, list[str]]]:
    """Every forward pass of ``model`` from now on that *caches* attention patterns (a cache
    holds every layer's at once): ``(tokens, the pattern hooks)``. Hooks that read a layer's
    pattern as the model makes it and keep a summary are not counted: the pattern goes when
    the hook returns."""
    reads: list[tuple[int, list[str]]] = []
    patterns = [name for name in model.hook_dict if name.endswith("hook_pattern")]

    def run_with_cache(tokens, *args, own=model.run_with_cache, **kwargs):
        wanted = kwargs.get("names_filter") or (lambda name: True)
        names = [name for name in patterns if wanted(name)]
        if names:
            reads.append((int(tokens.shape[-1]), names))
        return own(tokens, *args, **kwargs)

    monkeypatch.setattr(model, "run_with_cache", run_with_cache)
    return reads


def test_the_patching_views_never_hold_the_texts_attention_patterns(pocket, monkeypatch):
    """Issue #18 for the patching views: PatchingExplorer's grids (attribution and exact) need
    no attention pattern, and the dashboard's attention panel linked to it shows a clicked
    head's pattern from the on-demand store (each layer's queries and keys kept; the pattern
    rebuilt when asked), so no pass over the text caches its tokens² patterns. (The one cache
    of patterns is the adapter's once-per-model check of how the model scores attention, on
    its own probe text.)"""
    seq = cw.ModelAdapter(pocket).to_tokens(POCKET_CLEAN).shape[-1]
    cached = _cached_patterns(pocket, monkeypatch)
    w = cw.CircuitExplorer(pocket, POCKET_CLEAN, panels=["attention", "patching"], corrupted=POCKET_CORRUPTED,
                           patching_options={"target": " d", "distractor": " e"})
    for grid in ("heads", "heads_by_pos"):
        _drive_exact(w.patching, grid)
    w.patching.select(1, 3)  # a click on the head cell L1.H3
    reply = ask(w.attention, "pattern", {"layer": 1, "head": 3, "run": w.attention.run_id})
    assert reply["ok"] and (w.attention.layer, w.attention.head) == (1, 3)
    assert all(tokens != seq for tokens, _ in cached), cached
    assert w.attention.store.reason == ""  # rebuilt from q and k, not kept whole
    expected = analysis.attention_patterns(pocket, POCKET_CLEAN).patterns[1, 3]
    torch.testing.assert_close(torch.as_tensor(from_wire(reply["response"]["pattern"])).float(), expected, atol=1e-3, rtol=0)

def test_hostile_text_round_trips_and_exports_escaped(pocket, tmp_path):
    w = cw.PatchingExplorer(pocket, HOSTILE_CLEAN, HOSTILE_CORRUPTED, metric="kl", exact="heads")
    assert "".join(w.clean_tokens[1:]) == HOSTILE_CLEAN and w.differing == [1]
    page = (w.save_html(tmp_path / "patching.html")).read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in page
    state = json.loads(re.findall(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', page, re.S)[0])
    mine = state["state"][w.model_id]
    assert mine["state"]["clean"] == HOSTILE_CLEAN
    paths = {tuple(b["path"]) for b in mine["buffers"]}
    assert ("exact", "heads", "buffer") in paths and ("approx", "heads_by_pos", "buffer") in paths


@pytest.mark.parametrize("kind", __import__("architectures").kinds())
def test_a_bias_free_gqa_family_from_the_architecture_table(kind):
    """Mistral (rotary, 4 query / 2 K/V heads, no biases), as tests/architectures.py builds it."""
    import architectures as arch

    try:
        model = arch.load("mistral", kind)
    except arch.Unbootable as why:
        pytest.skip(str(why))
    clean, corrupted = "def add(a, b):\n    return a", "def add(a, c):\n    return a"
    w = cw.PatchingExplorer(model, clean, corrupted, metric="kl", exact=["heads", "mlp_out"])
    assert w.grids == ["resid_pre", "attn_out", "mlp_out", "heads", "heads_by_pos"]
    for grid in ("heads", "mlp_out"):
        want = analysis.patching(model, clean, corrupted, "kl", at=grid)
        torch.testing.assert_close(w.exact[grid], want.values, atol=1e-4, rtol=1e-4)
    est = analysis.attribution_patching(model, clean, corrupted, "kl", at="heads_by_pos")
    torch.testing.assert_close(w.approx["heads_by_pos"], est.values.float())


def test_an_interrupted_step_keeps_the_view_and_the_cells_done(view, monkeypatch):
    from circuitwidgets.widgets import _base, patching_explorer

    def interrupting(*args, **kwargs):
        raise KeyboardInterrupt

    run, tokens = view.run_id, list(view.clean_tokens)
    with monkeypatch.context() as patch:
        patch.setattr(patching_explorer.PatchingExplorer, "_compute", interrupting)
        with pytest.raises(KeyboardInterrupt):
            view.clean = "a b c f a b c"
    assert view.error == _base.INTERRUPTED and view.busy == ""
    assert (view.run_id, view.clean_tokens) == (run, tokens)
    view.clean = POCKET_CLEAN
    assert view.error == "" and view.run_id == run + 1
    # stopped in the middle of an exact grid: the chunks done stay, computing again goes on
    first = ask(view, "exact", {"grid": "heads_by_pos", "run": view.run_id})["response"]["done"]
    with monkeypatch.context() as patch:
        patch.setattr(patching_explorer, "patching", interrupting)
        with pytest.raises(KeyboardInterrupt):
            view.compute_exact("heads_by_pos")
    assert view.busy == "" and "heads_by_pos" not in view.exact
    assert ask(view, "exact", {"grid": "heads_by_pos", "run": view.run_id})["response"]["done"] == 2 * first
