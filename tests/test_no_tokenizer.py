"""Models without a tokenizer (ARENA-style toy models, ``HookedTransformer(cfg)``): weight-only
analyses work, text analyses and views take token ids, tokens are labelled ``#id``, and only
turning text into tokens raises, saying how to pass ids."""

from __future__ import annotations

import pytest
import torch

import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.model import ModelAdapter, transformer_lens_version

IDS = [0, 17, 5, 9, 17, 5, 9]


def _bare_model():
    cfg = dict(n_layers=2, d_model=32, d_head=8, n_heads=4, n_ctx=32, d_vocab=50, d_mlp=64,
               act_fn="gelu", normalization_type="LN", seed=0, default_prepend_bos=True, model_name="toy")
    if transformer_lens_version() < (4,):
        from transformer_lens import HookedTransformer, HookedTransformerConfig

        return HookedTransformer(HookedTransformerConfig(**cfg)).eval()
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge import TransformerBridge

    return TransformerBridge.boot_native(TransformerBridgeConfig(**cfg), tokenizer=None).eval()


@pytest.fixture(scope="module")
def bare():
    model = _bare_model()
    assert getattr(model, "tokenizer", None) is None
    return model


def test_the_adapter_accepts_it_and_labels_tokens_by_id(bare):
    adapter = ModelAdapter(bare)
    assert not adapter.has_tokenizer
    assert adapter.to_str_tokens([3, 17]) == ["#3", "#17"]
    assert adapter.to_tokens(IDS).tolist() == [IDS]
    assert adapter.to_tokens("#0 #17 #5").tolist() == [[0, 17, 5]]  # what a view's text box shows
    assert adapter.text_of([0, 17, 5]) == "#0 #17 #5"
    assert adapter.to_single_token("#17") == 17 and adapter.to_single_token(17) == 17
    with pytest.raises(ValueError, match="out of range"):
        adapter.to_tokens([0, 50])


def test_only_turning_text_into_tokens_raises_and_says_how_to_pass_ids(bare):
    for call in (
        lambda: analysis.run_text(bare, "hello world"),
        lambda: cw.AttentionExplorer(bare, "hello world"),
        lambda: ModelAdapter(bare).to_single_token(" the"),
    ):
        with pytest.raises(ValueError, match=r"no tokenizer.*tokens=\[0, 17, 5\].*set_tokenizer"):
            call()


def test_weight_only_analyses_work(bare):
    assert analysis.copying_scores(bare).shape == (2, 4)
    assert analysis.composition_scores(bare, "K").shape == (2, 4, 2, 4)
    m = analysis.ov_token_map(bare, 1, 0, [5, 9], k=3)
    assert all(s.startswith("#") for row in m.top_strs for s in row) and m.given_strs == ["#5", "#9"]
    assert analysis.qk_token_map(bare, 0, 1, "#5", k=2).top_ids.shape == (1, 2)
    scores = analysis.head_scores(bare, "induction", half=5, batch=2)
    assert scores.scores.shape == (2, 4) and scores.str_tokens[0] == "#0"


def test_text_analyses_take_token_ids(bare):
    run = analysis.run_text(bare, IDS)
    assert run.str_tokens == [f"#{i}" for i in IDS] and run.tokens.tolist() == IDS
    lens = analysis.logit_lens(bare, run)
    assert lens.top_ids.shape[:2] == (3, len(IDS))
    attr = analysis.logit_attribution(bare, run, position=-1, target=17)
    torch.testing.assert_close(attr.components()[1].sum(), attr.logit, atol=1e-4, rtol=1e-4)
    assert analysis.attention_patterns(bare, IDS).patterns.shape == (2, 4, len(IDS), len(IDS))


def test_every_view_opens_on_token_ids(bare):
    views = [
        cw.AttentionExplorer(bare, tokens=IDS),
        cw.LogitLens(bare, tokens=IDS),
        cw.TokenView(bare, tokens=IDS),
        cw.CircuitExplorer(bare, tokens=IDS),
        cw.OVBrowser(bare),
        cw.OVBrowser(bare, tokens=IDS),
        cw.InductionScores(bare, half=5, batch=2),
        cw.InductionScores(bare, tokens=IDS),
    ]
    assert views[0].text == "#0 #17 #5 #9 #17 #5 #9"
    assert views[1].attribution().heads.shape == (2, 4)
    views[0].text = "not ids"  # typed into the box: the view says why and keeps what it drew
    assert "no tokenizer" in views[0].error
    for view in views:
        view.close()
    with pytest.raises(ValueError, match="not both"):
        cw.TokenView(bare, "#1 #2", tokens=[1, 2])
