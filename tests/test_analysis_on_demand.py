"""patterns_on_demand: every head's pattern rebuilt from queries and keys equals the model's own
hook_pattern (full, block, row, column) on GPT-2-style, Llama-style (grouped-query, rotary)
and Gemma-2-style (soft-capped, sliding-window) models, and families it cannot rebuild fall
back to the kept patterns, saying why."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import architectures as arch
from circuitwidgets import analysis
from circuitwidgets.analysis import on_demand
from circuitwidgets.model import ModelAdapter, QKRecipe, hook_name
from circuitwidgets.widgets._attention_store import thumbnail

# 41 tokens: longer than the test models' sliding window (16) and the probe, shorter than n_ctx.
TEXT = "def add(a, b):\n    return a + b\ndef add(a, b):" * 2
REBUILT = ["gpt2", "llama", "gemma2"]
ENTRIES = [pytest.param(name, kind, id=f"{name}-{kind}") for name in REBUILT for kind in arch.kinds()]


def _adapter(name: str, kind: str) -> ModelAdapter:
    try:
        return ModelAdapter(arch.load(name, kind))
    except arch.Unbootable as why:
        pytest.skip(str(why))


def _hook_patterns(adapter: ModelAdapter, text: str) -> torch.Tensor:
    """The model's own hook_pattern of every layer, [n_layers, n_heads, seq, seq]."""
    names = [hook_name("pattern", layer) for layer in range(adapter.n_layers)]
    _, cache = adapter.run_with_cache(adapter.to_tokens(text), names)
    return torch.stack([cache[name][0] for name in names])


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few rows, so the blockwise summaries really split every layer, and passes
    of 7 query rows through the model's key-value cache (6 passes over TEXT's 41 tokens)."""
    monkeypatch.setattr(on_demand, "BLOCK_ELEMENTS", 4 * 3 * 41)
    monkeypatch.setattr(on_demand, "PASS_ELEMENTS", 4 * 7 * 41)
    assert on_demand.rows_per_pass(4, 41) == 7


@pytest.mark.parametrize("name, kind", ENTRIES)
def test_rebuilt_patterns_equal_hook_pattern(name, kind, small_blocks, monkeypatch):
    adapter = _adapter(name, kind)
    expected = _hook_patterns(adapter, TEXT)  # one pass: the model's own, whole
    assert adapter.passes_reason == ""  # measured (in passes of its own) before the spy goes in
    spans = []
    passes = adapter.passes
    monkeypatch.setattr(adapter, "passes", lambda seq, rows: spans.extend(passes(seq, rows)) or passes(seq, rows))
    att = analysis.patterns_on_demand(adapter, TEXT, pooled_size=8)
    assert len(spans) == 6  # the forward went 7 query rows at a time
    assert att.reason == "" and att._kept is None and att.shape == tuple(expected.shape)
    close = dict(rtol=0, atol=1e-5)
    for layer in range(adapter.n_layers):
        for head in range(adapter.n_heads):
            p = expected[layer, head]
            torch.testing.assert_close(att[layer, head], p, **close)
            torch.testing.assert_close(att.block(layer, head, slice(5, 30), slice(2, 20)), p[5:30, 2:20], **close)
            torch.testing.assert_close(att.row(layer, head, 33), p[33], **close)
            torch.testing.assert_close(att.column(layer, head, 0), p[:, 0], **close)
            torch.testing.assert_close(att[layer, head, -1, 3], p[-1, 3], **close)
    reference = analysis.attention_patterns(adapter, TEXT)
    torch.testing.assert_close(att.pooled, thumbnail(expected, 8), **close)
    torch.testing.assert_close(att.entropy, reference.entropy, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(att.bos_share, reference.bos_share, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", arch.kinds())
def test_grouped_query_keys_stay_unexpanded(kind):
    adapter = _adapter("llama", kind)
    att = analysis.patterns_on_demand(adapter, TEXT)
    assert att._k[0].shape[0] == adapter.n_kv_heads < adapter.n_heads == att._q[0].shape[0]
    assert adapter.qk_recipe.q_kind == "rot_q"


@pytest.mark.parametrize("kind", arch.kinds())
def test_gemma2_recipe_has_its_soft_cap_scale_and_window(kind):
    recipe = _adapter("gemma2", kind).qk_recipe
    assert recipe.reason == "" and recipe.soft_cap == 1.0
    # Gemma 2 alternates: layer 0 local (window 16), layer 1 global; the HookedTransformer
    # built from TL 3's options (architectures.py) has no window.
    assert recipe.windows == ((None, None) if kind == "hooked" else (16, None))
    torch.testing.assert_close(torch.tensor(recipe.scales), torch.tensor([16**-0.5] * 2))  # query_pre_attn_scalar 16


@pytest.mark.parametrize("kind", arch.kinds())
def test_alibi_falls_back_to_kept_patterns_saying_why(kind):
    adapter = _adapter("bloom", kind)
    att = analysis.patterns_on_demand(adapter, TEXT, pooled_size=8)
    assert "ALiBi" in att.reason and att._kept is not None and att._q == []
    expected = _hook_patterns(adapter, TEXT)
    bound = torch.clamp(expected * 2**-11, min=2**-25)  # float16, as kept
    assert torch.all((att[1, 2] - expected[1, 2]).abs() <= bound[1, 2])
    torch.testing.assert_close(att.pooled, thumbnail(expected, 8))
    torch.testing.assert_close(att.entropy, analysis.attention_patterns(adapter, TEXT).entropy)


def test_a_text_longer_than_a_declared_window_falls_back(small_blocks):
    adapter = ModelAdapter(arch.load("gpt2", arch.kinds()[0]))
    adapter.__dict__["qk_recipe"] = dataclasses.replace(adapter.qk_recipe, longest=20)  # as if it declared one
    att = analysis.patterns_on_demand(adapter, TEXT)
    assert "sliding attention window of 20 tokens" in att.reason and "41 tokens" in att.reason
    torch.testing.assert_close(att[0, 1], _hook_patterns(adapter, TEXT)[0, 1], rtol=0, atol=1e-3)
    short = analysis.patterns_on_demand(adapter, "a b c")
    assert short.reason == ""


def test_why_not():
    recipe = QKRecipe("q", "k", (0.25,), None, (None,), longest=100)
    assert recipe.why_not(100) == "" and "101 tokens" in recipe.why_not(101)
    assert QKRecipe("q", "k", (), None, (), None, reason="no hooks").why_not(5) == "no hooks"


def test_memory_is_linear_in_tokens(random_model):
    adapter = ModelAdapter(random_model)
    one = analysis.patterns_on_demand(adapter, "a b " * 10)
    two = analysis.patterns_on_demand(adapter, "a b " * 20)
    assert two.seq_len > 1.5 * one.seq_len
    per_token = adapter.n_layers * ((adapter.n_heads + adapter.n_kv_heads) * adapter.d_head + adapter.n_heads) * 4
    assert one.nbytes == one.seq_len * per_token and two.nbytes == two.seq_len * per_token


def test_bad_indices_name_the_range(random_model):
    att = analysis.patterns_on_demand(random_model, "a b c")
    with pytest.raises(IndexError, match=r"head 9 is out of range; this model has heads 0\.\.3"):
        att[0, 9]
    with pytest.raises(IndexError, match=r"layer -1 is out of range"):
        att.row(-1, 0, 0)
    with pytest.raises(IndexError, match=r"query 7 is out of range; this text has positions 0\.\.4"):
        att.row(0, 0, 7)
    with pytest.raises(ValueError, match="step 1"):
        att.block(0, 0, slice(0, 4, 2))
    with pytest.raises(IndexError, match=r"\[layer, head\]"):
        att[0]
    with pytest.raises(ValueError, match="empty"):
        analysis.patterns_on_demand(random_model, "")


@pytest.mark.parametrize("name, kind", ENTRIES)
def test_text_head_scores_block_by_block_equal_those_of_the_full_patterns(name, kind, small_blocks):
    adapter = _adapter(name, kind)
    run = analysis.run_text(adapter, TEXT, needs=("attention",))
    full = analysis.all_text_head_scores(adapter, run)  # from hook_pattern, whole
    blockwise = analysis.all_text_head_scores(adapter, TEXT)
    for kind_ in analysis.KINDS:
        torch.testing.assert_close(blockwise[kind_].scores, full[kind_].scores, rtol=1e-5, atol=1e-6)
        assert torch.equal(blockwise[kind_].targets, full[kind_].targets)
        assert isinstance(blockwise[kind_].patterns, analysis.OnDemandPatterns)


def test_induction_scores_on_a_text_keep_no_full_pattern(random_model, tiny_tokenizer):
    import circuitwidgets as cw
    from conftest import make_random_model, model_kinds

    w = cw.InductionScores(random_model, text=TEXT)
    assert isinstance(w._patterns, analysis.OnDemandPatterns) and w._patterns._kept is None
    expected = _hook_patterns(ModelAdapter(random_model), TEXT)
    torch.testing.assert_close(w.pattern(1, 2), expected[1, 2], rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="not this model's"):
        analysis.all_text_head_scores(make_random_model(model_kinds()[0], tiny_tokenizer, n_layers=1), w._patterns)


@pytest.mark.parametrize("name, kind", ENTRIES)
def test_logits_in_passes_through_the_cache_equal_one_pass(name, kind):
    adapter = _adapter(name, kind)
    tokens = adapter.to_tokens(TEXT)
    whole = adapter.forward_logits(tokens)
    for rows in (1, 7, 40):
        torch.testing.assert_close(adapter.forward_logits(tokens, rows=rows), whole, rtol=0, atol=1e-4)


def test_a_model_whose_cache_passes_differ_runs_one_pass_saying_why(small_blocks, monkeypatch):
    import contextlib

    adapter = ModelAdapter(arch.load("llama", arch.kinds()[0]))
    expected = _hook_patterns(adapter, TEXT)
    # as if the attention ignored the cache: each pass would see only its own keys
    monkeypatch.setattr(adapter, "_key_value_cache", lambda: contextlib.nullcontext(lambda n: {}))
    assert "change the logits by" in adapter.passes_reason and "40 tokens" in adapter.passes_reason
    att = analysis.patterns_on_demand(adapter, TEXT)
    torch.testing.assert_close(att[1, 2], expected[1, 2], rtol=0, atol=1e-5)
    torch.testing.assert_close(adapter.forward_logits(adapter.to_tokens(TEXT), rows=7), adapter.forward_logits(adapter.to_tokens(TEXT)))


def test_passes_split_evenly_and_refuse_bad_rows(random_model):
    adapter = ModelAdapter(random_model)
    assert adapter.passes(41, 7) == [range(0, 6), range(6, 13), range(13, 20), range(20, 27), range(27, 34), range(34, 41)]
    assert adapter.passes(41, None) == [range(0, 41)] == adapter.passes(41, 100)
    with pytest.raises(ValueError, match="rows must be at least 1.*got 0"):
        adapter.passes(41, 0)
    with pytest.raises(ValueError, match="rows must be at least 1"):
        adapter.forward_logits(adapter.to_tokens("a b"), rows=-2)
    with pytest.raises(ValueError, match="one sequence, got a batch of 2"):
        adapter.forward_logits(adapter.to_tokens("a b").repeat(2, 1), rows=1)
    assert on_demand.rows_per_pass(12, 1024) is None and on_demand.rows_per_pass(32, 16384) == 64


def test_a_native_bridge_model_has_no_cache_and_runs_one_pass(random_model):
    adapter = ModelAdapter(random_model)
    if adapter.kind == "HookedTransformer":
        assert adapter.passes_reason == ""
        return
    # TransformerLens 4's boot_native models (the random test model) keep no key-value cache
    assert "change the logits by" in adapter.passes_reason
    tokens = adapter.to_tokens(TEXT)
    torch.testing.assert_close(adapter.forward_logits(tokens, rows=5), adapter.forward_logits(tokens))


@pytest.mark.parametrize("kind", arch.kinds())
def test_a_bfloat16_model_in_passes_matches_its_own_patterns(kind, small_blocks):
    try:
        adapter = ModelAdapter(arch.load("llama", kind, torch.bfloat16))
    except arch.Unbootable as why:
        pytest.skip(str(why))
    assert adapter.passes_reason == ""
    expected = _hook_patterns(adapter, TEXT)  # one pass, the model's own bfloat16 attention
    att = analysis.patterns_on_demand(adapter, TEXT)
    for layer in range(adapter.n_layers):
        torch.testing.assert_close(att[layer, 2], expected[layer, 2], rtol=0, atol=adapter.tolerance / 5)
