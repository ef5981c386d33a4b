"""CompositionGraph: the numbers it shows are analysis.head_composition's, its edges are
HeadComposition.edges (the browser's pruning is checked against them in
tests/browser/test_composition_graph.py), bad input is refused with the last good state
kept, and it works on several architecture families."""

from __future__ import annotations

import math

import pytest
import torch
import traitlets

import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.widgets.composition_graph import MAX_EDGES, default_threshold

import architectures as arch


@pytest.fixture(scope="module")
def pocket():
    return cw.load_pocket_model("attn-only-2l")


@pytest.fixture(scope="module")
def graph(pocket):
    return cw.CompositionGraph(pocket)


def test_the_view_shows_the_analysis_numbers(pocket, graph):
    comp = analysis.head_composition(pocket)
    torch.testing.assert_close(graph.excess, comp.excess, rtol=0, atol=0)
    assert (graph.baseline, graph.baseline_std, graph.draws) == (comp.baseline, comp.baseline_std, comp.draws)
    assert graph.approximation == ""  # learned positions: the scores are the model's own
    assert (graph.n_layers, graph.n_heads, graph.max_edges) == (2, 4, MAX_EDGES)
    for i, kind in enumerate(analysis.COMPOSITION_KINDS):  # excess = score - baseline, on scored pairs
        torch.testing.assert_close(graph.excess[i][comp.valid], analysis.composition_scores(pocket, kind)[comp.valid] - comp.baseline)


def test_edges_are_the_pairs_above_the_threshold_strongest_first(graph):
    comp = graph.result
    for kind in ("Q", "K", "V", "all"):
        for threshold in (-1.0, 0.0, 0.02, 0.065):
            edges = graph.edges(kind, threshold)
            kinds = comp.kinds if kind == "all" else (kind,)
            expected = sum(int(((comp.excess_of(k).double() > threshold) & comp.valid).sum()) for k in kinds)
            assert len(edges) == min(expected, MAX_EDGES)
            assert all(e.excess > threshold and e.writer_layer < e.reader_layer and e.kind in kinds for e in edges)
            assert [e.excess for e in edges] == sorted((e.excess for e in edges), reverse=True)
            for e in edges:
                assert e.excess == float(comp.excess_of(e.kind)[e.writer_layer, e.writer_head, e.reader_layer, e.reader_head])


def test_what_the_pocket_model_really_does(graph):
    """The induction head L1H3's keys read the previous-token head L0H1 most (the
    K-composition of an induction circuit), well beyond random heads."""
    into_induction = [e for e in graph.edges("K", 0.0) if (e.reader_layer, e.reader_head) == (1, 3)]
    assert (into_induction[0].writer_layer, into_induction[0].writer_head) == (0, 1)
    assert into_induction[0].excess > 20 * graph.baseline_std


def test_default_threshold_is_three_sigma_on_the_slider_steps(graph):
    t = default_threshold(graph.result)
    assert t >= 3 * graph.baseline_std and t - 3 * graph.baseline_std < 0.005 + 1e-12
    assert graph.threshold == t and math.isclose(t / 0.005, round(t / 0.005))


def test_select_pair_puts_the_reading_head_in_the_selection(pocket):
    sel = cw.Selection()
    w = cw.CompositionGraph(pocket, selection=sel)
    other = cw.InductionScores(pocket, selection=sel, half=8, batch=1)
    w.select_pair(0, 1, 1, 3)
    assert w.pair == [0, 1, 1, 3] and (sel.layer, sel.head) == (1, 3) and (other.layer, other.head) == (1, 3)
    w.pair = []
    assert (sel.layer, sel.head) == (1, 3)
    w2 = cw.CompositionGraph(pocket, pair=(0, 2, 1, 1), kind="all", threshold=0.0)
    assert w2.pair == [0, 2, 1, 1] and (w2.layer, w2.head) == (1, 1) and w2.kind == "all"


BAD = [
    ("kind", "O", r"kind 'O' is not one of \['Q', 'K', 'V', 'all'\]"),
    ("kind", 3, r"kind"),
    ("threshold", 2, r"threshold 2.0 is out of range; it must be in \[-1, 1\]"),
    ("threshold", float("nan"), r"threshold nan is out of range"),
    ("threshold", "high", r"threshold"),
    ("pair", [0, 1, 1], r"pair \[0, 1, 1\] must be \[\] or \[writer layer, writer head, reader layer, reader head\]"),
    ("pair", [1, 0, 0, 1], r"the writing head's layer 1 must be before the reading head's 0"),
    ("pair", [1, 0, 1, 1], r"the writing head's layer 1 must be before the reading head's 1"),
    ("pair", [0, 4, 1, 1], r"writer head 4 is out of range; it must be in \[0, 3\]"),
    ("pair", [0, 0, 2, 1], r"reader layer 2 is out of range; it must be in \[0, 1\]"),
    ("pair", "L0H1", r"pair 'L0H1' must be \[\] or \[writer layer"),
]


@pytest.mark.parametrize("name, value, message", BAD)
def test_bad_input_is_refused_and_the_last_good_state_kept(pocket, name, value, message):
    w = cw.CompositionGraph(pocket, kind="V", threshold=0.02, pair=[0, 1, 1, 3])
    before = (w.kind, w.threshold, list(w.pair), w.layer, w.head)
    with pytest.raises(traitlets.TraitError, match=message):
        setattr(w, name, value)
    assert (w.kind, w.threshold, list(w.pair), w.layer, w.head) == before


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(kind="QK"), ValueError, r"kind 'QK' is not one of"),
    (dict(threshold=-3), ValueError, r"threshold -3.0 is out of range"),
    (dict(pair=[1, 1, 1, 1]), ValueError, r"must be before"),
    (dict(knid="K"), TypeError, r"did you mean 'kind'"),
])
def test_bad_constructor_arguments(pocket, kwargs, error, message):
    with pytest.raises(error, match=message):
        cw.CompositionGraph(pocket, **kwargs)


def test_read_only_traits(graph):
    for name in ("excess", "baseline", "approximation", "n_heads"):
        with pytest.raises(traitlets.TraitError, match=f"{name} is read-only"):
            setattr(graph, name, 0)


@pytest.mark.parametrize("family", ["gpt2", "llama", "gpt_neox"])  # learned; rotary GQA; rotary parallel
def test_families(family):
    try:
        model = arch.load(family, arch.kinds()[0])
    except arch.Unbootable as why:
        pytest.skip(str(why))
    w = cw.CompositionGraph(model, kind="all", threshold=-1.0)
    comp = analysis.head_composition(model)
    torch.testing.assert_close(w.excess, comp.excess, rtol=0, atol=0)
    n_pairs = int(comp.valid.sum())
    assert len(w.edges()) == min(3 * n_pairs, MAX_EDGES)
    rotary = arch.has(family, "rotary")
    assert (w.approximation == analysis.composition.ROTARY_APPROXIMATION) if rotary else w.approximation == ""
    # composition reads the weights only: the scores are those of TransformerLens's own
    # matrices, GQA's shared K/V heads expanded per query head
    weights = cw.ModelAdapter(model).weights
    l1, h1, l2, h2 = 0, 1, 1, weights.W_K.shape[1] - 1
    writer = weights.W_V[l1, h1].double() @ weights.W_O[l1, h1].double()
    reader = weights.W_K[l2, h2].double() @ weights.W_Q[l2, h2].double().T
    expected = (writer @ reader).norm() / (writer.norm() * reader.norm())
    assert comp.of("K")[l1, h1, l2, h2].item() == pytest.approx(expected.item(), rel=1e-4)


def test_the_figure(graph):
    fig = graph.result.plot("V")
    assert fig.title.text.startswith("V-composition minus random heads'")
    with pytest.raises(ValueError, match="kind 'all' is not one of"):
        graph.result.plot("all")
