"""Head scores against transformer_lens.head_detector.detect_head on the same tokens, and
against hand-built heads with known answers."""

from __future__ import annotations

import pytest
import torch
from transformer_lens.head_detector import detect_head, get_previous_token_head_detection_pattern

import hand_built_models
import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.analysis.heads import target_keys
from circuitwidgets.model import ModelAdapter


def word_tokens(adapter: ModelAdapter) -> list[int]:
    """Ids of tokens like ' fox' that tokenize back to themselves alone, so a text made of
    them gives detect_head exactly the tokens we score."""
    ids = []
    for token_id in range(adapter.d_vocab):
        s = adapter.token_str(token_id)
        if s.startswith(" ") and s[1:].isalpha() and adapter.tokenizer.encode(s, add_special_tokens=False) == [token_id]:
            ids.append(token_id)
    return ids


def repeated_text(adapter: ModelAdapter, half: int, seed: int) -> tuple[str, torch.Tensor]:
    """A text of ``half`` distinct word tokens said twice, and its tokens (BOS first)."""
    words = torch.tensor(word_tokens(adapter))
    assert len(words) >= half, "the test tokenizer has too few whole-word tokens"
    first = words[torch.randperm(len(words), generator=torch.Generator().manual_seed(seed))[:half]]
    text = "".join(adapter.to_str_tokens(first)) * 2
    tokens = adapter.to_tokens(text)
    assert torch.equal(tokens[0, 1:], torch.cat([first, first])), "text does not round-trip"
    return text, tokens


@pytest.mark.parametrize("kind, tl_name", [("induction", "induction_head"), ("duplicate_token", "duplicate_token_head")])
def test_matches_detect_head_on_the_same_tokens(random_model, kind, tl_name):
    adapter = ModelAdapter(random_model)
    half = 12
    texts, rows = zip(*(repeated_text(adapter, half, seed) for seed in (0, 1)))
    ours = analysis.head_scores(random_model, kind, tokens=torch.cat(rows))
    theirs = detect_head(random_model, list(texts), tl_name)
    # TransformerLens averages over all 1 + 2*half queries, we over the half that can score.
    torch.testing.assert_close(ours.scores, theirs.float() * (1 + 2 * half) / half, rtol=1e-5, atol=1e-6)


def test_previous_token_matches_detect_head_with_second_half_pattern(random_model):
    adapter = ModelAdapter(random_model)
    half = 12
    text, tokens = repeated_text(adapter, half, seed=2)
    pattern = get_previous_token_head_detection_pattern(tokens)
    pattern[: 1 + half] = 0  # score the second-half queries only, as we do
    theirs = detect_head(random_model, text, pattern)
    ours = analysis.head_scores(random_model, "previous_token", tokens=tokens)
    torch.testing.assert_close(ours.scores, theirs.float() * (1 + 2 * half) / half, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind, tl_name", [
    ("previous_token", "previous_token_head"),
    ("duplicate_token", "duplicate_token_head"),
    ("induction", "induction_head"),
])
def test_text_scores_match_detect_head(random_model, kind, tl_name):
    text = "When Mary and John went to the store, John gave a drink to Mary. The store"
    ours = analysis.text_head_scores(random_model, text, kind)
    theirs = detect_head(random_model, text, tl_name)
    seq = ours.tokens.shape[1]
    n_queries = int(ours.queries.sum())
    assert 0 < n_queries < seq
    torch.testing.assert_close(ours.scores, theirs.float() * seq / n_queries, rtol=1e-5, atol=1e-6)


def test_scores_by_hand(random_model):
    """The definitions in the docstring, written out with loops on one sequence."""
    half = 6
    result = analysis.all_head_scores(random_model, half=half, batch=1, seed=5)
    patterns = result["induction"].patterns
    queries = range(1 + half, 1 + 2 * half)
    for layer, head in [(0, 1), (1, 2)]:
        p = patterns[layer, head]
        expected = {
            "previous_token": sum(p[i, i - 1] for i in queries) / half,
            "duplicate_token": sum(p[i, i - half] for i in queries) / half,
            "induction": sum(p[i, i - half + 1] for i in queries) / half,
        }
        for kind, value in expected.items():
            assert result[kind].scores[layer, head].item() == pytest.approx(value.item(), rel=1e-5)


def test_hand_built_heads_score_exactly_one(tiny_tokenizer):
    model = hand_built_models.induction_circuit_model(tiny_tokenizer)
    scores = analysis.all_head_scores(model, half=20, batch=3, seed=0)
    torch.testing.assert_close(scores["previous_token"].scores, torch.tensor([[1.0], [0.0]]))
    torch.testing.assert_close(scores["induction"].scores, torch.tensor([[0.0], [1.0]]))
    torch.testing.assert_close(scores["duplicate_token"].scores, torch.zeros(2, 1))
    # On a text too: the previous-token head is exact everywhere.
    text_scores = analysis.text_head_scores(model, "The quick brown fox jumps over the lazy dog", "previous_token")
    assert text_scores.scores[0, 0].item() == pytest.approx(1.0, abs=1e-6)


def test_repeated_tokens_shape_and_content(random_model):
    adapter = ModelAdapter(random_model)
    tokens = analysis.repeated_tokens(random_model, half=10, batch=3, seed=7)
    assert tokens.shape == (3, 21) and tokens.dtype == torch.long
    assert (tokens[:, 0] == adapter.bos_token_id).all()
    assert torch.equal(tokens[:, 1:11], tokens[:, 11:])
    for row in tokens[:, 1:11]:
        assert len(set(row.tolist())) == 10
        assert not set(row.tolist()) & adapter.special_token_ids
    assert torch.equal(tokens, analysis.repeated_tokens(random_model, half=10, batch=3, seed=7))
    assert not torch.equal(tokens, analysis.repeated_tokens(random_model, half=10, batch=3, seed=8))
    # The default half fits the model's context (n_ctx 64 -> 31).
    assert analysis.repeated_tokens(random_model).shape == (4, 63)


def test_result_fields_for_views(random_model):
    result = analysis.head_scores(random_model, "induction", half=5, batch=2, seed=0)
    assert result.kind == "induction" and result.half == 5
    assert result.patterns.shape == (2, 4, 11, 11)
    assert len(result.str_tokens) == 11
    assert result.queries[:, :6].sum() == 0 and result.queries[:, 6:].all()
    # The induction stripe: query i -> key i - half + 1 (offset half - 1).
    q, k = result.targets[0].nonzero(as_tuple=True)
    assert torch.equal(q - k, torch.full_like(q, 5 - 1))
    assert torch.equal(result.targets, target_keys(result.tokens, "induction") & result.queries[:, :, None])


def test_text_without_repeats_is_refused_clearly(random_model):
    adapter = ModelAdapter(random_model)
    text = "".join(adapter.to_str_tokens(word_tokens(adapter)[:5]))
    for kind in ("induction", "duplicate_token"):
        with pytest.raises(ValueError, match="has no positions to score .* no token in it repeats"):
            analysis.text_head_scores(random_model, text, kind)
    # Previous-token scores need no repeats.
    assert analysis.text_head_scores(random_model, text, "previous_token").queries.sum() == 5


def test_bad_inputs(random_model):
    with pytest.raises(ValueError, match=r"kind 'copying' is not one of \['previous_token', 'duplicate_token', 'induction'\]"):
        analysis.head_scores(random_model, "copying")
    with pytest.raises(ValueError, match=r"half 40 is out of range; it must be in \[1, 31\] \(the sequence BOS \+ 2\*half tokens must fit the model's context of 64\)"):
        analysis.head_scores(random_model, "induction", half=40)
    with pytest.raises(ValueError, match=r"seed 4294967296 is out of range; it must be in \[0, 4294967295\]"):
        analysis.repeated_tokens(random_model, seed=2**32)
    with pytest.raises(ValueError, match=r"seed -1 is out of range"):
        analysis.head_scores(random_model, "induction", seed=-1)
    with pytest.raises(ValueError, match=r"half 0 is out of range"):
        analysis.repeated_tokens(random_model, half=0)
    with pytest.raises(ValueError, match=r"batch 0 is out of range; it must be at least 1"):
        analysis.head_scores(random_model, "induction", batch=0)
    with pytest.raises(TypeError, match="half must be an int"):
        analysis.head_scores(random_model, "induction", half=2.5)
    with pytest.raises(ValueError, match="second half must repeat the first"):
        analysis.head_scores(random_model, "induction", tokens=torch.arange(1, 8)[None])
    with pytest.raises(ValueError, match=r"shape \(1, 6\); expected \[batch, 1 \+ 2\*half\]"):
        analysis.head_scores(random_model, "induction", tokens=torch.ones(1, 6, dtype=torch.long))
    with pytest.raises(ValueError, match=r"ids outside \[0, 300\)"):
        analysis.head_scores(random_model, "induction", tokens=torch.tensor([[0, 999, 999]]))
    with pytest.raises(ValueError, match="half 3 does not match tokens of length 5"):
        analysis.head_scores(random_model, "induction", half=3, tokens=torch.tensor([[0, 5, 6, 5, 6]]))
    with pytest.raises(ValueError, match="kind 'induction_head' is not one of"):
        analysis.text_head_scores(random_model, "a a", "induction_head")


def test_the_random_token_experiment_runs_once_per_model_and_settings(monkeypatch):
    """AttentionExplorer and InductionScores show the same repeated-random-token scores: the
    dashboard runs that experiment once, and again only for new settings or new weights."""
    from circuitwidgets.analysis import heads

    calls = []
    real = heads.repeated_tokens
    monkeypatch.setattr(heads, "repeated_tokens", lambda *a, **k: calls.append(k) or real(*a, **k))
    model = cw.load_pocket_model()
    text = "def f(x):\n    return x\ndef f(x):"
    dashboard = cw.CircuitExplorer(model, text)
    assert len(calls) == 1
    again = analysis.all_head_scores(model)
    assert again is analysis.all_head_scores(model) and len(calls) == 1
    torch.testing.assert_close(dashboard.induction.scores("induction"), again["induction"].scores)
    analysis.all_head_scores(model, seed=1)
    assert len(calls) == 2                       # other settings: another experiment
    with torch.no_grad():
        model.blocks[1].attn.W_Q.mul_(2.0)       # new weights: the scores are computed afresh
    assert analysis.all_head_scores(model) is not again and len(calls) == 3
    dashboard.close()
