"""Direct logit attribution against TransformerLens's ActivationCache.logit_attrs, plus the
deliberate difference: we include the final norm's weight and bias, so parts sum to the logit."""

from __future__ import annotations

import pytest
import torch

import conftest
from circuitwidgets import analysis
from circuitwidgets.model import ModelAdapter

TEXT = "When Mary and John went to the store, John gave a drink to Mary."


def tl_attributions(model, text: str, position: int, target: int):
    """(logit, per-decomposed-component attrs, per-head attrs) the TransformerLens way."""
    logits, cache = model.run_with_cache(text)
    stack, labels = cache.decompose_resid(return_labels=True)
    components = cache.logit_attrs(stack[:, :, position], tokens=target, pos_slice=position)[:, 0]
    heads = cache.stack_head_results(layer=-1, pos_slice=position)
    per_head = cache.logit_attrs(heads, tokens=target, pos_slice=position)[:, 0]
    return logits[0, position, target].item(), dict(zip(labels, components.detach())), per_head.detach()


@pytest.mark.parametrize("position, target", [(5, 42), (-1, 7), (0, 299)])
def test_matches_logit_attrs(random_model, position, target):
    attr = analysis.logit_attribution(random_model, TEXT, position=position, target=target)
    logit, theirs, per_head = tl_attributions(random_model, TEXT, position, target)
    n_layers, n_heads = attr.heads.shape
    torch.testing.assert_close(attr.heads.flatten(), per_head.float(), rtol=1e-4, atol=1e-5)
    assert attr.embed.item() == pytest.approx(theirs["embed"].item(), abs=1e-5)
    assert attr.pos_embed.item() == pytest.approx(theirs["pos_embed"].item(), abs=1e-5)
    for layer in range(n_layers):
        # TransformerLens's attn_out includes the output bias b_O, which we report apart.
        attn = attr.heads[layer].sum() + attr.attn_bias[layer]
        assert attn.item() == pytest.approx(theirs[f"{layer}_attn_out"].item(), abs=1e-5)
        assert attr.mlp[layer].item() == pytest.approx(theirs[f"{layer}_mlp_out"].item(), abs=1e-5)
    assert attr.logit.item() == pytest.approx(logit, abs=1e-5)
    labels, values = attr.components()
    assert values.sum().item() == pytest.approx(logit, abs=1e-4)
    assert len(labels) == len(values) == 2 + n_layers * (n_heads + 2) + 1
    assert labels[:3] == ["embed", "pos_embed", "L0H0"] and labels[-1] == "final bias"


def test_head_top_tokens_are_each_heads_direct_logits(random_model):
    position, k = 4, 6
    attr = analysis.logit_attribution(random_model, TEXT, position=position, k=k)
    _, cache = random_model.run_with_cache(TEXT)
    heads = cache.stack_head_results(layer=-1, pos_slice=position)  # [L*H, 1, d_model]
    scaled = cache.apply_ln_to_stack(heads, layer=-1, pos_slice=position)[:, 0]
    direct = (scaled @ random_model.W_U).detach()  # every head's direct logit for every token
    values, ids = direct.topk(k, dim=-1)
    shape = attr.head_top_ids.shape
    assert shape == (*attr.heads.shape, k)
    assert torch.equal(attr.head_top_ids.reshape(-1, k), ids)
    torch.testing.assert_close(attr.head_top_values.reshape(-1, k), values.float(), rtol=1e-4, atol=1e-5)
    # The head's entry for the target is exactly its attribution.
    target_column = direct[:, attr.target].reshape(attr.heads.shape)
    torch.testing.assert_close(attr.heads, target_column.float(), rtol=1e-4, atol=1e-5)
    assert set(attr.token_strs) >= set(attr.head_top_ids.unique().tolist())


def test_default_target(random_model):
    tokens = random_model.to_tokens(TEXT)[0]
    middle = analysis.logit_attribution(random_model, TEXT, position=3)
    assert middle.target == int(tokens[4]) and middle.position == 3
    logits = random_model(TEXT)[0, -1]
    last = analysis.logit_attribution(random_model, TEXT)
    assert last.target == int(logits.argmax()) and last.position == len(tokens) - 1
    assert last.target_str == ModelAdapter(random_model).token_str(last.target)


def test_unfolded_final_norm_parts_still_sum_to_the_logit(tiny_tokenizer):
    """Deliberate difference from TransformerLens: with a final norm whose weight and bias are
    not folded into W_U, logit_attrs' parts miss the logit; ours add up to it exactly."""
    kind = conftest.model_kinds()[0]
    model = conftest.make_random_model(kind, tiny_tokenizer)
    generator = torch.Generator().manual_seed(4)
    with torch.no_grad():
        model.ln_final.w.copy_(1 + torch.rand(64, generator=generator))
        model.ln_final.b.copy_(torch.randn(64, generator=generator))
    position, target = 6, 11
    attr = analysis.logit_attribution(model, TEXT, position=position, target=target)
    logit, theirs, _ = tl_attributions(model, TEXT, position, target)
    assert attr.logit.item() == pytest.approx(logit, abs=1e-5)
    assert attr.components()[1].sum().item() == pytest.approx(logit, abs=1e-4)
    norm = ModelAdapter(model).final_norm
    expected_bias = norm.bias @ model.W_U[:, target].detach() + model.b_U[target].detach()
    assert attr.final_bias.item() == pytest.approx(expected_bias.item(), abs=1e-5)
    assert abs(sum(theirs.values()).item() - logit) > 0.1  # TransformerLens's parts do not add up


def test_attention_only_model_has_no_mlp(tiny_tokenizer):
    model = conftest.make_random_model(conftest.model_kinds()[0], tiny_tokenizer, attn_only=True)
    attr = analysis.logit_attribution(model, TEXT, position=2, target=3)
    assert attr.mlp is None
    labels, values = attr.components()
    assert not any("MLP" in label for label in labels)
    assert values.sum().item() == pytest.approx(attr.logit.item(), abs=1e-4)


def test_bad_inputs(random_model):
    with pytest.raises(ValueError, match=r"position 40 is out of range; this text has \d+ tokens, so positions 0\.\."):
        analysis.logit_attribution(random_model, TEXT, position=40)
    with pytest.raises(ValueError, match=r"position -99 is out of range"):
        analysis.logit_attribution(random_model, TEXT, position=-99)
    with pytest.raises(TypeError, match="position must be an int"):
        analysis.logit_attribution(random_model, TEXT, position=1.0)
    with pytest.raises(ValueError, match=r"'Mary and' is \d+ tokens .* not a single token"):
        analysis.logit_attribution(random_model, TEXT, target="Mary and")
    with pytest.raises(ValueError, match="target must be one token, got 2"):
        analysis.logit_attribution(random_model, TEXT, target=[1, 2])
    with pytest.raises(ValueError, match=r"token id 300 is out of range \[0, 300\)"):
        analysis.logit_attribution(random_model, TEXT, target=300)


@pytest.mark.parametrize("norm", ["RMS", None])
def test_other_final_norms(tiny_tokenizer, norm):
    """RMSNorm (no centring) and no final norm at all: still equal to logit_attrs, still a sum."""
    model = conftest.make_random_model(conftest.model_kinds()[0], tiny_tokenizer, normalization_type=norm)
    position, target = 3, 21
    attr = analysis.logit_attribution(model, TEXT, position=position, target=target)
    logit, theirs, per_head = tl_attributions(model, TEXT, position, target)
    torch.testing.assert_close(attr.heads.flatten(), per_head.float(), rtol=1e-4, atol=1e-5)
    assert attr.mlp[1].item() == pytest.approx(theirs["1_mlp_out"].item(), abs=1e-5)
    assert attr.components()[1].sum().item() == pytest.approx(logit, abs=1e-4)
    if norm is None:
        assert attr.scale.item() == 1.0


def test_refuses_when_the_parts_do_not_make_the_residual_stream(random_model):
    """A model writing to the stream through something not decomposed (simulated by shifting
    the cached embedding, read as layer 0's input) gets a clear refusal, not attributions that
    silently miss."""
    run = analysis.run_text(random_model, TEXT, needs=["attribution"])
    run.cache["blocks.0.hook_resid_pre"] = run.cache["blocks.0.hook_resid_pre"] + 1.0
    with pytest.raises(NotImplementedError, match="do not add up to this model's final residual stream"):
        analysis.logit_attribution(random_model, run, position=2)

def test_parts_name_each_writer_in_the_order_of_components(random_model):
    attr = analysis.logit_attribution(random_model, TEXT, position=-1)
    parts, values = attr.parts()
    labels, same_values = attr.components()
    assert [p.label for p in parts] == labels and torch.equal(values, same_values)
    heads = [p for p in parts if p.kind == "head"]
    n_layers, n_heads = attr.heads.shape
    assert [(p.layer, p.head) for p in heads] == [(l, h) for l in range(n_layers) for h in range(n_heads)]
    for part, value in zip(parts, values):
        if part.kind == "head":
            assert value == attr.heads[part.layer, part.head]
        elif part.kind == "mlp":
            assert value == attr.mlp[part.layer]
    assert {p.kind for p in parts} >= {"embed", "head", "attn_bias", "final_bias"}
