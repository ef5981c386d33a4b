"""knowledge_neurons equals integrated gradients written out by hand: for each step α, the
model's own run with one TransformerLens hook scaling a layer's neuron activations at the
position, and torch.autograd on the target's probability (a right Riemann sum)."""

from __future__ import annotations

import pytest
import torch

import architectures as arch
import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.model import ModelAdapter, hook_name

TEXT = "def add(a, b):\n    return a + b\ndef add(a, b):"


def _by_hand(model, text: str, layer: int, position: int, target: int, steps: int) -> torch.Tensor:
    tokens = ModelAdapter(model).to_tokens(text)
    total = None
    activation = None
    for step in range(1, steps + 1):
        alpha = step / steps
        held = {}

        def hook(post, hook):
            post = post.detach().clone()
            held["w"] = post[0, position].clone()
            scaled = post.clone()
            scaled[0, position] = alpha * post[0, position]
            scaled.requires_grad_(True)
            held["x"] = scaled
            return scaled

        with torch.enable_grad():
            logits = model.run_with_hooks(tokens, fwd_hooks=[(hook_name("mlp_post", layer), hook)])
            p = logits[0, position].float().softmax(-1)[target]
            (grad,) = torch.autograd.grad(p, held["x"])
        grad = grad[0, position].float()
        total = grad if total is None else total + grad
        activation = held["w"].float()
    return activation * total / steps


@pytest.mark.parametrize("name, kind", [("gpt2", arch.kinds()[0]), ("llama", arch.kinds()[0])])
def test_knowledge_neurons_equal_integrated_gradients_by_hand(name, kind):
    try:
        model = arch.load(name, kind)
    except arch.Unbootable as why:
        pytest.skip(str(why))
    kn = analysis.knowledge_neurons(model, TEXT, position=-2, steps=5, top=4)
    for layer in range(ModelAdapter(model).n_layers):
        expected = _by_hand(model, TEXT, layer, kn.position, kn.target, 5)
        torch.testing.assert_close(kn.attributions[layer], expected, atol=1e-6, rtol=1e-4)
    assert kn.attributions.abs().max() > 0
    # the ranking is of the attributions, highest first, and each neuron's value vector is read
    flat = kn.attributions.reshape(-1)
    assert torch.equal(kn.scores, flat.topk(4).values)
    torch.testing.assert_close(kn.attributions[kn.layers, kn.neurons], kn.scores)
    assert kn.top_ids.shape == (4, 5)


def test_more_steps_approach_the_completeness_of_integrated_gradients():
    """Integrated gradients over one layer add up to P(w̄) − P(0 at that layer): the sum of a
    layer's attributions approaches it as the steps grow."""
    small = cw.load_pocket_model("small-4l")
    text, layer = "for i in range(10):\n    print(", 3
    tokens = ModelAdapter(small).to_tokens(text)
    coarse = analysis.knowledge_neurons(small, text, steps=2, top=1)

    def zero(post, hook):
        post = post.clone()
        post[0, -1] = 0
        return post

    with torch.inference_mode():
        off = small.run_with_hooks(tokens, fwd_hooks=[(hook_name("mlp_post", layer), zero)])[0, -1].softmax(-1)[coarse.target]
    gap = coarse.prob - float(off)
    fine = analysis.knowledge_neurons(small, text, steps=64, top=1)
    assert abs(float(fine.attributions[layer].sum()) - gap) < abs(float(coarse.attributions[layer].sum()) - gap) + 1e-6
    assert float(fine.attributions[layer].sum()) == pytest.approx(gap, abs=0.02 * max(abs(gap), 1e-3) + 2e-3)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(position=99), ValueError, "position 99 is out of range"),
    (dict(target=" a b"), ValueError, "not a single token"),
    (dict(steps=0), ValueError, "steps"),
    (dict(steps=201), ValueError, "steps"),
    (dict(top=0), ValueError, "top"),
])
def test_bad_input_is_refused_clearly(kwargs, error, match):
    with pytest.raises(error, match=match):
        analysis.knowledge_neurons(cw.load_pocket_model("small-4l"), "a b c", **kwargs)


def test_an_attention_only_model_has_no_neurons():
    with pytest.raises(ValueError, match="attention-only"):
        analysis.knowledge_neurons(cw.load_pocket_model("attn-only-2l"), "a b c")
