"""Composition scores against TransformerLens's all_composition_scores and brute force."""

from __future__ import annotations

import pytest
import torch

from circuitwidgets import analysis


def tl_scores(model, kind: str) -> torch.Tensor:
    result = model.all_composition_scores(kind)
    # HookedTransformer returns the tensor; the bridge wraps it in a CompositionScores.
    return getattr(result, "scores", result).detach().float()


@pytest.mark.parametrize("kind", analysis.COMPOSITION_KINDS)
def test_matches_all_composition_scores(random_model, kind):
    ours = analysis.composition_scores(random_model, kind)
    theirs = tl_scores(random_model, kind)
    assert ours.shape == theirs.shape == (2, 4, 2, 4)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", analysis.COMPOSITION_KINDS)
def test_brute_force_frobenius_norms(random_model, kind):
    W_Q, W_K, W_V, W_O = (w.detach().double() for w in (random_model.W_Q, random_model.W_K, random_model.W_V, random_model.W_O))
    ours = analysis.composition_scores(random_model, kind)
    for (l1, h1), (l2, h2) in [((0, 0), (1, 3)), ((0, 2), (1, 1))]:
        writer = W_V[l1, h1] @ W_O[l1, h1]
        reader = {
            "Q": W_Q[l2, h2] @ W_K[l2, h2].T,
            "K": W_K[l2, h2] @ W_Q[l2, h2].T,
            "V": W_V[l2, h2] @ W_O[l2, h2],
        }[kind]
        expected = (writer @ reader).norm() / (writer.norm() * reader.norm())
        assert ours[l1, h1, l2, h2].item() == pytest.approx(expected.item(), rel=1e-4)
    # Only earlier -> later layer pairs are scored.
    assert (ours[1, :, 0] == 0).all() and (ours[0, :, 0] == 0).all() and (ours[1, :, 1] == 0).all()
    assert ((ours >= 0) & (ours <= 1)).all()


def test_bad_kind(random_model):
    with pytest.raises(ValueError, match=r"kind 'O' is not one of \['Q', 'K', 'V'\]"):
        analysis.composition_scores(random_model, "O")


@pytest.mark.parametrize("kind", analysis.COMPOSITION_KINDS)
def test_matches_the_factored_matrix_utility(random_model, kind):
    """transformer_lens.utils.composition_scores (3.x; transformer_lens.utilities in 4.x) on
    model.OV and model.QK, unmasked: equal wherever the later head is in a later layer."""
    from transformer_lens.utilities.matrix import composition_scores as tl_composition

    right = {"Q": random_model.QK, "K": random_model.QK.T, "V": random_model.OV}[kind]
    theirs = tl_composition(random_model.OV, right, broadcast_dims=True).detach().float()
    ours = analysis.composition_scores(random_model, kind)
    torch.testing.assert_close(ours[0, :, 1], theirs[0, :, 1], rtol=1e-4, atol=1e-6)


def test_a_zero_head_scores_zero_where_transformer_lens_gives_nan(random_model):
    """Deliberate difference: 0/0 is reported as 0 (nothing is composed), not NaN."""
    import dataclasses

    from transformer_lens import FactoredMatrix
    from transformer_lens.utilities.matrix import composition_scores as tl_composition

    from circuitwidgets.model import ModelAdapter

    adapter = ModelAdapter(random_model)
    weights = adapter.weights
    W_O = weights.W_O.clone()
    W_O[0, 2] = 0  # head L0H2 writes nothing
    adapter.__dict__["weights"] = dataclasses.replace(weights, W_O=W_O)  # the adapter's cache
    ours = analysis.composition_scores(adapter, "V")
    theirs = tl_composition(FactoredMatrix(weights.W_V, W_O), FactoredMatrix(weights.W_V, W_O))
    assert torch.isnan(theirs[0, 2, 1]).all()
    assert (ours[0, 2, 1] == 0).all()
    torch.testing.assert_close(ours[0, 1, 1], theirs[0, 1, 1], rtol=1e-4, atol=1e-6)


# ---- all three kinds at once, with the random baseline -----------------------------------

#: A rotary, RMS-normed, grouped-query model (2 K/V heads shared by 4 query heads): built on
#: both generations (HookedTransformer on TL 3, the bridge's boot_native on TL 4).
ROTARY_GQA = dict(positional_embedding_type="rotary", normalization_type="RMS", n_key_value_heads=2, rotary_dim=16)


@pytest.fixture(scope="module", params=["gpt2-style", "rotary-rms-gqa"])
def family_model(request, tiny_tokenizer):
    from conftest import make_random_model, model_kinds

    overrides = ROTARY_GQA if request.param == "rotary-rms-gqa" else {}
    return make_random_model(model_kinds()[0], tiny_tokenizer, **overrides)


def test_head_composition_equals_transformer_lens_on_both_families(family_model):
    comp = analysis.head_composition(family_model, draws=64)
    assert comp.kinds == analysis.COMPOSITION_KINDS
    for i, kind in enumerate(comp.kinds):
        torch.testing.assert_close(comp.scores[i], tl_scores(family_model, kind), rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(comp.of(kind), comp.scores[i])
    rotary = family_model.cfg.positional_embedding_type == "rotary"
    assert (comp.approximation == analysis.composition.ROTARY_APPROXIMATION) if rotary else comp.approximation is None
    assert comp.head_labels[:5] == ["L0H0", "L0H1", "L0H2", "L0H3", "L1H0"]


def test_excess_is_the_scores_minus_the_baseline_on_scored_pairs_only(random_model):
    comp = analysis.head_composition(random_model, draws=64)
    valid = comp.valid
    assert valid.sum() == 16 and valid[0, :, 1].all() and not valid[1].any() and not valid[0, :, 0].any()
    for kind in comp.kinds:
        excess = comp.excess_of(kind)
        torch.testing.assert_close(excess[valid], comp.of(kind)[valid] - comp.baseline)
        assert (excess[~valid] == 0).all()


def independent_monte_carlo(d_model: int, d_head: int, draws: int, seed: int) -> torch.Tensor:
    """Scores of random head pairs as explicit d_model x d_model float64 products, one kind
    at a time, with a different generator and no QR trick."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(draws, *shape, generator=g, dtype=torch.float64)

    out = {}
    for kind in ("Q", "K", "V"):
        writer = randn(d_model, d_head) @ randn(d_head, d_model)
        reader = randn(d_model, d_head) @ randn(d_head, d_model)  # W_Q W_Kᵀ, W_K W_Qᵀ or W_V W_O
        out[kind] = torch.linalg.matrix_norm(writer @ reader) / (
            torch.linalg.matrix_norm(writer) * torch.linalg.matrix_norm(reader)
        )
    return out


@pytest.mark.parametrize("d_model, d_head", [(64, 16), (128, 32), (96, 8)])
def test_baseline_equals_an_independent_monte_carlo_estimate(d_model, d_head):
    """Tolerance: 4 standard errors of the difference of the two means (each from its own
    draws), and the spread within 15% (an 800-draw estimate of a std is good to ~2.5%)."""
    draws = 512
    mean, std = analysis.composition_baseline(d_model, d_head, draws=draws, seed=0)
    for kind, scores in independent_monte_carlo(d_model, d_head, 800, seed=123).items():
        standard_error = (std**2 / draws + scores.var().item() / len(scores)) ** 0.5
        assert abs(mean - scores.mean().item()) < 4 * standard_error, kind
        assert std == pytest.approx(scores.std().item(), rel=0.15), kind
    assert 0 < std < mean < 1


def test_the_model_baseline_is_the_baseline_of_its_shapes(random_model):
    comp = analysis.head_composition(random_model, draws=100, seed=3)
    assert (comp.baseline, comp.baseline_std) == analysis.composition_baseline(64, 16, draws=100, seed=3)
    assert comp.draws == 100


@pytest.mark.parametrize("draws, message", [(1, r"draws 1 is out of range; it must be at least 2"), (2.5, "draws must be an int")])
def test_bad_draws(random_model, draws, message):
    with pytest.raises((ValueError, TypeError), match=message):
        analysis.head_composition(random_model, draws=draws)


def test_bad_kind_for_one_kind_of_the_result(random_model):
    comp = analysis.head_composition(random_model, draws=8)
    with pytest.raises(ValueError, match=r"kind 'O' is not one of \['Q', 'K', 'V'\]"):
        comp.of("O")


def test_baseline_agrees_with_the_training_scripts_estimate():
    """circuitwidgets.pocket.checks.random_k_baseline (float64, explicit d_model² products, its
    own generator) is the number the model card prints; the two estimates agree within 4
    standard errors of their difference."""
    from circuitwidgets.pocket.checks import random_k_baseline

    mean, std = analysis.composition_baseline(128, 32)
    their_mean, their_std = random_k_baseline(128, 32, draws=200, seed=0)
    standard_error = (std**2 / analysis.composition.BASELINE_DRAWS + their_std**2 / 200) ** 0.5
    assert abs(mean - their_mean) < 4 * standard_error
