"""Exact activation patching equals TransformerLens's own get_act_patch_* grids, and attribution
patching equals a hand-written activation-difference × gradient, on every model kind and on a
bias-free grouped-query rotary model."""

from __future__ import annotations

import pytest
import torch

import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.analysis.patching import GRID_SPECS, bytes_per_row
from circuitwidgets.model import hook_name, transformer_lens_version

from intervention_models import CLEAN, CORRUPTED, DISTRACTOR, INTERVENTION_KINDS, TARGET, intervention_model

#: Our grid -> (TransformerLens function, how to turn its axes into ours).
TL_GRIDS = {
    "resid_pre": ("get_act_patch_resid_pre", None),
    "attn_out": ("get_act_patch_attn_out", None),
    "mlp_out": ("get_act_patch_mlp_out", None),
    "heads": ("get_act_patch_attn_head_out_all_pos", None),
    "heads_by_pos": ("get_act_patch_attn_head_out_by_pos", (0, 2, 1)),  # TL: layer, pos, head
    "head_v": ("get_act_patch_attn_head_v_all_pos", None),
    "head_v_by_pos": ("get_act_patch_attn_head_v_by_pos", (0, 2, 1)),
    "head_pattern": ("get_act_patch_attn_head_pattern_all_pos", None),
    "head_pattern_by_pos": ("get_act_patch_attn_head_pattern_by_pos", None),
}


@pytest.fixture(scope="module", params=INTERVENTION_KINDS)
def model(request, tiny_tokenizer, tmp_path_factory):
    return intervention_model(request.param, tiny_tokenizer, str(tmp_path_factory.mktemp("llama")))


def _tl_metric(model, name="logit_diff"):
    """The normalized metric as TransformerLens's patching functions take it, computed here
    from the model's own logits (independently of circuitwidgets)."""
    t, d = model.to_single_token(TARGET), model.to_single_token(DISTRACTOR)
    clean_log_probs = model(model.to_tokens(CLEAN))[0, -1].log_softmax(-1).detach()

    def raw(logits):
        last = logits[0, -1]
        if name == "logit_diff":
            return last[t] - last[d]
        if name == "prob":
            return last.softmax(-1)[t]
        if name == "logit":
            return last[t]
        return (clean_log_probs.exp() * (clean_log_probs - last.log_softmax(-1))).sum()

    with torch.no_grad():
        clean_value = raw(model(model.to_tokens(CLEAN)))
        corrupted_value = raw(model(model.to_tokens(CORRUPTED)))
    return lambda logits: (raw(logits) - corrupted_value) / (clean_value - corrupted_value)


def _transformer_lens_grid(model, grid, metric_name="logit_diff"):
    from transformer_lens import patching as tl_patching

    fn_name, order = TL_GRIDS[grid]
    with torch.no_grad():
        _, clean_cache = model.run_with_cache(model.to_tokens(CLEAN))
        values = getattr(tl_patching, fn_name)(
            model, model.to_tokens(CORRUPTED), clean_cache, _tl_metric(model, metric_name)
        )
    values = torch.as_tensor(values).float().cpu()
    return values if order is None else values.permute(*order)


def _patchable(model, grid):
    """Whether the grid's hook is in the model's computation: not so for the attention pattern
    of TransformerLens 3's TransformerBridge, where it only reports what HF computed."""
    return cw.ModelAdapter(model).can_replace(GRID_SPECS[grid].kind)


@pytest.fixture(scope="module")
def all_grids(model):
    """Every grid the model can patch in one call: the cells of all of them share batches."""
    grids = [grid for grid in analysis.GRIDS if _patchable(model, grid)]
    return analysis.patching(model, CLEAN, CORRUPTED, "logit_diff", at=grids, target=TARGET, distractor=DISTRACTOR)


@pytest.mark.parametrize("grid", list(TL_GRIDS))
def test_exact_grid_equals_transformer_lens(model, all_grids, grid):
    if not _patchable(model, grid):
        # TransformerLens returns all zeros here; we refuse instead of agreeing silently.
        assert grid.startswith("head_pattern") and transformer_lens_version() < (4,)
        assert cw.ModelAdapter(model).kind == "TransformerBridge"
        assert _transformer_lens_grid(model, grid).abs().max() == 0
        with pytest.raises(NotImplementedError, match="does not change the output"):
            analysis.patching(model, CLEAN, CORRUPTED, "prob", at=grid)
        with pytest.raises(NotImplementedError, match="does not change the output"):
            analysis.attribution_patching(model, CLEAN, CORRUPTED, "prob", at=grid)
        return
    ours = all_grids[grid]
    theirs = _transformer_lens_grid(model, grid)
    assert ours.values.shape == theirs.shape
    torch.testing.assert_close(ours.values, theirs, atol=1e-4, rtol=1e-4)
    assert ours.values.abs().max() > 1e-3  # the patch does something (not both trivially zero)
    assert ours.method == "exact" and ours.axes == GRID_SPECS[grid].axes


@pytest.mark.parametrize("metric", ["prob", "logit", "kl"])
def test_other_named_metrics_equal_transformer_lens(model, metric):
    ours = analysis.patching(model, CLEAN, CORRUPTED, metric, at="resid_pre", target=TARGET)
    torch.testing.assert_close(ours.values, _transformer_lens_grid(model, "resid_pre", metric), atol=1e-4, rtol=1e-4)


def test_a_callable_metric_gets_one_runs_logits(model):
    tl_metric = _tl_metric(model)  # TransformerLens's metric, used as it is
    ours = analysis.patching(model, CLEAN, CORRUPTED, tl_metric, at="heads", normalize=False)
    torch.testing.assert_close(ours.values, _transformer_lens_grid(model, "heads"), atol=1e-4, rtol=1e-4)
    assert ours.target is None and ours.position is None


def test_batches_follow_the_memory_budget_and_give_the_same_numbers(model, all_grids):
    adapter = cw.ModelAdapter(model)
    seq = adapter.to_tokens(CLEAN).shape[-1]
    one_row = bytes_per_row(adapter, seq, 1)
    small = analysis.patching(model, CLEAN, CORRUPTED, "logit_diff", at="heads", target=TARGET,
                              distractor=DISTRACTOR, memory_budget=3 * one_row)
    assert small.rows_per_pass == 3 and small.passes == 4  # 8 heads, 2 per pass
    assert all_grids["heads"].passes == 1
    torch.testing.assert_close(small.values, all_grids["heads"].values, atol=1e-5, rtol=1e-5)


def test_without_a_growing_batch_or_readout_shortcut_the_numbers_are_the_same(model, all_grids):
    """The adapter's fallbacks (every row from the start; full logits) give the same grid."""
    adapter = cw.ModelAdapter(model)
    adapter.__dict__["_batch_can_grow"] = False
    adapter.__dict__["_final_readout_is_exact"] = False
    plain = analysis.patching(adapter, CLEAN, CORRUPTED, "logit_diff", at="heads_by_pos", target=TARGET,
                              distractor=DISTRACTOR)
    torch.testing.assert_close(plain.values, all_grids["heads_by_pos"].values, atol=1e-5, rtol=1e-5)
    fresh = cw.ModelAdapter(model)
    analysis.patching(fresh, CLEAN, CORRUPTED, "logit_diff", at="heads", target=TARGET, distractor=DISTRACTOR)
    assert fresh._batch_can_grow and fresh._final_readout_is_exact  # every model kind tested has both shortcuts


def test_a_batch_that_grows_wrong_is_caught_in_the_first_pass(model, all_grids):
    """A model that treats rows joining mid-pass differently (as one that sizes some state by
    the batch before its first layer would, silently): the first pass's hidden twin of row 0
    shows it, the adapter runs every row from the start from then on, and the grid is right."""
    adapter = cw.ModelAdapter(model)
    batch = {}

    def note(act, hook):
        batch["rows"] = act.shape[0]

    def skew(act, hook):  # rows that were not there at the embedding get shifted (not uniformly: a norm would undo that)
        if act.shape[0] > batch["rows"]:
            act = act.clone()
            act[batch["rows"]:] += torch.linspace(-1, 1, act.shape[-1])
        return act

    hooks = [(hook_name("embed"), note), (hook_name("resid_post", adapter.n_layers - 1), skew)]
    with model.hooks(fwd_hooks=hooks):
        grid = analysis.patching(adapter, CLEAN, CORRUPTED, "logit_diff", at="heads", target=TARGET,
                                 distractor=DISTRACTOR)
    assert adapter._batch_can_grow is False
    torch.testing.assert_close(grid.values, all_grids["heads"].values, atol=1e-5, rtol=1e-5)



def test_a_readout_that_is_not_the_models_is_caught_in_the_first_pass(model, all_grids):
    """Where final norm + unembedding of the last residual stream is not what the model itself
    does last (as on a model that scales its logits after the unembedding), the first pass
    finds it against the model's own logits and every pass after it uses those."""
    adapter = cw.ModelAdapter(model)
    own = adapter._readout
    adapter._readout = lambda resid: 1.5 * own(resid)
    grid = analysis.patching(adapter, CLEAN, CORRUPTED, "logit_diff", at="heads", target=TARGET,
                             distractor=DISTRACTOR)
    assert adapter._final_readout_is_exact is False
    torch.testing.assert_close(grid.values, all_grids["heads"].values, atol=1e-5, rtol=1e-5)


def test_pattern_patching_holds_the_clean_patterns_layer_by_layer(model, all_grids):
    """A head pattern grid needs each patched head's whole clean pattern (tokens² numbers):
    with one layer's heads per batch, every clean pass reads one layer's patterns (a pass that
    stops there), never every layer's at once, and the grid is the one TransformerLens's
    functions give (``all_grids`` is checked against them above)."""
    if not _patchable(model, "head_pattern"):
        pytest.skip("this model kind does not read a patched pattern back")
    adapter = cw.ModelAdapter(model)
    asked: list[list[str]] = []
    for method in ("run_with_cache", "run_with_hooks"):
        def spy(tokens, names, *args, method=getattr(adapter, method), **kwargs):
            asked.append(sorted(n for n in names if "hook_pattern" in n))
            return method(tokens, names, *args, **kwargs)
        setattr(adapter, method, spy)
    seq = adapter.to_tokens(CLEAN).shape[-1]
    grid = analysis.patching(adapter, CLEAN, CORRUPTED, "logit_diff", at="head_pattern", target=TARGET,
                             distractor=DISTRACTOR, memory_budget=(1 + adapter.n_heads) * bytes_per_row(adapter, seq, 1))
    reads = [names for names in asked if names]
    assert reads == [[hook_name("pattern", layer)] for layer in range(adapter.n_layers)]
    assert grid.passes == adapter.n_layers
    torch.testing.assert_close(grid.values, all_grids["head_pattern"].values, atol=1e-5, rtol=1e-5)

def _reference_attribution(model, kind):
    """(clean - corrupted) activation × gradient of the normalized metric on the corrupted run,
    written out with TransformerLens's hooks, per layer: [n_layers, *activation]."""
    names = [hook_name(kind, layer) for layer in range(model.cfg.n_layers)]
    with torch.no_grad():
        _, clean_cache = model.run_with_cache(model.to_tokens(CLEAN))
    kept = {}

    def keep(name):
        def hook(act, hook):
            if not act.requires_grad:
                act = act.detach().requires_grad_(True)
            act.retain_grad()
            kept[name] = act
            return act

        return hook

    metric = _tl_metric(model)
    logits = model.run_with_hooks(model.to_tokens(CORRUPTED), fwd_hooks=[(n, keep(n)) for n in names])
    metric(logits).backward()
    model.zero_grad(set_to_none=True)
    return torch.stack([
        ((clean_cache[n] - kept[n]) * kept[n].grad)[0].detach().float() for n in names
    ])


@pytest.mark.parametrize("grid", list(TL_GRIDS))
def test_attribution_patching_equals_activation_difference_times_gradient(model, grid):
    if not _patchable(model, grid):
        with pytest.raises(NotImplementedError, match="does not change the output"):
            analysis.attribution_patching(model, CLEAN, CORRUPTED, "prob", at=grid)
        return
    ours = analysis.attribution_patching(model, CLEAN, CORRUPTED, "logit_diff", at=grid,
                                         target=TARGET, distractor=DISTRACTOR)
    contribution = _reference_attribution(model, GRID_SPECS[grid].kind)
    ref = {
        "resid_pre": lambda c: c.sum(-1), "attn_out": lambda c: c.sum(-1), "mlp_out": lambda c: c.sum(-1),
        "heads": lambda c: c.sum((1, 3)), "heads_by_pos": lambda c: c.sum(-1).transpose(1, 2),
        "head_v": lambda c: c.sum((1, 3)), "head_v_by_pos": lambda c: c.sum(-1).transpose(1, 2),
        "head_pattern": lambda c: c.sum((2, 3)), "head_pattern_by_pos": lambda c: c.sum(-1),
    }[grid](contribution)
    torch.testing.assert_close(ours.values, ref, atol=1e-4, rtol=1e-4)
    assert ours.method == "attribution" and ours.values.abs().max() > 1e-3
    assert all(p.grad is None for p in model.parameters())  # nothing left on the model


def test_attribution_result_computes_any_cell_exactly(model, all_grids):
    est = analysis.attribution_patching(model, CLEAN, CORRUPTED, "logit_diff", at="heads",
                                        target=TARGET, distractor=DISTRACTOR)
    cell = est.peak()
    assert est.exact(*cell) == pytest.approx(float(all_grids["heads"].values[cell]), abs=1e-5)
    one = analysis.patching(model, CLEAN, CORRUPTED, "logit_diff", at="heads", target=TARGET,
                            distractor=DISTRACTOR, cells=[cell])
    assert torch.isnan(one.values).sum() == one.values.numel() - 1 and one.passes == 1


# ---- bad input --------------------------------------------------------------------------


def test_prompts_of_different_lengths_name_both_lengths_and_tokenizations(random_model):
    adapter = cw.ModelAdapter(random_model)
    short, long = "Mary gave to", "Mary and John gave to"
    with pytest.raises(ValueError) as err:
        analysis.patching(random_model, short, long, "logit_diff", target=TARGET, distractor=DISTRACTOR)
    message = str(err.value)
    n_short, n_long = adapter.to_tokens(short).shape[-1], adapter.to_tokens(long).shape[-1]
    assert f"{n_short} tokens" in message and f"{n_long} tokens" in message
    assert str(adapter.to_str_tokens(adapter.to_tokens(long)[0])) in message
    with pytest.raises(ValueError, match="same number of tokens"):
        analysis.attribution_patching(random_model, short, long, "prob")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(metric="logit_diff", target=TARGET, distractor=TARGET), "distractor .* is the target"),
        (dict(metric="logit_difference"), "is not one of"),
        (dict(metric="prob", at="head_out"), "unknown patching grid 'head_out'"),
        (dict(metric="prob", at=[]), "no grid given"),
        (dict(metric="prob", at="heads", cells=[]), "cells= is empty"),
        (dict(metric="prob", at="heads", cells=[(2, 0)]), r"cell \(2, 0\) is not in the 'heads' grid"),
        (dict(metric=lambda logits: logits[0, -1, :2]), "must return a scalar"),
        (dict(metric="prob", position=99), "position 99 is out of range"),
        (dict(metric="prob", memory_budget=0), "memory_budget 0 is out of range"),
    ],
)
def test_bad_input_is_a_clear_value_error(random_model, kwargs, match):
    kwargs = dict(kwargs)
    metric = kwargs.pop("metric")
    with pytest.raises(ValueError, match=match):
        analysis.patching(random_model, CLEAN, CORRUPTED, metric, **kwargs)


def test_a_non_scalar_metric_is_refused_by_attribution_patching_too(random_model):
    with pytest.raises(ValueError, match="must return a scalar"):
        analysis.attribution_patching(random_model, CLEAN, CORRUPTED, lambda logits: logits[0, -1, :2])


def test_a_metric_that_cannot_tell_the_prompts_apart_cannot_be_normalized(random_model):
    with pytest.raises(ValueError, match="on both the clean and the corrupted prompt"):
        analysis.patching(random_model, CLEAN, CLEAN, "prob", target=TARGET)


# ---- the pocket model -------------------------------------------------------------------


def test_pocket_grid_on_a_prompt_pair_differing_in_one_name_peaks_at_that_name():
    model = cw.load_pocket_model()
    clean, corrupted = "def area(self):\n    return", "def area(args):\n    return"
    grid = analysis.patching(model, clean, corrupted, "logit_diff", at="resid_pre", target=" self", distractor=" args")
    differing = [i for i, (a, b) in enumerate(zip(grid.clean_str_tokens, grid.corrupted_str_tokens)) if a != b]
    assert differing == [5] and grid.clean_str_tokens[5] == "self"
    assert grid.peak()[1] == 5
    # Measured: clean logit difference 2.23, corrupted 0.86; layer 1's residual stream at the
    # name's position still carries 0.92 of it (the rest has moved on to later positions).
    assert grid.clean_metric - grid.corrupted_metric > 1.0
    assert grid.values[1, 5] > 0.8
