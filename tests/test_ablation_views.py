"""Ablating heads inside AttentionExplorer and LogitLens: the numbers the view shows (through the
request channel, as the browser asks) and ``w.ablation()`` equal the model run with a
TransformerLens hook that zeroes or means that head's ``hook_z``, on the pocket model and a
bias-free grouped-query Llama of every model kind; the ablated set is checked like any trait."""

from __future__ import annotations

import pytest
import torch
import traitlets

import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.model import hook_name

import architectures as arch

TEXT = "a b c d e f a b c d e"
VIEWS = [cw.AttentionExplorer, cw.LogitLens]


@pytest.fixture(scope="module")
def pocket():
    return cw.load_pocket_model()


@pytest.fixture(scope="module", params=arch.kinds())
def llama(request):
    return arch.load("llama", request.param)


def _by_hand(model, text, heads, mode):
    """The model's own logits ``[seq, d_vocab]`` with a TransformerLens hook on each ablated head's
    layer setting its ``hook_z`` to zero or to its mean over the text's positions."""
    tokens = model.to_tokens(text)
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens)
    hooks = []
    for layer in sorted({l for l, _ in heads}):
        mine = [h for l, h in heads if l == layer]
        mean = cache[hook_name("z", layer)].mean(dim=1)  # [1, heads, d_head]

        def hook(z, hook, mine=mine, mean=mean):
            z = z.clone()
            for h in mine:
                z[:, :, h] = 0 if mode == "zero" else mean[:, None, h].to(z.dtype)
            return z

        hooks.append((hook_name("z", layer), hook))
    with torch.no_grad():
        return model.run_with_hooks(tokens, fwd_hooks=hooks)[0].float().cpu()


def _rank(row, target):
    return int((row > row[target]).sum()) + 1


def _check_against_hand(model, view, heads, mode, position):
    expected = _by_hand(model, TEXT, heads, mode)[position]
    with torch.no_grad():
        plain = model(model.to_tokens(TEXT))[0, position].float().cpu()
    answer = view._reply("ablate", {"run": view.run_id, "heads": heads, "mode": mode, "position": position, "target": None})
    assert answer["ok"], answer
    got = answer["response"]
    target = got["target"]
    assert got["after"]["prob"] == pytest.approx(float(expected.softmax(-1)[target]), abs=1e-5)
    assert got["after"]["logit"] == pytest.approx(float(expected[target]), abs=1e-4)
    assert got["after"]["rank"] == _rank(expected, target)
    assert got["before"]["prob"] == pytest.approx(float(plain.softmax(-1)[target]), abs=1e-5)
    assert got["before"]["rank"] == _rank(plain, target)
    top = expected.softmax(-1).topk(5)
    torch.testing.assert_close(torch.as_tensor(got["top_probs_after"]["buffer"].cast("f")), top.values, atol=1e-5, rtol=1e-4)
    # Python reads the same numbers
    view.ablated, view.ablation_mode = heads, mode
    abl = view.ablation(position)
    assert float(abl.probs_after[0]) == pytest.approx(got["after"]["prob"], abs=1e-6)  # one row or two: float noise
    assert abs(float(expected[target]) - float(plain[target])) > 1e-4  # the ablation did something
    return target


@pytest.mark.parametrize("view_class", VIEWS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_pocket_views_ablate_as_a_hook_on_z_does(pocket, view_class, mode):
    view = view_class(pocket, TEXT)
    for heads in ([[1, 3]], [[0, 1], [1, 3]]):
        _check_against_hand(pocket, view, heads, mode, position=9)


@pytest.mark.parametrize("view_class", VIEWS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_gqa_llama_views_ablate_as_a_hook_on_z_does(llama, view_class, mode):
    view = view_class(llama, TEXT)
    n_layers, n_heads = view.n_layers, view.n_heads
    _check_against_hand(llama, view, [[n_layers - 2, n_heads - 1], [n_layers - 1, 1]], mode, position=5)


def test_the_default_position_and_target_are_the_views(pocket):
    explorer = cw.AttentionExplorer(pocket, TEXT, ablated=[(1, 3)])
    assert explorer.ablation().positions.tolist() == [len(explorer.tokens) - 1]
    explorer.query = 4
    assert explorer.ablation().positions.tolist() == [4]
    lens = cw.LogitLens(pocket, TEXT, ablated=[(1, 3)], ablation_mode="mean", position=6, target=" q")
    abl = lens.ablation()
    assert abl.positions.tolist() == [6] and abl.target_strs == [" q"] and abl.mode == "mean"


def test_induction_head_ablation_breaks_the_repeat_in_the_lens(pocket):
    lens = cw.LogitLens(pocket, TEXT, position=9)  # the second " c": the first was followed by " d"
    lens.toggle_ablation(1, 3)  # the pocket model's induction head
    lens.ablation_mode = "mean"
    abl = lens.ablation()
    assert abl.target_strs == [" d"]
    assert float(abl.probs_after[0]) < 0.5 * float(abl.probs_before[0])


@pytest.mark.parametrize("view_class", VIEWS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "bad, words",
    [
        ([(2, 0)], ["ablated[0]", "layer 2", "0..1"]),
        ([(0, 0), (1, 4)], ["ablated[1] = (1, 4)", "head 4", "0..3"]),
        ([3], ["ablated[0]", "not a (layer, head) pair"]),
        ([(0, 1, 2)], ["ablated[0]", "not a (layer, head) pair"]),
        ([(True, 1)], ["ablated[0]", "layer must be an int"]),
    ],
)
def test_a_bad_ablated_set_is_refused_alike_in_the_constructor_and_on_assignment(pocket, view_class, bad, words):
    with pytest.raises((ValueError, TypeError)) as made:
        view_class(pocket, TEXT, ablated=bad)
    view = view_class(pocket, TEXT, ablated=[(1, 3)])
    with pytest.raises(traitlets.TraitError) as assigned:
        view.ablated = bad
    assert str(made.value) == str(assigned.value)
    for word in words:
        assert word in str(assigned.value)
    assert view.ablated == [(1, 3)]  # the last good state stays


def test_a_bad_mode_and_an_empty_set(pocket):
    view = cw.LogitLens(pocket, TEXT)
    with pytest.raises(traitlets.TraitError, match=r"ablation_mode 'resample' is not one of \['zero', 'mean'\]"):
        view.ablation_mode = "resample"
    with pytest.raises(ValueError, match="ablation_mode 'max'"):
        cw.AttentionExplorer(pocket, TEXT, ablation_mode="max")
    assert view.ablation_mode == "zero"
    with pytest.raises(ValueError, match="no head is ablated"):
        view.ablation()
    answer = view._reply("ablate", {"run": view.run_id, "heads": [], "mode": "zero", "position": 3, "target": None})
    assert not answer["ok"] and "no head is ablated" in answer["error"]
    answer = view._reply("ablate", {"run": view.run_id, "heads": [[0, 9]], "mode": "zero", "position": 3, "target": None})
    assert not answer["ok"] and "head 9 is out of range" in answer["error"]


def test_toggle_and_dedup(pocket):
    view = cw.AttentionExplorer(pocket, TEXT, layer=1, head=2)
    assert view.toggle_ablation() == [(1, 2)]
    assert view.toggle_ablation(0, 1) == [(1, 2), (0, 1)]
    assert view.toggle_ablation() == [(0, 1)]
    view.ablated = [[1, 3], (1, 3)]  # lists from the browser become pairs, each once
    assert view.ablated == [(1, 3)]


def test_an_ablator_reused_equals_fresh_ablations(pocket):
    ablator = analysis.Ablator(pocket, TEXT)
    for components, mode in ((["L1H3"], "mean"), (["L0H1", "L1H0"], "zero"), (["L1 attn"], "mean"), (["L1 resid@3"], "mean")):
        reused = ablator.ablate(components, mode, positions=[2, 9])
        fresh = analysis.ablate(pocket, TEXT, components, mode, positions=[2, 9])
        torch.testing.assert_close(reused.probs_after, fresh.probs_after)
        torch.testing.assert_close(reused.probs_before, fresh.probs_before)
        assert reused.ranks_after.tolist() == fresh.ranks_after.tolist()


def test_an_ablator_reads_more_positions_than_it_keeps(pocket):
    text = " ".join("abcdefghijklmnopqrstuvwxyz" * 4)[:199]  # 101 tokens: more than KEEP_POSITIONS
    ablator = analysis.Ablator(pocket, text)
    assert ablator.seq > analysis.Ablator.KEEP_POSITIONS
    for _ in range(2):  # the second time from what it kept, and one pass
        abl = ablator.ablate(["L1H3"], "mean")
        with torch.no_grad():
            plain = pocket(pocket.to_tokens(text))[0].float()
        torch.testing.assert_close(abl.logits_before, plain[torch.arange(ablator.seq), abl.targets], atol=1e-4, rtol=1e-4)


def _induction_by_hand(model, tokens, half, layer, head, mode):
    """Induction scores [n_layers, n_heads] with a TransformerLens hook switching ``layer.head``'s
    ``hook_z`` off: the attention from each second-copy query ``q`` to key ``q - half + 1``."""
    patterns = {}

    def off(z, hook):
        z = z.clone()
        z[:, :, head] = 0 if mode == "zero" else z[:, :, head].mean(dim=1, keepdim=True)
        return z

    def keep(p, hook):
        patterns[hook.name] = p.detach().float().cpu()

    n_layers = model.cfg.n_layers
    hooks = [(hook_name("z", layer), off)] + [(hook_name("pattern", l), keep) for l in range(n_layers)]
    with torch.no_grad():
        model.run_with_hooks(tokens, fwd_hooks=hooks)
    queries = torch.arange(1 + half, 1 + 2 * half)
    return torch.stack([
        patterns[hook_name("pattern", l)][:, :, queries, queries - half + 1].mean(dim=(0, 2)) for l in range(n_layers)
    ])


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_induction_scores_with_a_head_ablated_equal_a_brute_force(pocket, llama, mode):
    for model, (layer, head) in ((pocket, (0, 1)), (llama, (0, 2))):
        view = cw.InductionScores(model, half=12, batch=3, layer=layer, head=head, ablation=mode)
        tokens, half = view.result["induction"].tokens, view.half
        expected = _induction_by_hand(model, tokens, half, layer, head, mode)
        torch.testing.assert_close(view.ablated_scores("induction"), expected, atol=1e-5, rtol=1e-4)
        # heads up to the ablated layer attend as before
        torch.testing.assert_close(view.ablated_scores("induction")[: layer + 1], view.scores("induction")[: layer + 1])


def test_ablating_the_previous_token_head_breaks_the_induction_head(pocket):
    view = cw.InductionScores(pocket, layer=0, head=1, ablation="zero")  # 50 random tokens said twice, 4 times
    before, after = float(view.scores("induction")[1, 3]), float(view.ablated_scores("induction")[1, 3])
    assert before > 0.85 and after < 0.05  # measured: 0.888 -> 0.019 (K-composition, causally)
    assert (view._ablated.layer, view._ablated.head) == (0, 1)
    view.select(1, 3)  # the ablation follows the selection
    assert (view._ablated.layer, view._ablated.head) == (1, 3)
    torch.testing.assert_close(view.ablated_scores("induction"), view.scores("induction"))  # nothing after layer 1
    view.ablation = "off"
    assert view._ablated is None
    with pytest.raises(ValueError, match="ablation is 'off'"):
        view.ablated_scores()
    with pytest.raises(traitlets.TraitError, match=r"ablation 'max' is not one of \['off', 'zero', 'mean'\]"):
        view.ablation = "max"
    with pytest.raises(ValueError, match="ablation 'max'"):
        cw.InductionScores(pocket, ablation="max")
    with pytest.raises(ValueError, match="layer 5 is out of range"):
        analysis.ablated_head_scores(pocket, view.result, (5, 0))
