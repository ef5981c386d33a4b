"""attention_patterns and the shared forward pass (run_text) against TransformerLens's own cache."""

from __future__ import annotations

import pytest
import torch

from circuitwidgets import analysis
from circuitwidgets.model import ModelAdapter

TEXT = "When Mary and John went to the store, John gave a drink to Mary."


def test_patterns_match_run_with_cache(random_model):
    result = analysis.attention_patterns(random_model, TEXT)
    _, cache = random_model.run_with_cache(TEXT)
    n_layers = random_model.cfg.n_layers
    expected = torch.stack([cache[f"blocks.{layer}.attn.hook_pattern"][0] for layer in range(n_layers)])
    assert result.patterns.shape == expected.shape
    torch.testing.assert_close(result.patterns, expected.float())
    assert torch.equal(result.tokens, random_model.to_tokens(TEXT)[0].cpu())
    assert result.str_tokens == [str(s) for s in random_model.to_str_tokens(TEXT)]
    torch.testing.assert_close(result.patterns.sum(-1), torch.ones(expected.shape[:-1]))


def test_entropy_and_bos_share_by_hand(random_model):
    result = analysis.attention_patterns(random_model, TEXT)
    p = result.patterns.double()
    seq = p.shape[-1]
    for layer, head in [(0, 0), (1, 3)]:
        rows = [p[layer, head, q, : q + 1] for q in range(1, seq)]
        entropy = sum(-(r[r > 0] * r[r > 0].log()).sum() for r in rows) / (seq - 1)
        bos = sum(r[0] for r in rows) / (seq - 1)
        assert result.entropy[layer, head].item() == pytest.approx(entropy.item(), rel=1e-5)
        assert result.bos_share[layer, head].item() == pytest.approx(bos.item(), rel=1e-5)


def test_one_token_text_uses_its_only_position(tiny_tokenizer):
    import conftest

    model = conftest.make_random_model(conftest.model_kinds()[0], tiny_tokenizer, default_prepend_bos=False)
    result = analysis.attention_patterns(model, "The")
    assert result.tokens.shape == (1,)
    assert torch.equal(result.bos_share, torch.ones_like(result.bos_share))
    assert torch.equal(result.entropy, torch.zeros_like(result.entropy))


def test_one_run_serves_several_analyses(random_model, monkeypatch):
    calls = []
    original = ModelAdapter.run_with_cache

    def counting(self, tokens, names):
        calls.append(tokens.shape)
        return original(self, tokens, names)

    monkeypatch.setattr(ModelAdapter, "run_with_cache", counting)
    run = analysis.run_text(random_model, TEXT)
    assert len(calls) == 1
    analysis.attention_patterns(random_model, run)
    analysis.logit_lens(random_model, run)
    analysis.logit_attribution(random_model, run)
    analysis.text_head_scores(random_model, run, "induction")
    assert len(calls) == 1


def test_run_keeps_only_what_was_asked(random_model):
    run = analysis.run_text(random_model, TEXT, needs=["attention"])
    assert all(name.endswith("hook_pattern") for name in run.cache)
    with pytest.raises(ValueError, match="serves \\['attention'\\], not 'logit_lens'"):
        analysis.logit_lens(random_model, run)


def test_run_from_another_model_is_refused(random_model, tiny_tokenizer):
    import conftest

    other = conftest.make_random_model(conftest.model_kinds()[0], tiny_tokenizer)
    run = analysis.run_text(other, TEXT, needs=["attention"])
    with pytest.raises(ValueError, match="different model"):
        analysis.attention_patterns(random_model, run)


def test_bad_texts(random_model):
    with pytest.raises(ValueError, match="empty"):
        analysis.attention_patterns(random_model, "")
    with pytest.raises(ValueError, match=r"tokens long.*context is 64 tokens"):
        analysis.attention_patterns(random_model, "word " * 200)
    with pytest.raises(ValueError, match="unknown analysis 'lens'"):
        analysis.run_text(random_model, TEXT, needs=["lens"])
    with pytest.raises(TypeError, match="HookedTransformer or TransformerBridge"):
        analysis.attention_patterns("gpt2", TEXT)


def test_attention_by_layer_streams_the_same_patterns(random_model):
    """The streamed patterns, layer by layer and in order, equal attention_patterns', and so do
    the summaries it keeps."""
    full = analysis.attention_patterns(random_model, TEXT)
    seen = []
    summary = analysis.attention_by_layer(random_model, TEXT, lambda layer, p: seen.append((layer, p.clone())))
    assert [layer for layer, _ in seen] == list(range(random_model.cfg.n_layers))
    torch.testing.assert_close(torch.stack([p for _, p in seen]), full.patterns)
    torch.testing.assert_close(summary.entropy, full.entropy)
    torch.testing.assert_close(summary.bos_share, full.bos_share)
    assert torch.equal(summary.tokens, full.tokens) and summary.str_tokens == full.str_tokens


def test_attention_by_layer_rejects_bad_text(random_model):
    with pytest.raises(ValueError, match="text is empty"):
        analysis.attention_by_layer(random_model, "", lambda layer, p: None)


def test_run_with_hooks_reports_a_hook_that_never_fired(random_model):
    adapter = ModelAdapter(random_model)
    with pytest.raises(KeyError, match="blocks.99"):  # TL or the adapter names it
        adapter.run_with_hooks(adapter.to_tokens("hi"), {"blocks.99.attn.hook_pattern": lambda a: None})
