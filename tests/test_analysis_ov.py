"""OV/QK circuits against TransformerLens's FactoredMatrix and the brute-force vocab x vocab
matrices of the tiny-vocabulary model."""

from __future__ import annotations

import pytest
import torch

import hand_built_models
from circuitwidgets import analysis
from circuitwidgets.model import ModelAdapter


def assert_same_spectrum(ours: torch.Tensor, theirs: torch.Tensor, atol: float) -> None:
    """Equal as multisets of complex numbers: every eigenvalue has a partner within atol."""
    assert ours.shape == theirs.shape
    distance = (ours[:, None] - theirs[None, :]).abs()
    assert distance.min(dim=1).values.max() < atol
    assert distance.min(dim=0).values.max() < atol


def full_ov(model, layer: int, head: int) -> torch.Tensor:
    """The whole d_vocab x d_vocab circuit W_E W_V W_O W_U, in float64."""
    W_E, W_V, W_O, W_U = (w.detach().double() for w in (model.W_E, model.W_V, model.W_O, model.W_U))
    return W_E @ W_V[layer, head] @ W_O[layer, head] @ W_U


def test_full_ov_eigenvalues_match_factored_matrix(random_model):
    spectrum = analysis.ov_spectrum(random_model, "full")
    theirs = (random_model.W_E @ random_model.OV @ random_model.W_U).eigenvalues.detach()
    n_layers, n_heads, d_head = spectrum.eigenvalues.shape
    assert (n_layers, n_heads, d_head) == tuple(theirs.shape)
    for layer in range(n_layers):
        for head in range(n_heads):
            assert_same_spectrum(spectrum.eigenvalues[layer, head], theirs[layer, head], atol=1e-3)
    copying = theirs.sum(-1).real / theirs.abs().sum(-1)  # TransformerLens Main_Demo's definition
    torch.testing.assert_close(spectrum.copying, copying.float(), atol=1e-4, rtol=1e-4)


def test_plain_ov_eigenvalues_match_factored_matrix(random_model):
    spectrum = analysis.ov_spectrum(random_model, "ov")
    theirs = random_model.OV.eigenvalues.detach()
    for layer in range(spectrum.eigenvalues.shape[0]):
        for head in range(spectrum.eigenvalues.shape[1]):
            assert_same_spectrum(spectrum.eigenvalues[layer, head], theirs[layer, head], atol=1e-4)
    torch.testing.assert_close(analysis.copying_scores(random_model, "ov"), spectrum.copying)


def test_full_ov_spectrum_against_the_whole_vocab_matrix(random_model):
    spectrum = analysis.ov_spectrum(random_model)
    d_head = spectrum.eigenvalues.shape[-1]
    for layer, head in [(0, 0), (1, 3)]:
        brute = torch.linalg.eigvals(full_ov(random_model, layer, head))  # 300 eigenvalues
        brute = brute[brute.abs().argsort(descending=True)]
        nonzero, zero = brute[:d_head], brute[d_head:]
        assert zero.abs().max() < 1e-6 * brute.abs().max()  # rank d_head, as the docs say
        assert_same_spectrum(spectrum.eigenvalues[layer, head].to(torch.complex128), nonzero, atol=1e-3)
        copying = brute.sum().real / brute.abs().sum()
        assert spectrum.copying[layer, head].item() == pytest.approx(copying.item(), abs=1e-4)
    # Sorted by magnitude, largest first.
    magnitudes = spectrum.eigenvalues.abs()
    assert (magnitudes[..., :-1] >= magnitudes[..., 1:]).all()



def test_positive_mass_is_the_share_of_eigenvalue_magnitude_right_of_the_imaginary_axis(random_model):
    spectrum = analysis.ov_spectrum(random_model)
    theirs = (random_model.W_E @ random_model.OV @ random_model.W_U).eigenvalues.detach().to(torch.complex128)
    expected = (theirs.abs() * (theirs.real > 0)).sum(-1) / theirs.abs().sum(-1)
    torch.testing.assert_close(spectrum.positive_mass, expected.float(), atol=1e-4, rtol=1e-4)
    assert ((spectrum.positive_mass >= 0) & (spectrum.positive_mass <= 1)).all()


def test_spectrum_reports_progress_once_per_layer(random_model):
    seen = []
    with_progress = analysis.ov_spectrum(random_model, progress=seen.append)
    assert seen == list(range(ModelAdapter(random_model).n_layers))
    assert torch.equal(with_progress.eigenvalues, analysis.ov_spectrum(random_model).eigenvalues)


def test_identity_ov_copies_and_negative_identity_suppresses(tiny_tokenizer):
    model = hand_built_models.identity_ov_model(tiny_tokenizer)
    for circuit in analysis.CIRCUITS:
        torch.testing.assert_close(analysis.copying_scores(model, circuit), torch.tensor([[1.0, -1.0]]))
    eigenvalues = analysis.ov_spectrum(model, "ov").eigenvalues
    torch.testing.assert_close(eigenvalues[0, 0], torch.ones(16, dtype=torch.complex64))
    torch.testing.assert_close(eigenvalues[0, 1], -torch.ones(16, dtype=torch.complex64))
    torch.testing.assert_close(analysis.ov_spectrum(model, "ov").positive_mass, torch.tensor([[1.0, 0.0]]))
    # A copying head promotes the token it attends to.
    token_map = analysis.ov_token_map(model, 0, 0, [5, 17, 42], k=1)
    assert token_map.top_ids[:, 0].tolist() == [5, 17, 42]


@pytest.mark.parametrize("chunk", [7, 8192])
def test_ov_token_map_is_the_rows_of_the_full_circuit(random_model, chunk):
    adapter = ModelAdapter(random_model)
    sources = [3, 50, 299]
    result = analysis.ov_token_map(random_model, 1, 2, sources, k=5, chunk=chunk)
    brute = full_ov(random_model, 1, 2)[sources]
    values, ids = brute.topk(5, dim=1)
    assert torch.equal(result.top_ids, ids)
    torch.testing.assert_close(result.top_values, values.float(), rtol=1e-4, atol=1e-5)
    assert result.kind == "ov" and (result.layer, result.head) == (1, 2)
    assert result.given.tolist() == sources
    assert result.given_strs == adapter.to_str_tokens(sources)
    assert result.top_strs[1] == adapter.to_str_tokens(ids[1])


def test_ov_token_map_takes_token_strings(random_model):
    token_id = ModelAdapter(random_model).to_single_token(" Mary")
    by_string = analysis.ov_token_map(random_model, 0, 0, " Mary", k=3)
    by_id = analysis.ov_token_map(random_model, 0, 0, torch.tensor([token_id]), k=3)
    assert by_string.given.tolist() == [token_id]
    assert torch.equal(by_string.top_ids, by_id.top_ids)


@pytest.mark.parametrize("chunk", [11, 8192])
def test_ov_sources_for_is_a_column_of_the_full_circuit(random_model, chunk):
    result = analysis.ov_sources_for(random_model, 0, 3, 77, k=6, chunk=chunk)
    values, ids = full_ov(random_model, 0, 3)[:, 77].topk(6)
    assert result.kind == "ov_sources" and result.given.tolist() == [77]
    assert torch.equal(result.top_ids[0], ids)
    torch.testing.assert_close(result.top_values[0], values.float(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("chunk", [13, 8192])
def test_qk_token_map_matches_factored_qk(random_model, chunk):
    result = analysis.qk_token_map(random_model, 1, 1, [10, 20], k=4, chunk=chunk)
    W_E = random_model.W_E.detach().double()
    full_qk = W_E @ random_model.QK[1, 1].AB.detach().double() @ W_E.T
    values, ids = full_qk[[10, 20]].topk(4, dim=1)
    assert result.kind == "qk"
    assert torch.equal(result.top_ids, ids)
    torch.testing.assert_close(result.top_values, values.float(), rtol=1e-4, atol=1e-5)


def test_bad_inputs(random_model):
    with pytest.raises(ValueError, match=r"layer 2 is out of range; this model has layers 0\.\.1"):
        analysis.ov_token_map(random_model, 2, 0, [1])
    with pytest.raises(ValueError, match=r"head 4 is out of range; this model has heads 0\.\.3"):
        analysis.qk_token_map(random_model, 0, 4, [1])
    with pytest.raises(ValueError, match=r"head -1 is out of range"):
        analysis.ov_sources_for(random_model, 0, -1, 1)
    with pytest.raises(ValueError, match="not a single token"):
        analysis.ov_sources_for(random_model, 0, 0, "The quick brown fox")
    with pytest.raises(ValueError, match=r"token id 300 is out of range \[0, 300\)"):
        analysis.ov_token_map(random_model, 0, 0, [300])
    with pytest.raises(ValueError, match="no source token given"):
        analysis.ov_token_map(random_model, 0, 0, [])
    with pytest.raises(ValueError, match=r"k 0 is out of range; it must be in \[1, 300\]"):
        analysis.ov_token_map(random_model, 0, 0, [1], k=0)
    with pytest.raises(ValueError, match=r"circuit 'qk' is not one of \['full', 'ov'\]"):
        analysis.ov_spectrum(random_model, "qk")
    with pytest.raises(ValueError, match="chunk 0 must be a positive"):
        analysis.ov_token_map(random_model, 0, 0, [1], chunk=0)


def test_a_zero_head_has_copying_score_zero(random_model):
    """Deliberate difference from Main_Demo's formula, which gives 0/0 = NaN for such a head."""
    import dataclasses

    adapter = ModelAdapter(random_model)
    W_V = adapter.weights.W_V.clone()
    W_V[1, 0] = 0
    adapter.__dict__["weights"] = dataclasses.replace(adapter.weights, W_V=W_V)  # the adapter's cache
    spectrum = analysis.ov_spectrum(adapter)
    assert (spectrum.eigenvalues[1, 0] == 0).all()
    assert spectrum.copying[1, 0] == 0
    assert torch.isfinite(spectrum.copying).all()

@pytest.mark.parametrize("n_rows", [3, 5000])
def test_topk_of_product_default_blocks_match_the_whole_product(n_rows):
    from circuitwidgets.analysis._topk import BLOCK_ELEMENTS, MIN_CHUNK, topk_of_product

    torch.manual_seed(n_rows)
    rows, cols = torch.randn(n_rows, 16), torch.randn(16, 3000)
    values, ids = topk_of_product(rows, cols, 5)  # 3 rows: one block; 5000 rows: three of MIN_CHUNK
    assert max(MIN_CHUNK, BLOCK_ELEMENTS // n_rows) < 3000 or n_rows == 3
    expected_values, expected_ids = (rows @ cols).topk(5, dim=1)
    assert torch.equal(ids, expected_ids)
    torch.testing.assert_close(values, expected_values)
