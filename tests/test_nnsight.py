"""The nnsight backend: an ``nnsight.LanguageModel`` of a tiny checkpoint gives the numbers the
TransformerLens path gives on the very same weights (the checkpoint folder booted with
``TransformerBridge.boot_transformers``), and every view opens on it; what the backend cannot
do raises ``NotImplementedError`` in words."""

from __future__ import annotations

import functools
import warnings

import pytest
import torch

import architectures as arch
import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.model import ModelAdapter, as_adapter, hook_name

nnsight = pytest.importorskip("nnsight", reason="circuitwidgets[nnsight] is not installed")

TEXT = "def add(a, b):\n    return a + b\ndef add(a, b):"
CORRUPTED = "def add(x, b):\n    return a + b\ndef add(a, b):"
FAMILIES = ("gpt2", "llama", "qwen2", "gemma2")


@functools.lru_cache(maxsize=None)
def _lm(name: str, implementation: str = "eager"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # LanguageModel's deprecation note, transformers' load notes
        return nnsight.LanguageModel(arch.checkpoint(name), attn_implementation=implementation, dispatch=True)


def _both(name: str):
    try:
        bridge = arch.load(name, "bridge")
    except arch.Unbootable as why:
        pytest.skip(str(why))
    return as_adapter(_lm(name)), as_adapter(bridge)


def _close(got: torch.Tensor, expected: torch.Tensor) -> None:
    torch.testing.assert_close(got.float(), expected.float(), atol=1e-4, rtol=1e-4, equal_nan=True)


@pytest.mark.parametrize("name", FAMILIES)
def test_nnsight_reads_the_same_tokens_and_weights(name):
    mine, theirs = _both(name)
    assert type(mine).__name__ == "NNsightAdapter" and mine.kind == "nnsight"
    assert ModelAdapter(_lm(name)) is not mine and type(ModelAdapter(mine)) is type(mine)
    assert (mine.n_layers, mine.n_heads, mine.n_kv_heads, mine.d_head, mine.d_vocab) == (
        theirs.n_layers, theirs.n_heads, theirs.n_kv_heads, theirs.d_head, theirs.d_vocab)
    assert mine.to_tokens(TEXT).tolist() == theirs.to_tokens(TEXT).tolist()
    assert mine.to_str_tokens(mine.to_tokens(TEXT)) == theirs.to_str_tokens(theirs.to_tokens(TEXT))
    for field in ("W_E", "W_Q", "W_K", "W_V", "W_O", "b_O", "W_U", "b_U"):
        _close(getattr(mine.weights, field), getattr(theirs.weights, field))
    assert (mine.weights.W_pos is None) == (theirs.weights.W_pos is None)
    _close(mine.value_bias, theirs.value_bias)
    for a, b in zip((mine.final_norm, *mine.attention_input_norms), (theirs.final_norm, *theirs.attention_input_norms)):
        assert a.kind == b.kind
        _close(a.weight, b.weight)
        _close(a.bias, b.bias)
    _close(mine.forward_logits(mine.to_tokens(TEXT)), theirs.forward_logits(theirs.to_tokens(TEXT)))


@pytest.mark.parametrize("name", FAMILIES)
def test_nnsight_gives_the_transformerlens_numbers(name):
    mine, theirs = _both(name)
    _close(analysis.attention_patterns(mine, TEXT).patterns, analysis.attention_patterns(theirs, TEXT).patterns)
    lens_a, lens_b = analysis.logit_lens(mine, TEXT, k=5), analysis.logit_lens(theirs, TEXT, k=5)
    assert torch.equal(lens_a.top_ids, lens_b.top_ids)
    _close(lens_a.top_probs, lens_b.top_probs)
    _close(lens_a.target_probs, lens_b.target_probs)
    _close(analysis.copying_scores(mine), analysis.copying_scores(theirs))
    _close(analysis.ov_token_map(mine, 1, 0, 17, k=5).top_values, analysis.ov_token_map(theirs, 1, 0, 17, k=5).top_values)
    scores_a, scores_b = analysis.all_head_scores(mine, half=4, batch=2), analysis.all_head_scores(theirs, half=4, batch=2)
    for kind in scores_b:
        _close(scores_a[kind].scores, scores_b[kind].scores)
    attr_a, attr_b = analysis.logit_attribution(mine, TEXT, position=-1), analysis.logit_attribution(theirs, TEXT, position=-1)
    assert attr_a.target == attr_b.target
    _close(attr_a.heads, attr_b.heads)
    _close(attr_a.logit, attr_b.logit)
    _close(analysis.next_token_probabilities(mine, TEXT).probs, analysis.next_token_probabilities(theirs, TEXT).probs)


@pytest.mark.parametrize("name", ("gpt2", "llama", "gemma2"))
def test_nnsight_edits_are_the_transformerlens_edits(name):
    """Ablation and exact activation patching run through nnsight's assignments."""
    mine, theirs = _both(name)
    layer = mine.n_layers - 1
    abl_a, abl_b = (analysis.ablate(m, TEXT, [f"L{layer}H1"], "zero") for m in (mine, theirs))
    _close(abl_a.logits_after, abl_b.logits_after)
    grid_a, grid_b = (
        analysis.patching(m, TEXT, CORRUPTED, "logit", at=["resid_pre", "heads"], target=17, normalize=False)
        for m in (mine, theirs)
    )
    for grid in ("resid_pre", "heads"):
        _close(grid_a[grid].values, grid_b[grid].values)
    # attribution patching: activations and gradients through the nnsight trace
    est_a, est_b = (
        analysis.attribution_patching(m, TEXT, CORRUPTED, "logit", at=["resid_pre", "heads"], target=17, normalize=False)
        for m in (mine, theirs)
    )
    for grid in ("resid_pre", "heads"):
        _close(est_a[grid].values, est_b[grid].values)


def test_every_view_opens_on_an_nnsight_model():
    lm = _lm("llama")
    views = [
        cw.AttentionExplorer(lm, TEXT),
        cw.OVBrowser(lm, TEXT),
        cw.LogitLens(lm, TEXT),
        cw.InductionScores(lm, half=4, batch=2),
        cw.TokenView(lm, TEXT),
        cw.CircuitExplorer(lm, TEXT),
        cw.FlowGraph(lm, TEXT),
        cw.CompositionGraph(lm),
        cw.PathExplorer(lm, TEXT),
        cw.PatchingExplorer(lm, TEXT, CORRUPTED, target=17, distractor=18),
    ]
    adapter = as_adapter(lm)
    assert views[2].attribution().heads.shape == (adapter.n_layers, adapter.n_heads)
    assert views[1].spectrum.copying.shape == (adapter.n_layers, adapter.n_heads)
    views[-1].compute_exact("heads")
    assert views[-1].values("heads", "exact").shape == (adapter.n_layers, adapter.n_heads)
    for view in views:
        view.close()


def test_what_the_nnsight_backend_cannot_do_says_so():
    with pytest.raises(NotImplementedError, match="post_feedforward_layernorm.*neurons"):
        cw.FlowGraph(_lm("gemma2"), TEXT)
    lm = _lm("gpt2")
    adapter = as_adapter(lm)
    with pytest.raises(KeyError, match="attn_scores.*stay inside the attention function"):
        adapter.run_with_cache(adapter.to_tokens(TEXT), [hook_name("attn_scores", 0)])
    # long texts' patterns are read whole (the q/k rebuild needs the scores), with the reason kept
    assert "stay inside" in adapter.qk_recipe.reason
    on_demand = analysis.patterns_on_demand(lm, TEXT)
    _close(on_demand.pattern(1, 2), analysis.attention_patterns(lm, TEXT).patterns[1, 2])


def test_sdpa_attention_is_refused_with_the_line_that_loads_it_eagerly():
    lm = _lm("gpt2", "sdpa")
    with pytest.raises(ValueError, match=r"attn_implementation=\"eager\""):
        cw.AttentionExplorer(lm, TEXT)


def test_an_unknown_family_names_the_ones_it_reads():
    lm = _lm("phi3")
    with pytest.raises(NotImplementedError, match=r"phi3.*\['gemma2', 'gpt2', 'llama', 'mistral', 'qwen2'\]"):
        ModelAdapter(lm)


# ---- remote execution (#22 point 3), rehearsed locally --------------------------------------

def _remote_adapter(name: str, remote):
    """A fresh adapter of family ``name`` (not the shared one) with ``remote`` set."""
    adapter = ModelAdapter(_lm(name))
    adapter.remote = remote
    return adapter


def test_each_attention_action_is_one_trace_that_saves_what_the_view_draws():
    """A text is one trace that saves each layer's summaries and thumbnails (never a whole
    pattern); a head is one trace that saves that head's pattern; with ``remote="local"``
    (nnsight's rehearsal: the request serialized with circuitwidgets shipped by value, local
    modules hidden, run here) the numbers are the local run's."""
    from circuitwidgets.widgets._attention_store import THUMBNAIL_SIZE, AttentionStore, thumbnail

    local = _remote_adapter("llama", False)
    expected = analysis.attention_patterns(local, TEXT).patterns
    n_layers, n_heads, seq = local.n_layers, local.n_heads, expected.shape[-1]
    side = min(seq, THUMBNAIL_SIZE)
    for remote in (False, "local"):
        adapter = _remote_adapter("llama", remote)
        store = AttentionStore.build(adapter, TEXT)
        assert adapter.saved_bytes == [n_layers * (2 * n_heads + n_heads * side * side) * 4]
        assert store.patterns.nbytes == 0                        # nothing kept: re-read per head
        _close(store.thumbnails, thumbnail(expected.float()))
        torch.testing.assert_close(store.patterns.pattern(1, 2), expected[1, 2], atol=1e-6, rtol=1e-5)
        assert adapter.saved_bytes[1:] == [seq * seq * 4]        # one head, float32
        _close(store.entropy, analysis.attention_patterns(local, TEXT).entropy)


def test_a_text_and_a_click_in_attention_explorer_save_these_bytes():
    """The view's own actions: a new text is the summaries' trace and then the selected head's
    (sent with the text); a click (the browser's pattern request) is one head's trace."""
    from circuitwidgets.widgets._attention_store import THUMBNAIL_SIZE

    adapter = _remote_adapter("llama", "local")
    view = cw.AttentionExplorer(adapter, TEXT)
    n_layers, n_heads = adapter.n_layers, adapter.n_heads
    adapter.saved_bytes.clear()
    view.text = "x y z x y z"
    seq = len(view.tokens)
    side = min(seq, THUMBNAIL_SIZE)
    assert adapter.saved_bytes == [n_layers * (2 * n_heads + n_heads * side * side) * 4, seq * seq * 4]
    adapter.saved_bytes.clear()
    answer = view._pattern_request({"layer": 1, "head": 2, "run": view.run_id})
    assert adapter.saved_bytes == [seq * seq * 4] and answer["head"] == 2
    view.close()


def test_a_failing_remote_run_leaves_the_view_as_it_was_and_says_why(monkeypatch):
    import circuitwidgets.model_nnsight as backend

    adapter = _remote_adapter("gpt2", False)
    view = cw.AttentionExplorer(adapter, TEXT)
    before = (list(view.tokens), view.run_id, view.store)

    def unreachable(*args, **kwargs):
        raise ConnectionError("NDIF did not answer (fake backend)")

    adapter.remote = True
    monkeypatch.setattr(backend, "traced", unreachable)
    monkeypatch.setattr(backend, "_ship_by_value", lambda: None)
    view.text = "a different text"
    assert "the remote run failed (ConnectionError: NDIF did not answer (fake backend))" in view.error
    assert (list(view.tokens), view.run_id, view.store) == before and view.busy == ""
    view.close()


def test_views_that_read_weights_say_a_remote_model_keeps_them(tmp_path):
    """A remote user's model has its weights on the meta device (nnsight loads only the
    config); the weight-reading views refuse in words, AttentionExplorer's plan is built."""
    import transformers

    config = transformers.AutoConfig.from_pretrained(arch.checkpoint("llama"))
    config.save_pretrained(tmp_path)                          # the config alone: no weights
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lm = nnsight.LanguageModel(str(tmp_path), tokenizer=arch.tokenizer(), attn_implementation="eager")
    adapter = ModelAdapter(lm)
    assert next(adapter.hf.parameters()).is_meta
    with pytest.raises(ValueError, match="'meta' device"):   # not remote: nothing to compute with
        cw.OVBrowser(adapter, TEXT)
    adapter.remote = True
    assert len(adapter._plan([hook_name("pattern", 1)])) == 1
    view = cw.OVBrowser(adapter, TEXT)                       # opens; its circuits need the weights
    with pytest.raises(NotImplementedError, match="not on this machine.*AttentionExplorer is"):
        view.spectrum
    view.close()
    with pytest.raises(NotImplementedError, match="not on this machine"):
        analysis.copying_scores(adapter)
