"""FlowGraph's Python side: what it sends is analysis.flow's graph, number for number; a click
on a token (the "position" request) recomputes from the same forward pass; bad input is
refused by name and the last good graph stays; the pocket model's induction head leads."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets

import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.widgets._payloads import EDGE_KINDS
from circuitwidgets.widgets._transport import encode_trait

from view_requests import ask

TEXT = "When Mary and John went to the store, John gave a drink to"


def column(wire: dict, name: str) -> np.ndarray:
    """One wire array of the graph as NumPy (what the browser decodes)."""
    part = wire[name]
    return np.frombuffer(bytes(part["buffer"]), dtype=part["dtype"]).reshape(part["shape"])


@pytest.fixture(scope="module")
def pocket():
    return cw.load_pocket_model()


def test_the_wire_holds_analysis_flows_numbers(random_model):
    w = cw.FlowGraph(random_model, TEXT, position=5, heads=2, memory=2, neurons=3)
    graph = analysis.flow(random_model, TEXT, 5, heads=2, memory=2, neurons=3)
    wire = encode_trait(w, "_graph")
    assert wire["ids"] == [n.id for n in graph.nodes] and wire["kinds"] == [n.kind for n in graph.nodes]
    assert wire["position"] == 5 and wire["target"] == graph.target
    expected = np.array([np.nan if n.contribution is None else n.contribution for n in graph.nodes], dtype=np.float32)
    np.testing.assert_allclose(column(wire, "contribution"), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(column(wire, "prob"), [n.target_prob for n in graph.nodes], rtol=1e-5, atol=1e-9)
    np.testing.assert_array_equal(column(wire, "rank"), [n.target_rank for n in graph.nodes])
    np.testing.assert_array_equal(column(wire, "top_ids"), [n.top_ids for n in graph.nodes])
    np.testing.assert_array_equal(column(wire, "head"), [-1 if n.head is None else n.head for n in graph.nodes])
    index = {n.id: i for i, n in enumerate(graph.nodes)}
    np.testing.assert_array_equal(column(wire, "edge_source"), [index[e.source] for e in graph.edges])
    np.testing.assert_array_equal(column(wire, "edge_target"), [index[e.target] for e in graph.edges])
    assert [EDGE_KINDS[k] for k in column(wire, "edge_kind")] == [e.kind for e in graph.edges]
    np.testing.assert_allclose(column(wire, "score"), [e.score for e in graph.edges], rtol=1e-5)
    vocab = dict(zip(column(wire["vocab"], "ids").tolist(), wire["vocab"]["strs"]))
    assert vocab == graph.token_strs
    # The norm nodes' filters, row by row in the order of graph.filters.
    assert [wire["ids"][i] for i in column(wire, "ln_node")] == list(graph.filters)
    assert wire["ln_norm"] == [f.norm for f in graph.filters.values()] and len(graph.filters) == 5
    for name in ("raised", "lowered", "control_raised", "control_lowered"):
        np.testing.assert_array_equal(column(wire, f"ln_{name}_ids"), [f.__dict__[f"{name}_ids"].tolist() for f in graph.filters.values()])
        np.testing.assert_allclose(column(wire, f"ln_{name}"), [f.__dict__[f"{name}_deltas"].tolist() for f in graph.filters.values()],
                                   rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(column(wire, "ln_overlap"), [f.overlap for f in graph.filters.values()])


def test_the_pocket_models_induction_head_leads_in_the_view(pocket):
    """At a token of the second copy whose first occurrence is unique, the biggest writer is a
    head that InductionScores scores as induction, and its top memory value is the token
    after the first occurrence (the token that came next last time)."""
    text = " alpha = beta(gamma, delta) + omega[kappa]"  # as tests/test_analysis_flow.py's
    w = cw.FlowGraph(pocket, text + text)
    tokens = w.tokens
    n = (len(tokens) - 1) // 2  # BOS + n tokens + the same n again
    induction = analysis.head_scores(pocket, "induction").scores
    checked = 0
    for offset in range(1, n):
        token = tokens[n + offset]
        if tokens[1 : n + 1].count(token) != 1:
            continue
        w.position = n + offset
        top = w.result.contributors()[0]
        assert top.kind == "head" and induction[top.layer, top.head] > 0.5, (offset, top.id)
        recalled = w.result.memory_values(top.id)[0]
        assert recalled.source == offset + 1, (offset, recalled.id)  # the token after the first
        checked += 1
    assert checked >= 15


def test_a_click_on_a_token_explains_that_position_from_the_same_run(random_model):
    w = cw.FlowGraph(random_model, TEXT)
    run = w._run
    assert ask(w, "position", {"position": 3})["ok"]
    assert w.position == 3 and w.result.position == 3 and w._run is run and w.error == ""
    before = w.result
    ask(w, "position", {"position": 999})
    assert "position 999 is out of range" in w.error and w.result is before and w.position == 3


@pytest.mark.parametrize("kwargs, message", [
    (dict(position=99), "position 99 is out of range"),
    (dict(target="Mary and John"), "not a single token"),
    (dict(layers=(0, 9)), "outside this model's layers"),
    (dict(threshold=1.5), "threshold 1.5 is out of range"),
])
def test_bad_arguments_are_refused_by_name(random_model, kwargs, message):
    with pytest.raises((ValueError, traitlets.TraitError), match=message):
        cw.FlowGraph(random_model, TEXT, **kwargs)


@pytest.mark.parametrize("name, value, message", [
    ("position", 99, "position 99 is out of range"),
    ("position", -1, "positions 0.."),
    ("target", "Mary and John", "not a single token"),
    ("layers", [0, 9], "outside this model's layers"),
    ("threshold", -0.1, "from 0 to 1"),
])
def test_bad_values_keep_the_last_good_graph(random_model, name, value, message):
    w = cw.FlowGraph(random_model, TEXT)
    before = w.result
    with pytest.raises(traitlets.TraitError, match=message):
        setattr(w, name, value)
    assert w.result is before


def test_a_bad_text_shows_inline_and_the_graph_stays(random_model):
    w = cw.FlowGraph(random_model, TEXT)
    before = w.result
    w.text = ""
    assert "empty" in w.error and w.result is before
    w.text = "a b c a b"
    assert w.error == "" and w.result.position == len(w.tokens) - 1


def test_a_layer_range_and_the_selection(random_model):
    w = cw.FlowGraph(random_model, TEXT, layers=(1, 2), head=1, layer=1)
    assert {n.layer for n in w.result.nodes if n.layer is not None} == {1}
    assert (w.selection.layer, w.selection.head) == (1, 1)
    w.layers = [0, 1]
    assert w.result.layers == range(0, 1)


def test_always_on_neurons_are_marked(pocket):
    small = cw.load_pocket_model("small-4l")
    found = analysis.always_on_neurons(small, ["def f(x):\n    return x + 1\n"] * 3, top=100, share=0.5)
    w = cw.FlowGraph(small, "def f(x):\n    return x", neurons=50, always_on=found)
    marked = column(encode_trait(w, "_graph"), "always_on").astype(bool)
    ids = {f"L{int(l)}N{int(n)}" for l, n in zip(found.layers, found.neurons)}
    assert [n.id for n, m in zip(w.result.nodes, marked) if m] == [n.id for n in w.result.nodes if n.id in ids]
    assert marked.any()
    with pytest.raises(TypeError, match="always_on must be"):
        cw.FlowGraph(small, "def f", always_on=[1, 2])


def test_knowledge_neurons_are_listed_on_request_for_the_prediction_drawn(random_model):
    """Point 5: the button's "knowledge" request lists analysis.knowledge_neurons of the graph's
    position and target, id by id, with their scores; the busy line shows the layers as they
    finish; a new position clears the list, a new layer range keeps it; bad numbers are refused
    and the list stays."""
    w = cw.FlowGraph(random_model, TEXT, position=6, heads=2, memory=2, neurons=3)
    assert w.knowledge is None and encode_trait(w, "_knowledge") is None
    lines = []
    w.observe(lambda change: lines.append(change["new"]), "busy")
    assert ask(w, "knowledge", {})["ok"]
    assert any("layer 2 of 2 done" in line for line in lines) and w.busy == ""
    kn = analysis.knowledge_neurons(random_model, TEXT, w.result.target, position=6, steps=20, top=10)
    assert w.knowledge.target == w.result.target and w.knowledge.position == 6
    wire = encode_trait(w, "_knowledge")
    assert wire["ids"] == [f"L{l}N{n}" for l, n in zip(kn.layers.tolist(), kn.neurons.tolist())]
    np.testing.assert_allclose(column(wire, "score"), kn.scores.numpy(), rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(column(wire, "top_ids"), kn.top_ids.numpy())
    assert {n.id for n in w.result.nodes if n.kind == "neuron"} & set(wire["ids"]) != set(wire["ids"])  # some pruned
    listed = w.knowledge
    with pytest.raises(ValueError, match="steps 0 is out of range"):
        w.find_knowledge_neurons(steps=0)
    assert w.knowledge is listed
    w.layers = [1, 2]
    assert w.knowledge is listed  # the same prediction: the list stays
    w.position = 3
    assert w.knowledge is None and encode_trait(w, "_knowledge") is None


def test_an_attention_only_model_has_no_knowledge_neurons(pocket):
    w = cw.FlowGraph(pocket, "a b c a b")
    reply = ask(w, "knowledge", {})
    assert not reply["ok"] and "attention-only" in reply["error"] and w.knowledge is None
