"""always_on_neurons against a brute-force count over TransformerLens's own cache, and its
value-vector statistics against the model's own weights, norm and unembedding."""

from __future__ import annotations

import pytest
import torch

from circuitwidgets import analysis
from circuitwidgets.model import ModelAdapter

TEXTS = ["When Mary and John went to the store, John gave a drink to Mary.",
         "def add(a, b):\n    return a + b\n" * 6,  # longer than the 64-token context: windows
         "The quick brown fox jumps over the lazy dog."]


def brute_force_shares(model, texts, top, max_tokens=10**9):
    adapter = ModelAdapter(model)
    counts, n_tokens = None, 0
    for text in texts:
        tokens = adapter.to_tokens(text, check_length=False)
        for start in range(0, tokens.shape[1], adapter.n_ctx):
            if n_tokens == max_tokens:
                break
            window = tokens[:, start : start + min(adapter.n_ctx, max_tokens - n_tokens)]
            _, cache = model.run_with_cache(window)
            posts = torch.stack([cache[f"blocks.{l}.mlp.hook_post"][0] for l in range(adapter.n_layers)])
            hits = torch.zeros_like(posts).scatter_(-1, posts.topk(top, dim=-1).indices, 1.0).sum(dim=1)
            counts = hits if counts is None else counts + hits
            n_tokens += posts.shape[1]
    return counts / n_tokens, n_tokens


def test_shares_match_a_brute_force_count_and_stats_match_the_weights(random_model):
    found = analysis.always_on_neurons(random_model, TEXTS, top=16, share=0.3, k=3)
    shares, n_tokens = brute_force_shares(random_model, TEXTS, 16)
    assert found.n_tokens == n_tokens > 64
    torch.testing.assert_close(found.shares, shares.float())
    kept = (shares >= 0.3).nonzero()
    assert len(found.layers) == len(kept) > 0
    assert {(int(l), int(n)) for l, n in zip(found.layers, found.neurons)} == {tuple(map(int, p)) for p in kept}
    assert (found.shares[found.layers, found.neurons].diff() <= 0).all()  # most often first
    vectors = random_model.W_out.detach()[found.layers, found.neurons].float()
    torch.testing.assert_close(found.norms, vectors.norm(dim=-1))
    logits = (random_model.ln_final(vectors) @ random_model.W_U + random_model.b_U).detach().float()
    probs = logits.softmax(-1)
    torch.testing.assert_close(found.entropies, -(probs * probs.log()).sum(-1), rtol=1e-4, atol=1e-4)
    assert torch.equal(found.top_ids, logits.topk(3, dim=-1).indices)


def test_max_tokens_stops_early(random_model):
    found = analysis.always_on_neurons(random_model, TEXTS, top=8, max_tokens=50)
    shares, n_tokens = brute_force_shares(random_model, TEXTS, 8, max_tokens=50)
    assert found.n_tokens == n_tokens == 50  # the first text, then part of the second
    torch.testing.assert_close(found.shares, shares.float())


@pytest.mark.parametrize("kwargs, message", [
    (dict(top=0), r"top 0 is out of range; it must be in \[1, 128\]"),
    (dict(top=129), r"top 129 is out of range"),
    (dict(share=0), r"share 0 is out of range; it must be in \(0, 1\]"),
    (dict(share=1.5), r"share 1.5 is out of range"),
    (dict(max_tokens=0), r"max_tokens 0 is out of range"),
])
def test_bad_input_is_refused_by_name(plain_model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        analysis.always_on_neurons(plain_model, TEXTS, **kwargs)


def test_an_attention_only_model_has_no_neurons():
    import circuitwidgets as cw

    with pytest.raises(ValueError, match="attention-only"):
        analysis.always_on_neurons(cw.load_pocket_model(), TEXTS)
