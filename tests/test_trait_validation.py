"""Every public trait of every view, set from Python as a user would: wrong types, values out
of range and at the edges (issue #17, point 1).

For each view every public trait is either *settable* (its class lists it in ``_settable``, it
is a linked selection field, or it is ``selection``) or *read-only* (the view sets it from its
model and input). This walks all of them and asserts, for every bad value: a ``TraitError``
whose message names the value (and, for a number out of range, the end of the range it
broke), every trait of the view unchanged, and the next valid assignment working. Valid
values at both edges of each range are set and read back. A trait this table does not cover
fails the test, so a new trait cannot skip its checks.
"""

from __future__ import annotations

import pytest
import torch
import traitlets

import circuitwidgets as cw
from circuitwidgets.widgets._base import MAX_K
from circuitwidgets.widgets.induction_scores import MAX_BATCH, TAB_ORDER
from circuitwidgets.widgets.logit_lens import MAX_K as LENS_MAX_K
from circuitwidgets.widgets.path_explorer import MODES as PATH_MODES
from circuitwidgets.widgets._transport import encode_trait
from circuitwidgets.analysis.heads import max_half

from test_docs import public_traits

TEXT = "When Mary and John went to the store, John gave a drink to Mary."
OTHER = "a b c d a b c d"
#: PatchingExplorer's pair, and prompts of the same length to set one side to.
PAIR = ("Mary and John, John gave to", "Mary and John, Mary gave to")
SAME_LENGTH = {"clean": ["John and Mary, John gave to", PAIR[0]], "corrupted": ["John and Mary, Mary gave to", PAIR[1]]}


@pytest.fixture(scope="module")
def views(plain_model):
    return {
        "TokenView": cw.TokenView(plain_model, TEXT),
        "AttentionExplorer": cw.AttentionExplorer(plain_model, TEXT),
        "OVBrowser": cw.OVBrowser(plain_model, TEXT),
        "LogitLens": cw.LogitLens(plain_model, TEXT, k=5, page_size=8),
        "InductionScores": cw.InductionScores(plain_model, half=8, batch=2),
        "PatchingExplorer": cw.PatchingExplorer(plain_model, *PAIR, metric="kl"),
        "CircuitExplorer": cw.CircuitExplorer(plain_model, TEXT),
        "FlowGraph": cw.FlowGraph(plain_model, TEXT),
        "PathExplorer": cw.PathExplorer(plain_model, TEXT),
        "CompositionGraph": cw.CompositionGraph(plain_model),
    }


# ---- what each settable trait takes ---------------------------------------------------------------


def _seq(view) -> int:
    if isinstance(view, cw.PatchingExplorer):
        return len(view.clean_tokens)
    return len(view.attention.tokens) if isinstance(view, cw.CircuitExplorer) else len(view.tokens)


def int_range(view, name: str) -> tuple[int, int | None, bool] | None:
    """``(low, high, nullable)`` of an int trait (``high`` None: no upper bound), or None."""
    L, H, V = view._adapter.n_layers, view._adapter.n_heads, view._adapter.d_vocab
    lens = isinstance(view, (cw.LogitLens, cw.PathExplorer))  # a head only when one is selected
    table = {
        "layer": (0, L - 1, lens),
        "head": (0, H - 1, lens),
        "query": (0, _seq(view) - 1, True) if name == "query" else None,
        "key": (0, _seq(view) - 1, True) if name == "key" else None,
        "position": (0, _seq(view) - 1, False) if name == "position" else None,
        "lens_layer": (0, L, False),
        "token": (0, V - 1, True),
        "k": (1, LENS_MAX_K, False) if isinstance(view, cw.LogitLens) else (1, min(MAX_K, V), False),
        "page_size": (1, None, False),
        "half": (1, max_half(view._adapter), False) if name == "half" else None,
        "seed": (0, 2**32 - 1, False),
        "batch": (1, MAX_BATCH, False),
    }
    return table.get(name)


CHOICES = {
    "circuit": ("full", "ov"),
    "mode": ("random", "text"),
    "kind": TAB_ORDER,
    "metric": ("kl", "prob", "logit"),  # (logit_diff's default tokens may coincide on a random model)
    "grid": ("resid_pre", "attn_out", "heads", "heads_by_pos"),
    "method": ("attribution", "exact"),
    "ablation_mode": ("zero", "mean"),
    "ablation": ("off", "zero", "mean"),
}
#: A view whose trait of that name has other choices.
VIEW_CHOICES = {("PathExplorer", "mode"): PATH_MODES, ("CompositionGraph", "kind"): ("Q", "K", "V", "all")}


def choices(view, name: str) -> tuple[str, ...] | None:
    return VIEW_CHOICES.get((type(view).__name__, name), CHOICES.get(name))


def bad_values(view, name: str) -> list[tuple[object, str | None]]:
    """``(value, what the message must name besides the value)`` for every bad value."""
    bounds = int_range(view, name)
    if bounds is not None:
        low, high, nullable = bounds
        if name == "token":  # token ids are named as the half-open range [0, d_vocab)
            return [(1.5, None), ("x y z", None), (True, None), (-1, None), (high + 1, f"{high + 1})")]
        cases: list[tuple[object, str | None]] = [(1.5, None), ("1", None), (True, None), (low - 1, str(low)), (-(10**9), str(low))]
        if high is not None:
            cases += [(high + 1, str(high))] + ([(10**9, str(high))] if high < 10**9 else [(2**40, str(high))])
        if not nullable:
            cases.append((None, None))
        return cases
    if choices(view, name) is not None:
        return [("nope", choices(view, name)[0]), (3, None), (None, None)]
    if name == "collapsed":
        return [(["nope"], "attention"), ("nope", "attention"), (3, "attention"), ([3], "attention")]
    if name == "ablated":
        L, H = view._adapter.n_layers, view._adapter.n_heads
        return [([(L, 0)], f"0..{L - 1}"), ([(0, 0), (0, H)], f"0..{H - 1}"), ([3], "pair"), ([(0, 1, 2)], "pair"),
                ("L1H3", None), ([(-1, 0)], "layer"), ([(0.5, 0)], "int"), (None, None)]
    if name in ("target", "distractor"):
        return [("Mary and John", None), (10**6, str(view._adapter.d_vocab)), (1.5, None)]
    if name in ("text", "clean", "corrupted"):
        return [(5, None), (None, None)]
    if name == "threshold" and isinstance(view, cw.CompositionGraph):   # an excess over the baseline
        return [(-1.5, "[-1, 1]"), (1.5, "[-1, 1]"), (float("nan"), "[-1, 1]"), ("x", None), (None, None)]
    if name == "threshold":
        return [(-0.5, "0 to 1"), (1.5, "0 to 1"), ("x", None), (None, None)]
    if name == "pair":
        L, H = view._adapter.n_layers, view._adapter.n_heads
        return [([0, 0, 0, 1], "before"), ([0, 0, L, 0], f"{L - 1}"), ([0, H, 1, 0], f"{H - 1}"), ([0, 1], "[]"),
                ("L0H1", None), ([0, 0.5, 1, 0], "int")]
    if name == "layers":
        L = view._adapter.n_layers
        return [([0, L + 1], str(L)), ([1, 1], str(L)), ([2, 1], str(L)), ([0], None), (3, None)]
    if name == "selection":
        return [("sel", None), (5, None)]
    raise AssertionError(f"{type(view).__name__}.{name} has no bad values in this test: add them")


def good_values(view, name: str) -> list[object]:
    """Valid values, the edges of each range among them."""
    bounds = int_range(view, name)
    if bounds is not None:
        low, high, nullable = bounds
        top = high if high is not None else 64
        return [low, top] + ([None] if nullable else [])
    if choices(view, name) is not None:
        return list(choices(view, name))
    if name == "collapsed":
        return [["ov", "lens"], "ov", []]
    if name == "ablated":
        L, H = view._adapter.n_layers, view._adapter.n_heads
        return [[(0, 0)], [(L - 1, H - 1), (0, 0)], []]
    if name in ("target", "distractor"):
        return [" Mary", 0, None]
    if name in SAME_LENGTH:
        return SAME_LENGTH[name]
    if name == "text":
        return [OTHER, TEXT]
    if name == "threshold" and isinstance(view, cw.CompositionGraph):
        return [-1.0, 1.0, 0.05]
    if name == "threshold":
        return [0.0, 1.0, 0.25]
    if name == "pair":
        L, H = view._adapter.n_layers, view._adapter.n_heads
        return [[0, 0, L - 1, H - 1], [0, 1, 1, 3], []]
    if name == "layers":
        return [[0, 1], [0, view._adapter.n_layers]]
    if name == "selection":
        return [cw.Selection()]
    raise AssertionError(f"{type(view).__name__}.{name} has no valid values in this test: add them")


# ---- the walk -------------------------------------------------------------------------------------


def settable(view) -> list[str]:
    cls = view if isinstance(view, type) else type(view)
    names = set(cls._settable) | set(getattr(cls, "_linked", ())) | ({"selection"} if "selection" in cls.class_trait_names() else set())
    return sorted(names)


def snapshot(view) -> dict:
    """Every trait of the view in its wire form (buffers as bytes; widgets by model id)."""

    def plain(value):
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, traitlets.HasTraits):
            return getattr(value, "model_id", id(value))
        return value

    names = [n for n in view.trait_names() if n not in ("_esm", "_css", "comm", "keys", "log")]
    return {n: plain(encode_trait(view, n)) for n in names}


CASES = [(view, name) for view in (
    "TokenView", "AttentionExplorer", "OVBrowser", "LogitLens", "InductionScores", "PatchingExplorer", "CircuitExplorer", "FlowGraph", "PathExplorer", "CompositionGraph",
) for name in public_traits(getattr(cw, view))]


def test_settable_names_only_traits_the_view_has():
    for view in ("TokenView", "AttentionExplorer", "OVBrowser", "LogitLens", "InductionScores", "PatchingExplorer", "CircuitExplorer", "FlowGraph", "PathExplorer", "CompositionGraph"):
        cls = getattr(cw, view)
        assert set(cls._settable) <= set(public_traits(cls)), f"{view}._settable names traits it does not have"


@pytest.mark.parametrize("view_name, name", CASES)
def test_bad_values_are_refused_and_change_nothing(views, view_name, name):
    view = views[view_name]
    before = snapshot(view)
    if name not in settable(view):
        checks = [(7, None), ("x", None)]
    else:
        checks = bad_values(view, name)
    for value, also in checks:
        with pytest.raises(traitlets.TraitError) as caught:
            setattr(view, name, value)
        message = str(caught.value)
        if name not in settable(view):
            assert f"{name} is read-only" in message or "cannot be replaced" in message
            # what can be set instead
            assert "cannot be replaced" in message or all(n in message for n in type(view)._settable), message
        else:
            shown = repr(value) if not isinstance(value, str) else value
            assert shown in message or repr(value) in message or type(value).__name__ in message, (value, message)
            if also is not None:
                assert also in message, (value, message)
        assert snapshot(view) == before, f"{view_name}.{name} = {value!r} changed the view"


@pytest.mark.parametrize("view_name, name", [(v, n) for v, n in CASES if n in settable(getattr(cw, v))])
def test_valid_values_at_the_edges_work(views, view_name, name):
    view = views[view_name]
    original = getattr(view, name)
    if name == "mode":  # text mode scores the text: give it one with repeats first
        view.text = OTHER
    try:
        for value in good_values(view, name):
            setattr(view, name, value)
            got = getattr(view, name)
            expected = [value] if name == "collapsed" and isinstance(value, str) else value
            if name == "target" and isinstance(value, str) and isinstance(view, cw.LogitLens):
                assert view._target_id == view._adapter.to_single_token(value)
            assert got is expected or got == expected, (name, value, got)
            assert view.error == "", view.error
    finally:
        setattr(view, name, original)


def test_logit_lens_k_recomputes_instead_of_drawing_wrong_numbers(views, plain_model):
    """``k`` assigned after construction: the lens is recomputed with the new k, under a new
    run id (issue #17: ``ll.k = 20`` then a new text drew every guess as <|endoftext|>)."""
    from circuitwidgets import analysis

    lens = views["LogitLens"]
    run = lens.run_id
    lens.k = 7
    lens.text = OTHER
    (page,) = lens.lens.pages
    assert page.lens.top_ids.shape[-1] == 7 and lens.run_id > run
    expected = analysis.logit_lens(plain_model, OTHER, k=7, default_target="final")
    shown = page.lens
    start = page.start
    assert torch.equal(shown.top_ids, expected.top_ids[:, start:start + shown.top_ids.shape[1]])
    lens.k = 5
    lens.text = TEXT


def test_the_errors_name_the_range(views):
    with pytest.raises(traitlets.TraitError, match=rf"k 0 is out of range; it must be in \[1, {LENS_MAX_K}\]"):
        views["LogitLens"].k = 0
    with pytest.raises(ValueError, match=rf"k 51 is out of range; it must be in \[1, {LENS_MAX_K}\]"):
        views["LogitLens"].k = 51
    with pytest.raises(traitlets.TraitError, match=r"tokens is read-only: TokenView sets it .* you can set are text"):
        views["TokenView"].tokens = ["x"]
