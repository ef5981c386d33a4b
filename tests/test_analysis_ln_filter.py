"""analysis.ln_filter against a brute-force computation with the model's own modules (its
``blocks[l].ln1`` / ``ln2``, ``ln_final`` and ``unembed``, one vector at a time) on a LayerNorm
family (GPT-2's shape) and an RMSNorm one (Llama's), on both model kinds."""

from __future__ import annotations

import pytest
import torch

import conftest
from circuitwidgets import analysis
from circuitwidgets.model import ModelAdapter, hook_name

from test_analysis_flow import LLAMA_LIKE

TEXT = "When Mary and John went to the store, John gave a drink to"
FAMILIES = {"gpt2": {}, "llama": LLAMA_LIKE}


@pytest.fixture(scope="module", params=[(kind, name) for kind in conftest.model_kinds() for name in FAMILIES],
                ids=lambda p: f"{p[0]}-{p[1]}")
def model(request, tiny_tokenizer):
    kind, name = request.param
    torch.manual_seed(0)
    model = conftest.make_random_model(kind, tiny_tokenizer, **FAMILIES[name])
    # A random model's norms have weight 1 and bias 0, which filter nothing: give them weights.
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if ("ln" in pname or "norm" in pname) and p.ndim == 1:
                p.copy_((1.0 if pname.endswith("w") or "weight" in pname else 0.0) + 0.5 * torch.randn_like(p))
    return model


def _probs(model, normalized: torch.Tensor) -> torch.Tensor:
    """The model's own unembedding of one normalized vector, as probabilities."""
    with torch.inference_mode():
        return model.unembed(normalized[None, None].float())[0, 0].softmax(-1)


def _bare(model, x: torch.Tensor) -> torch.Tensor:
    """``x`` centred (LayerNorm) and scaled to unit RMS: the final norm without weight or bias."""
    if model.cfg.normalization_type in ("LN", "LNPre"):
        x = x - x.mean()
    return x / (x.pow(2).mean() + model.cfg.eps).sqrt()


def _brute_delta(model, module, final: bool, x: torch.Tensor) -> torch.Tensor:
    """P_after - P_before for input ``x`` of ``module``, with the model's own modules."""
    with torch.inference_mode():
        out = module(x[None, None])[0, 0]
        if final:
            return _probs(model, out) - _probs(model, _bare(model, x))
        lens = lambda v: _probs(model, model.ln_final(v[None, None])[0, 0])  # noqa: E731
        return lens(out) - lens(x)


@pytest.mark.parametrize("layer, position", [(0, -1), (1, 5)])
def test_each_norm_matches_the_models_own_modules(model, layer, position):
    adapter = ModelAdapter(model)
    k, n_random, seed = 6, 5, 3
    result = analysis.ln_filter(model, TEXT, layer, position, k=k, n_random=n_random, seed=seed)
    assert [f.norm for f in result.filters] == ["ln1", "ln2", "ln_final"]
    names = [hook_name("resid_pre", layer), hook_name("resid_mid", layer), hook_name("resid_post", adapter.n_layers - 1)]
    _, cache = adapter.run_with_cache(adapter.to_tokens(TEXT), names)
    q = result.position
    inputs = {
        "ln1": (model.blocks[layer].ln1, cache[hook_name("resid_pre", layer)][0, q]),
        "ln2": (model.blocks[layer].ln2, cache[hook_name("resid_mid", layer)][0, q]),
        "ln_final": (model.ln_final, cache[hook_name("resid_post", adapter.n_layers - 1)][0, q]),
    }
    noise = torch.randn(n_random, adapter.d_model, generator=torch.Generator().manual_seed(seed))
    for f in result.filters:
        module, x = inputs[f.norm]
        final = f.norm == "ln_final"
        delta = _brute_delta(model, module, final, x.float())
        torch.testing.assert_close(f.after - f.before, delta, atol=2e-6, rtol=1e-4)
        assert torch.equal(f.raised_ids, delta.topk(k).indices) and torch.equal(f.lowered_ids, (-delta).topk(k).indices)
        torch.testing.assert_close(f.raised_deltas, delta.topk(k).values, atol=2e-6, rtol=1e-4)
        control = torch.stack([_brute_delta(model, module, final, r) for r in noise]).mean(0)
        assert torch.equal(f.control_raised_ids, control.topk(k).indices)
        torch.testing.assert_close(f.control_lowered_deltas, -(-control).topk(k).values, atol=2e-6, rtol=1e-4)
        assert f.overlap == len(set(f.raised_ids.tolist()) & set(f.control_raised_ids.tolist())) / k


def test_bad_input_is_refused_by_name(model):
    with pytest.raises(ValueError, match="layer 9"):
        analysis.ln_filter(model, TEXT, 9)
    with pytest.raises(ValueError, match="position 99 is out of range"):
        analysis.ln_filter(model, TEXT, 0, 99)
    with pytest.raises(ValueError, match="n_random"):
        analysis.ln_filter(model, TEXT, 0, n_random=0)
