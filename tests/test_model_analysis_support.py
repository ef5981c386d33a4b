"""What the adapter gained for the analysis core: the final norm as a formula, W_pos on every
model kind, special token ids and the final-norm scale hook."""

from __future__ import annotations

import pytest
import torch

import conftest
from circuitwidgets.model import ModelAdapter, hook_name


@pytest.mark.parametrize("norm, kind", [("LN", "LN"), ("RMS", "RMS"), (None, "none")])
def test_final_norm_formula_reproduces_ln_final(tiny_tokenizer, norm, kind):
    for model_kind in conftest.model_kinds():
        model = conftest.make_random_model(model_kind, tiny_tokenizer, normalization_type=norm)
        if norm is not None:
            with torch.no_grad():
                model.ln_final.w.copy_(torch.linspace(0.5, 2.0, 64))
            if norm == "LN":
                with torch.no_grad():
                    model.ln_final.b.copy_(torch.linspace(-1.0, 1.0, 64))
        final = ModelAdapter(model).final_norm
        assert final.kind == kind
        x = torch.randn(3, 5, 64)
        expected = model.ln_final(x).detach() if norm is not None else x
        got = final.center(x) / final.scale(x) * final.weight + final.bias
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        if norm is not None:
            _, cache = model.run_with_cache("The quick brown fox")
            resid = cache[hook_name("resid_post", 1)]
            torch.testing.assert_close(final.scale(resid), cache[hook_name("ln_final_scale")])


def test_a_final_norm_the_formula_cannot_express_is_refused(random_model):
    adapter = ModelAdapter(random_model)
    # A forward hook that returns a value replaces the module's output: tanh is no norm.
    handle = random_model.ln_final.register_forward_hook(lambda module, args, out: torch.tanh(out))
    try:
        with pytest.raises(NotImplementedError, match="not of the form centre"):
            adapter.final_norm
    finally:
        handle.remove()


def test_positional_embedding_is_found_on_every_model_kind(random_model):
    W_pos = ModelAdapter(random_model).weights.W_pos
    assert W_pos is not None and W_pos.shape == (64, 64)
    torch.testing.assert_close(W_pos, random_model.pos_embed.W_pos.detach())


def test_special_token_ids(random_model, tiny_tokenizer):
    adapter = ModelAdapter(random_model)
    assert adapter.bos_token_id in adapter.special_token_ids
    assert adapter.special_token_ids == frozenset(tiny_tokenizer.all_special_ids)
