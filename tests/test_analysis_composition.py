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
