"""Next-token probabilities against TransformerLens's own loss and a brute-force softmax."""

from __future__ import annotations

import math

import pytest
import torch
from transformer_lens.utilities import lm_cross_entropy_loss

from circuitwidgets.analysis.next_token import next_token_probabilities
from circuitwidgets.model import as_adapter

TEXT = "When Mary and John went to the store, John gave a drink to"


def test_matches_transformer_lens_per_token_loss(random_model):
    result = next_token_probabilities(random_model, TEXT)
    tokens = random_model.to_tokens(TEXT)
    with torch.inference_mode():
        logits = random_model(tokens, return_type="logits")
    loss = lm_cross_entropy_loss(logits, tokens, per_token=True)[0]
    assert math.isnan(result.probs[0])
    torch.testing.assert_close(result.probs[1:], torch.exp(-loss).float(), rtol=1e-5, atol=1e-7)


def test_matches_brute_force_softmax(random_model):
    result = next_token_probabilities(random_model, TEXT)
    tokens = random_model.to_tokens(TEXT)[0]
    with torch.inference_mode():
        logits = random_model(tokens[None], return_type="logits")[0].double()
    for i in range(1, len(tokens)):
        z = logits[i - 1]
        p = math.exp(z[tokens[i]] - z.max()) / torch.exp(z - z.max()).sum().item()
        assert result.probs[i].item() == pytest.approx(p, rel=1e-5)


def test_tokens_follow_the_adapter(random_model):
    adapter = as_adapter(random_model)
    result = next_token_probabilities(adapter, TEXT)
    assert result.text == TEXT
    assert result.token_ids.tolist() == adapter.to_tokens(TEXT)[0].tolist()
    assert result.str_tokens == adapter.to_str_tokens(result.token_ids)
    assert result.probs.dtype == torch.float32 and result.probs.shape == (len(result),)
    assert adapter.prepends_bos and result.token_ids[0] == adapter.bos_token_id


def test_bad_text_raises_with_the_reason(random_model):
    with pytest.raises(ValueError, match="text is empty"):
        next_token_probabilities(random_model, "")
    with pytest.raises(ValueError, match=r"context is 64 tokens \(n_ctx\)"):
        next_token_probabilities(random_model, "x " * 80)
