"""What the path expansion reads from the adapter besides the weights: each layer's
attention-input norm as a formula, the value biases and the position encoding."""

from __future__ import annotations

import pytest
import torch

from circuitwidgets.model import ModelAdapter

from conftest import make_random_model, model_kinds
from test_analysis_composition import ROTARY_GQA


@pytest.mark.parametrize("kind", model_kinds())
@pytest.mark.parametrize("family", ["gpt2-style", "rotary-rms-gqa", "no-norm"])
def test_attention_input_norms_reproduce_each_layers_ln1(tiny_tokenizer, kind, family):
    overrides = {"gpt2-style": {}, "rotary-rms-gqa": ROTARY_GQA, "no-norm": dict(normalization_type=None)}[family]
    model = make_random_model(kind, tiny_tokenizer, **overrides)
    adapter = ModelAdapter(model)
    norms = adapter.attention_input_norms
    assert len(norms) == 2
    assert {n.kind for n in norms} == {{"gpt2-style": "LN", "rotary-rms-gqa": "RMS", "no-norm": "none"}[family]}
    x = torch.randn(5, adapter.d_model, generator=torch.Generator().manual_seed(1)) * 2 - 0.5
    for layer, norm in enumerate(norms):
        expected = model.blocks[layer].ln1(x).detach().float()
        torch.testing.assert_close(norm.center(x) / norm.scale(x) * norm.weight + norm.bias, expected, rtol=1e-4, atol=1e-5)
    assert adapter.position_kind == ("rotary" if family == "rotary-rms-gqa" else "learned")


@pytest.mark.parametrize("kind", model_kinds())
def test_value_bias_is_one_per_query_head(tiny_tokenizer, kind):
    model = make_random_model(kind, tiny_tokenizer, **ROTARY_GQA)
    b_V = ModelAdapter(model).value_bias
    assert b_V.shape == (2, 4, 16)
    # Grouped-query: 2 K/V heads, each shared by 2 query heads.
    torch.testing.assert_close(b_V[:, 0], b_V[:, 1])
    torch.testing.assert_close(b_V[:, 2], b_V[:, 3])


def test_a_norm_the_formula_does_not_reproduce_is_refused(tiny_tokenizer):
    model = make_random_model(model_kinds()[0], tiny_tokenizer)
    # plain torch: squares into the output, so no weight and bias make it centre(x)/scale*w + b
    handle = model.blocks[1].ln1.register_forward_hook(lambda module, args, out: out + 0.5 * out**2)
    try:
        with pytest.raises(NotImplementedError, match=r"this model's blocks\.1\.ln1 .* is not of the form"):
            ModelAdapter(model).attention_input_norms
    finally:
        handle.remove()
