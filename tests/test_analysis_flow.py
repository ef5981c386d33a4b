"""The flow graph: its parts add up exactly (memory values to heads, neurons to MLPs, writers to
the model's own logit) on several architecture families and both model kinds; its projections
match the logit lens and the attribution; the pocket model's induction head is found; pruning
bounds its size; bad input is refused by name."""

from __future__ import annotations

import pytest
import torch

import architectures as arch
import circuitwidgets as cw
import conftest
from circuitwidgets import analysis
from circuitwidgets.analysis.flow import attention_row, memory_vectors, neuron_vectors
from circuitwidgets.model import ModelAdapter, hook_name, transformer_lens_version

TEXT = "When Mary and John went to the store, John gave a drink to Mary."

#: Bias-free, rotary, RMSNorm, gated MLP, grouped-query attention (the Llama shape).
LLAMA_LIKE = dict(positional_embedding_type="rotary", normalization_type="RMS", gated_mlp=True,
                  n_key_value_heads=2, act_fn="silu")


def _families():
    families = [("gpt2", {}), ("llama", LLAMA_LIKE)]
    if transformer_lens_version() < (4,):  # HookedTransformer has parallel attention/MLP blocks
        families.append(("parallel", dict(parallel_attn_mlp=True)))
    return families


@pytest.fixture(scope="module", params=[(kind, name) for kind in conftest.model_kinds() for name, _ in _families()],
                ids=lambda p: f"{p[0]}-{p[1]}")
def family_model(request, tiny_tokenizer):
    kind, name = request.param
    overrides = dict(_families())[name]
    if name == "parallel" and kind != "hooked":
        pytest.skip("parallel attention/MLP is built as a HookedTransformer only")
    torch.manual_seed(0)
    return conftest.make_random_model(kind, tiny_tokenizer, **overrides)


def _reference(model, text, names):
    adapter = ModelAdapter(model)
    logits, cache = adapter.run_with_cache(adapter.to_tokens(text), names)
    return adapter, logits[0], {k: v[0] for k, v in cache.items()}


def test_memory_values_and_neurons_sum_to_the_models_own_outputs(family_model):
    adapter = ModelAdapter(family_model)
    run = analysis.run_text(family_model, TEXT, needs=("flow",))
    layers = range(adapter.n_layers)
    _, _, ref = _reference(family_model, TEXT, [hook_name(k, l) for l in layers for k in ("attn_out", "mlp_out")])
    W_out, b_out = adapter.mlp_out_weights
    for position in (0, 5, run.seq_len - 1):
        for layer in layers:
            memory = memory_vectors(adapter, run.cache, layer, position)
            assert memory.shape[:2] == (adapter.n_heads, position + 1)  # causal: no value from the future
            attn_out = memory.sum(dim=(0, 1)) + adapter.weights.b_O[layer]
            torch.testing.assert_close(attn_out, ref[hook_name("attn_out", layer)][position], rtol=1e-4, atol=1e-5)
            neurons = neuron_vectors(adapter, run.cache, layer, position)
            assert neurons.shape == (W_out.shape[1], adapter.d_model)
            torch.testing.assert_close(neurons.sum(dim=0) + b_out[layer], ref[hook_name("mlp_out", layer)][position],
                                       rtol=1e-4, atol=1e-5)


def test_memory_values_read_one_attention_row_and_keep_no_pattern(family_model):
    """#18 point 3: the flow's run keeps queries and keys, not every head's seq x seq pattern;
    the row rebuilt from them is the model's own, and the graph equals the one read off the
    patterns. Where the recipe cannot rebuild patterns (the bridge gives rotary models no
    rot_q/rot_k hooks) the run keeps the patterns instead, and says why in the recipe."""
    adapter = ModelAdapter(family_model)
    run = analysis.run_text(family_model, TEXT, needs=("flow",))
    with_patterns = analysis.run_text(family_model, TEXT, needs=("flow", "attention"))
    layers = range(adapter.n_layers)
    kept = [hook_name("pattern", layer) in run.cache for layer in layers]
    assert kept == [bool(adapter.qk_recipe.why_not(run.seq_len))] * adapter.n_layers
    for position in (2, run.seq_len - 1):
        for layer in layers:
            row = attention_row(adapter, run.cache, layer, position)
            torch.testing.assert_close(row, with_patterns.cache[hook_name("pattern", layer)][:, position, : position + 1],
                                       rtol=1e-4, atol=1e-6)
        rebuilt, read = (analysis.flow(family_model, r, position, heads=None, memory=None) for r in (run, with_patterns))
        assert [n.id for n in rebuilt.nodes] == [n.id for n in read.nodes]
        for a, b in zip(rebuilt.nodes, read.nodes):
            assert a.contribution == pytest.approx(b.contribution, abs=1e-4) and a.top_ids == b.top_ids
        assert [e.score for e in rebuilt.edges] == pytest.approx([e.score for e in read.edges], abs=1e-4)


@pytest.mark.parametrize("position, target", [(6, None), (-1, 42)])
def test_unpruned_contributions_add_up_to_the_models_logit(family_model, position, target):
    graph = analysis.flow(family_model, TEXT, position, target, heads=None, memory=None, neurons=None)
    adapter, logits, _ = _reference(family_model, TEXT, [])
    assert graph.logit.item() == pytest.approx(logits[graph.position, graph.target].item(), abs=1e-4)
    writers = graph.contributors()
    assert sum(n.contribution for n in writers) + graph.final_bias.item() == pytest.approx(graph.logit.item(), abs=1e-3)
    attr = analysis.logit_attribution(family_model, TEXT, position, graph.target)
    for layer in range(adapter.n_layers):
        for head in range(adapter.n_heads):
            node = graph.node(f"L{layer}H{head}")
            assert node.contribution == pytest.approx(attr.heads[layer, head].item(), abs=1e-4)
            values = [graph.node(e.source).contribution for e in graph.edges_into(node.id)]
            assert len(values) == graph.position + 1  # one memory value per source position
            assert sum(values) == pytest.approx(node.contribution, abs=1e-4)
        mlp = graph.node(f"L{layer} MLP")
        assert mlp.contribution == pytest.approx(attr.mlp[layer].item(), abs=1e-4)
        parts = [graph.node(e.source).contribution for e in graph.edges_into(mlp.id)]
        assert sum(parts) == pytest.approx(mlp.contribution, abs=1e-3)
        bias_free = not adapter.mlp_out_weights[1][layer].any()
        assert len(parts) == adapter.mlp_out_weights[0].shape[1] + (0 if bias_free else 1)


def test_projections_are_the_logit_lens_and_the_direct_logits(random_model):
    graph = analysis.flow(random_model, TEXT, 9, k=4)
    lens = analysis.logit_lens(random_model, TEXT, k=4, target=graph.target, positions=[9])
    attr = analysis.logit_attribution(random_model, TEXT, 9, graph.target, k=4)
    adapter, logits, _ = _reference(random_model, TEXT, [])
    for readout, node_id in [(0, "L0 resid_pre"), (1, "L0 resid_post"), (2, "L1 resid_post"), (2, "output")]:
        node = graph.node(node_id)  # a stream node reads as the logit lens does
        assert list(node.top_ids) == lens.top_ids[readout, 0].tolist()
        assert node.target_rank == lens.target_ranks[readout, 0].item()
        assert node.target_prob == pytest.approx(lens.target_probs[readout, 0].item(), rel=1e-4, abs=1e-6)
    output = graph.node("output")
    probs = logits[9].softmax(-1)
    assert output.top_ids[0] == logits[9].argmax().item()
    assert output.entropy == pytest.approx(-(probs * probs.log()).sum().item(), rel=1e-4)
    for node in graph.nodes:  # a head reads as what it adds: its direct logits
        if node.kind == "head":
            assert list(node.top_ids) == attr.head_top_ids[node.layer, node.head].tolist()
            assert 1 <= node.target_rank <= adapter.d_vocab and 0 <= node.entropy <= torch.log(torch.tensor(adapter.d_vocab))


@pytest.fixture(scope="module")
def pocket():
    return cw.load_pocket_model()


def test_pocket_induction_head_leads_and_recalls_the_token_after_the_first_occurrence(pocket):
    adapter = ModelAdapter(pocket)
    text = " alpha = beta(gamma, delta) + omega[kappa]"
    tokens = adapter.to_tokens(text + text)[0]
    n = (len(tokens) - 1) // 2
    assert torch.equal(tokens[1 : n + 1], tokens[n + 1 :]), "the text must tokenize as two equal copies"
    first = tokens[1 : n + 1].tolist()
    # Tokens that occur once in the first copy: their induction target is unambiguous.
    offsets = [i for i in range(1, n) if first.count(int(tokens[i])) == 1]
    assert len(offsets) >= 15
    induction = analysis.head_scores(pocket, "induction").scores
    run = analysis.run_text(pocket, text + text, needs=("flow",))
    for offset in offsets:
        graph = analysis.flow(pocket, run, n + offset)  # a token of the second copy
        assert graph.target == int(tokens[offset + 1])
        top = graph.contributors()[0]
        assert top.kind == "head" and induction[top.layer, top.head] > 0.5, (offset, top.id, induction)
        recalled = graph.memory_values(top.id)[0]
        assert recalled.source == offset + 1, (offset, top.id, recalled)
        assert graph.node(top.id).contribution > 0 and recalled.contribution > 0


def test_norm_nodes_carry_ln_filters_numbers(family_model):
    """Point 3: each norm the prediction passes is a node whose filter is ln_filter's (itself
    tested against the model's norm modules): ln1 and ln2 of every layer (a parallel block's
    ln2 reads the same stream as its ln1), the final norm before the output; the node reads as
    the logit lens of the norm's output (the final norm's: the model's own prediction)."""
    adapter = ModelAdapter(family_model)
    run = analysis.run_text(family_model, TEXT, needs=("flow",))
    graph = analysis.flow(family_model, run, 6, k=4)
    assert all(norm is not None for norm in adapter.mlp_input_norms)
    expected = [f"L{l} {n}" for l in range(adapter.n_layers) for n in ("ln1", "ln2")] + ["ln_final"]
    assert [n.id for n in graph.nodes if n.kind == "ln"] == expected == list(graph.filters)
    for layer in range(adapter.n_layers):
        reference = analysis.ln_filter(family_model, run, layer, 6, k=4)
        for f in reference.filters:
            node_id = "ln_final" if f.norm == "ln_final" else f"L{layer} {f.norm}"
            mine, node = graph.filters[node_id], graph.node(node_id)
            assert node.norm == f.norm and node.layer == f.layer and node.contribution is None
            for name in ("raised_ids", "lowered_ids", "control_raised_ids", "control_lowered_ids"):
                assert getattr(mine, name).tolist() == getattr(f, name).tolist(), (node_id, name)
            torch.testing.assert_close(mine.raised_deltas, f.raised_deltas)
            assert node.target_prob == pytest.approx(f.after[graph.target].item(), abs=1e-5)
            assert all(i in graph.token_strs for i in mine.control_lowered_ids.tolist())
    output, final = graph.node("output"), graph.node("ln_final")
    assert final.top_ids == output.top_ids and [(e.source, e.kind) for e in graph.edges_into("output")] == [("ln_final", "norm")]
    mlp_reads = {e.source for e in graph.edges if e.kind == "coefficient"}
    assert mlp_reads <= {f"L{l} ln2" for l in range(adapter.n_layers)}
    ln2_reads = {e.source for e in graph.edges if e.target.endswith(" ln2")}
    before = lambda l: "L0 resid_pre" if l == 0 else f"L{l - 1} resid_post"  # noqa: E731 (the stream into layer l)
    assert ln2_reads == {before(l) if adapter.parallel_attn_mlp else f"L{l} resid_mid" for l in range(adapter.n_layers)}
    bare = analysis.flow(family_model, run, 6, k=4, norms=False)
    assert not bare.filters and [n.id for n in bare.nodes] == [n.id for n in graph.nodes if n.kind != "ln"]


def test_a_model_without_norms_has_no_norm_nodes(tiny_tokenizer):
    """A model with no normalization (``normalization_type=None``): nothing to filter, so no
    norm nodes; the rest of the graph still adds up to the logit."""
    kind = conftest.model_kinds()[0]
    torch.manual_seed(0)
    model = conftest.make_random_model(kind, tiny_tokenizer, normalization_type=None)
    graph = analysis.flow(model, TEXT, heads=None, memory=None, neurons=None)
    assert not graph.filters and not [n for n in graph.nodes if n.kind == "ln"]
    total = sum(n.contribution for n in graph.contributors()) + graph.final_bias.item()
    assert total == pytest.approx(graph.logit.item(), abs=1e-3)


def test_pruning_bounds_the_graph(random_model):
    adapter = ModelAdapter(random_model)
    short = analysis.flow(random_model, "a b c d", heads=2, memory=2, neurons=3)
    long = analysis.flow(random_model, TEXT * 2, heads=2, memory=2, neurons=3)
    bound = 4 + adapter.n_layers * (2 * (1 + 2) + 3 + 8)  # as flow's docstring says
    assert len(short.nodes) <= len(long.nodes) <= bound
    assert sum(n.kind == "memory" for n in long.nodes) == adapter.n_layers * 2 * 2
    assert sum(n.kind == "neuron" for n in long.nodes) == adapter.n_layers * 3
    full = analysis.flow(random_model, TEXT * 2, heads=None, memory=None, neurons=None)
    assert long.nbytes() < full.nbytes() / 10
    threshold = sorted(abs(n.contribution) for n in long.nodes if n.kind == "neuron")[2]
    pruned = analysis.flow(random_model, TEXT * 2, heads=2, memory=2, neurons=3, min_contribution=threshold)
    kept = [n for n in pruned.nodes if n.kind in ("head", "memory", "neuron")]
    assert kept and all(abs(n.contribution) >= threshold for n in kept)
    assert len(pruned.nodes) < len(long.nodes)
    ids = {n.id for n in pruned.nodes}
    assert all(e.source in ids and e.target in ids for e in pruned.edges)


def test_a_layer_range_draws_only_those_layers(random_model):
    graph = analysis.flow(random_model, TEXT, layers=(1, 2))
    assert graph.layers == range(1, 2)
    assert graph.nodes[0].id == "L1 resid_pre"
    assert {n.layer for n in graph.nodes[:-2]} == {1} and [n.id for n in graph.nodes[-2:]] == ["ln_final", "output"]
    head_only = analysis.flow(random_model, TEXT, layers=range(0, 1))
    assert "output" not in {n.id for n in head_only.nodes} and head_only.nodes[-1].id == "L0 resid_post"


def test_a_text_run_is_shared(random_model):
    run = analysis.run_text(random_model, TEXT, needs=("flow", "attribution"))
    assert analysis.flow(random_model, run, 3).nodes == analysis.flow(random_model, TEXT, 3).nodes
    with pytest.raises(ValueError, match="'flow'"):
        analysis.flow(random_model, analysis.run_text(random_model, TEXT, needs=("attention",)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(position=99), r"position 99 is out of range; this text has \d+ tokens"),
    (dict(position=-99), r"position -99 is out of range"),
    (dict(target=" Mary and"), r"' Mary and' is \d tokens .*not a single token"),
    (dict(target=10**6), r"token id 1000000 is out of range \[0, \d+\)"),
    (dict(layers=(0, 5)), r"layers range\(0, 5\) is outside this model's layers.*range\(0, 2\)"),
    (dict(layers=range(1, 1)), r"layers range\(1, 1\) is outside"),
    (dict(layers=(-1, 1)), r"layers start -1 is out of range"),
    (dict(heads=-1), r"heads -1 is out of range; it must be at least 0"),
    (dict(min_contribution=-0.5), r"min_contribution must be a number >= 0, got -0.5"),
    (dict(k=0), r"k 0 is out of range"),
])
def test_bad_input_is_refused_by_name(plain_model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        analysis.flow(plain_model, TEXT, **kwargs)

def test_norms_must_be_a_bool(plain_model):
    with pytest.raises(TypeError, match="norms must be True or False, got 'yes'"):
        analysis.flow(plain_model, TEXT, norms="yes")


#: Families whose sub-blocks flow may refuse to split (``NotImplementedError``, not wrong numbers):
#: a mixture of experts has no single W_out; a norm after the MLP (Gemma 2/3, OLMo 2) or
#: Granite's multipliers sit between the neurons and the residual stream.
REFUSED = {"mixtral", "qwen3_moe", "gemma2", "gemma3", "olmo2", "granite", "opt_350m"}


@pytest.mark.parametrize("name, kind", [pytest.param(n, k, id=f"{n}-{k}") for n, k in arch.entries()])
def test_every_family_adds_up_or_is_refused(name, kind):
    try:
        adapter = ModelAdapter(arch.load(name, kind))
    except arch.Unbootable as why:
        pytest.skip(str(why))
    text = "def add(a, b):\n    return a + b\ndef add(a, b):"
    try:
        graph = analysis.flow(adapter, text, heads=None, memory=None, neurons=None)
    except NotImplementedError as refused:  # only where expected, and said in words
        assert name in REFUSED, refused
        assert "cannot split" in str(refused) or "do not add up" in str(refused) or "have none" in str(refused)
        return
    attr = analysis.logit_attribution(adapter, text, -1, graph.target)
    assert graph.logit.item() == pytest.approx(attr.logit.item(), abs=1e-4)
    total = sum(n.contribution for n in graph.contributors()) + graph.final_bias.item()
    assert total == pytest.approx(graph.logit.item(), abs=1e-3)
    for layer in range(adapter.n_layers):
        for head in range(adapter.n_heads):
            values = [graph.node(e.source).contribution for e in graph.edges_into(f"L{layer}H{head}")]
            assert sum(values) == pytest.approx(attr.heads[layer, head].item(), abs=1e-4)
        neurons = [graph.node(e.source).contribution for e in graph.edges_into(f"L{layer} MLP")]
        assert sum(neurons) == pytest.approx(attr.mlp[layer].item(), abs=1e-3)
