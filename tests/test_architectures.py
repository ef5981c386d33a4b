"""Every analysis and every view on every architecture family, loaded every way the installed
TransformerLens allows, with the numbers checked against the model itself and against
TransformerLens's own decompositions (the matrix is built in ``architectures.py``)."""

from __future__ import annotations

import pytest
import torch

import architectures as arch
import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.analysis.logit_lens import readout_logits
from circuitwidgets.model import ModelAdapter, hook_name, soft_cap

TEXT = "def add(a, b):\n    return a + b\ndef add(a, b):"

ENTRIES = [pytest.param(name, kind, id=f"{name}-{kind}") for name, kind in arch.entries()]


def _model(name: str, kind: str, dtype: torch.dtype = torch.float32):
    try:
        return arch.load(name, kind, dtype)
    except arch.Unbootable as why:
        pytest.skip(str(why))


def _tokens(adapter: ModelAdapter) -> torch.Tensor:
    return adapter.to_tokens(TEXT)


def _model_logits(model, tokens: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(tokens, return_type="logits")[0].float()


def _shared_kv(adapter: ModelAdapter, w: torch.Tensor) -> torch.Tensor:
    """The test's own expansion of shared K/V heads (the adapter's is under test)."""
    return w.float().repeat_interleave(adapter.n_heads // w.shape[1], dim=1)


def _embedding_as_written(model, adapter: ModelAdapter) -> torch.Tensor:
    """What the model adds to the residual stream for every token id: layer 0's input, less
    the position's embedding where the model has one."""
    ids = torch.arange(adapter.d_vocab)[:, None]
    names = {"blocks.0.hook_resid_pre", "hook_pos_embed"}
    with torch.inference_mode():
        _, cache = model.run_with_cache(ids, names_filter=names.__contains__)
    resid = cache["blocks.0.hook_resid_pre"][:, 0].float()
    return resid - cache["hook_pos_embed"][:, 0].float() if "hook_pos_embed" in cache else resid


@pytest.mark.parametrize("name, kind", ENTRIES)
def test_lens_final_readout_is_the_model_output(name, kind):
    model = _model(name, kind)
    adapter = ModelAdapter(model)
    tokens = _tokens(adapter)
    lens = analysis.logit_lens(adapter, TEXT, k=3)
    expected = torch.log_softmax(_model_logits(model, tokens), dim=-1)
    # the lens's final readout at every position: its top-3 probabilities and the target's
    top = expected.topk(3, dim=-1)
    torch.testing.assert_close(lens.top_ids[-1], top.indices)
    torch.testing.assert_close(lens.top_probs[-1].log(), top.values, atol=1e-4, rtol=1e-4)
    final = readout_logits(adapter, _final_resid(adapter))
    torch.testing.assert_close(torch.log_softmax(final, -1), expected, atol=1e-4, rtol=1e-4)
    if arch.has(name, "soft_cap"):
        # the rule bites: without the cap the readout is not the model's output
        W_U, b_U = adapter.unembedding
        uncapped = adapter.apply_final_norm(_final_resid(adapter)) @ W_U + b_U
        assert not torch.allclose(torch.log_softmax(uncapped, -1), expected, atol=1e-3)


def _final_resid(adapter: ModelAdapter) -> torch.Tensor:
    run = analysis.run_text(adapter, TEXT, ("logit_lens",))
    return run.cache[hook_name("resid_post", adapter.n_layers - 1)]


@pytest.mark.parametrize("name, kind", ENTRIES)
def test_attention_patterns_are_the_models(name, kind):
    model = _model(name, kind)
    adapter = ModelAdapter(model)
    att = analysis.attention_patterns(adapter, TEXT)
    with torch.inference_mode():   # (the bridge's full cache breaks inside HF's post-LN OPT)
        _, cache = model.run_with_cache(_tokens(adapter), names_filter=lambda name: name.endswith("hook_pattern"))
    for layer in range(adapter.n_layers):
        torch.testing.assert_close(att.patterns[layer], cache[hook_name("pattern", layer)][0].float())


@pytest.mark.parametrize("name, kind", ENTRIES)
def test_attribution_adds_up_to_the_models_logit(name, kind):
    model = _model(name, kind)
    adapter = ModelAdapter(model)
    tokens = _tokens(adapter)
    logits = _model_logits(model, tokens)
    target = int(logits[-1].argmax())
    if arch.has(name, "post_ln"):
        # a LayerNorm after every block rescales the stream: it is no sum of parts, so refuse
        with pytest.raises(NotImplementedError, match="do not add up to this model's final residual stream"):
            analysis.logit_attribution(adapter, TEXT, position=-1, target=target)
        return
    attr = analysis.logit_attribution(adapter, TEXT, position=-1, target=target)
    _, values = attr.components()
    torch.testing.assert_close(values.sum(), attr.logit, atol=1e-4, rtol=1e-4)
    # the model's own logit is the sum, through the soft cap where the model has one
    torch.testing.assert_close(soft_cap(attr.logit, attr.soft_cap), logits[-1, target], atol=1e-4, rtol=1e-4)
    if arch.has(name, "post_norm") or arch.has(name, "multipliers"):
        return  # TransformerLens's stack_head_results leaves out post-norms and multipliers
    # each head's share: TransformerLens's own decomposition, through the same final norm
    with torch.inference_mode():
        _, cache = model.run_with_cache(tokens)
        stack = cache.stack_head_results(layer=-1, pos_slice=-1)
        scaled = cache.apply_ln_to_stack(stack, layer=-1, pos_slice=-1)[:, 0].float()
    W_U = adapter.weights.W_U
    expected = scaled @ (adapter.final_norm.weight * W_U[:, target])
    torch.testing.assert_close(attr.heads.reshape(-1), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name, kind", ENTRIES)
def test_copying_scores_match_a_full_ov_eigenvalue_reference(name, kind):
    from transformer_lens import FactoredMatrix

    model = _model(name, kind)
    adapter = ModelAdapter(model)
    E = _embedding_as_written(model, adapter)
    V, O, U = _shared_kv(adapter, model.W_V.detach()), model.W_O.detach().float(), model.W_U.detach().float()
    if arch.has(name, "projected"):  # OPT-350m: the stream goes through project_out first
        U = model.project_out.original_component.weight.detach().float().T @ U
    if arch.has(name, "gqa") or arch.has(name, "mqa"):
        assert adapter.n_kv_heads < adapter.n_heads  # shared K/V heads really are expanded
    got = analysis.copying_scores(adapter)
    for layer in range(adapter.n_layers):
        for head in range(adapter.n_heads):
            eig = FactoredMatrix(E @ V[layer, head], O[layer, head] @ U).eigenvalues.to(torch.complex128)
            expected = (eig.sum().real / eig.abs().sum()).item()
            assert got[layer, head].item() == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("name, kind", ENTRIES)
def test_composition_scores_respect_shared_kv_heads(name, kind):
    model = _model(name, kind)
    adapter = ModelAdapter(model)
    Q = model.W_Q.detach().float()
    K, V = _shared_kv(adapter, model.W_K.detach()), _shared_kv(adapter, model.W_V.detach())
    O = model.W_O.detach().float()
    scores = {kind_: analysis.composition_scores(adapter, kind_) for kind_ in ("Q", "K", "V")}

    def score(a, b):
        return ((a @ b).norm() / (a.norm() * b.norm())).item()

    for h1 in range(adapter.n_heads):
        writer = V[0, h1] @ O[0, h1]
        for h2 in range(adapter.n_heads):
            readers = {
                "Q": Q[1, h2] @ K[1, h2].T, "K": K[1, h2] @ Q[1, h2].T, "V": V[1, h2] @ O[1, h2],
            }
            for kind_, reader in readers.items():
                assert scores[kind_][0, h1, 1, h2].item() == pytest.approx(score(writer, reader), abs=1e-4)


@pytest.mark.parametrize("name, kind", ENTRIES)
def test_effective_weights_are_what_the_model_writes(name, kind):
    model = _model(name, kind)
    adapter = ModelAdapter(model)
    w = adapter.weights
    # the embedding as the model adds it to the stream (Gemma's sqrt(d_model), Granite's x3)
    torch.testing.assert_close(w.W_E, _embedding_as_written(model, adapter), atol=1e-5, rtol=1e-4)
    if (arch.has(name, "embed_scale") or arch.has(name, "multipliers")) and kind != "hooked":
        assert adapter.embedding_scale not in (None, 1.0)  # HookedTransformer folds it into W_E
    if arch.has(name, "multipliers") and kind != "hooked":
        # Granite: residual multiplier in W_O, 1 / logits_scaling in W_U
        torch.testing.assert_close(w.W_O, model.W_O.detach().float() * 0.5)
        torch.testing.assert_close(w.W_U, model.W_U.detach().float() / 4.0)
    if arch.has(name, "no_bias") and kind != "hooked":
        assert not w.b_O.any()  # a bias the bridge does not have is zeros, not an error
    assert w.W_K.shape == w.W_Q.shape == w.W_V.shape
    if arch.has(name, "post_norm"):
        assert all(norm is not None for norm in adapter.attn_output_norms)
    if arch.has(name, "rotary"):
        assert adapter.position_kind == "rotary" and w.W_pos is None
    if arch.has(name, "alibi"):
        assert adapter.position_kind == "alibi" and w.W_pos is None


@pytest.mark.parametrize("name, kind", ENTRIES)
def test_every_view_opens(name, kind):
    model = _model(name, kind)
    adapter = ModelAdapter(model)
    views = [
        cw.AttentionExplorer(adapter, TEXT),
        cw.OVBrowser(adapter, TEXT),
        cw.LogitLens(adapter, TEXT),
        cw.InductionScores(adapter, half=4, batch=2),
        cw.TokenView(adapter, TEXT),
        cw.CircuitExplorer(adapter, TEXT),
    ]
    lens = views[2]
    if arch.has(name, "post_ln"):
        with pytest.raises(NotImplementedError):
            lens.attribution()
        for view in views:
            view.close()
        return
    attr = lens.attribution()
    assert attr.heads.shape == (adapter.n_layers, adapter.n_heads)
    assert views[1].spectrum.copying.shape == (adapter.n_layers, adapter.n_heads)
    for view in views:
        view.close()


HALF = [
    pytest.param(name, kind, dtype, id=f"{name}-{kind}-{str(dtype).split('.')[-1]}")
    for name in ("gpt2", "llama", "gemma2")
    for kind in arch.kinds()
    for dtype in (torch.float16, torch.bfloat16)
]


@pytest.mark.parametrize("name, kind, dtype", HALF)
def test_half_precision_gives_the_float32_answers(name, kind, dtype):
    """A float16/bfloat16 model (on the CPU) gives float32 CPU results that agree with the
    float32 model's within the stated tolerance, ``ModelAdapter.tolerance`` relative to the
    size of the numbers (1e-2 for float16, 5e-2 for bfloat16)."""
    full, half = ModelAdapter(_model(name, kind)), ModelAdapter(_model(name, kind, dtype))
    tol = half.tolerance
    assert tol == {torch.float16: 1e-2, torch.bfloat16: 5e-2}[dtype]

    def close(got: torch.Tensor, expected: torch.Tensor) -> None:
        assert got.dtype == expected.dtype and got.device.type == "cpu"
        assert (got - expected).abs().max() <= tol * max(1.0, float(expected.abs().max()))

    lens_full, lens_half = analysis.logit_lens(full, TEXT, k=5), analysis.logit_lens(half, TEXT, k=5)
    close(lens_half.top_probs, lens_full.top_probs)
    close(lens_half.target_probs, lens_full.target_probs)
    attr_full = analysis.logit_attribution(full, TEXT)
    attr_half = analysis.logit_attribution(half, TEXT, target=attr_full.target)  # the probe runs in float32
    close(attr_half.logit, attr_full.logit)
    close(attr_half.heads, attr_full.heads)
    close(analysis.copying_scores(half), analysis.copying_scores(full))
    close(analysis.attention_patterns(half, TEXT).patterns, analysis.attention_patterns(full, TEXT).patterns)
    # the float32 copy of the final norm left the model itself as it was
    assert next(half.model.parameters()).dtype == dtype
    assert getattr(half.model.cfg, "dtype", dtype) == dtype


@pytest.mark.parametrize("name, kind", ENTRIES)
def test_every_other_analysis_runs_and_agrees(name, kind):
    model = _model(name, kind)
    adapter = ModelAdapter(model)
    tokens = _tokens(adapter)
    # next-token probabilities are the model's own softmax
    probs = torch.softmax(_model_logits(model, tokens), dim=-1)
    nxt = analysis.next_token_probabilities(adapter, TEXT)
    expected = probs[:-1].gather(-1, tokens[0, 1:, None])[:, 0]
    torch.testing.assert_close(nxt.probs[1:], expected, atol=1e-5, rtol=1e-4)
    # an OV token map row is the brute-force product through the embedding as written
    E = _embedding_as_written(model, adapter)
    w = adapter.weights
    source = int(tokens[0, 1])
    ov = analysis.ov_token_map(adapter, 1, 0, source, k=3)
    row = E[source] @ w.W_V[1, 0] @ w.W_O[1, 0] @ w.W_U
    torch.testing.assert_close(ov.top_values[0], row.topk(3).values, atol=1e-4, rtol=1e-4)
    assert analysis.ov_sources_for(adapter, 1, 0, source, k=2).top_ids.shape == (1, 2)
    assert analysis.qk_token_map(adapter, 0, 0, source, k=2).top_ids.shape == (1, 2)
    seen = []
    analysis.attention_by_layer(adapter, TEXT, lambda layer, pattern: seen.append(layer))
    assert seen == list(range(adapter.n_layers))
    scores = analysis.all_head_scores(adapter, half=4, batch=2)
    assert all(s.scores.shape == (adapter.n_layers, adapter.n_heads) for s in scores.values())
    assert analysis.text_head_scores(adapter, TEXT, "induction").scores.shape == (adapter.n_layers, adapter.n_heads)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
def test_half_precision_views_draw_their_attribution_and_export(dtype, tmp_path):
    """Issue 17's half-precision failure: the lens attribution and save_html of LogitLens and
    CircuitExplorer on a float16/bfloat16 model (the final-norm probe runs in float32)."""
    model = _model("llama", arch.kinds()[0], dtype)
    lens = cw.LogitLens(model, TEXT)
    assert lens.attribution().logit.dtype == torch.float32
    assert lens.save_html(tmp_path / "lens.html").stat().st_size > 0
    assert cw.CircuitExplorer(model, TEXT).save_html(tmp_path / "dashboard.html").stat().st_size > 0


CORRUPTED = "def add(x, b):\n    return a + b\ndef add(a, b):"   # one token differs


def _logits_with(model, tokens: torch.Tensor, name: str, replace) -> torch.Tensor:
    """The model's own logits at the last position, one TransformerLens hook replacing part of
    an activation (the test's brute-force reference for ablation and patching)."""

    def hook(act, hook):
        act = act.clone()
        replace(act)
        return act

    with torch.inference_mode():
        return model.run_with_hooks(tokens, fwd_hooks=[(name, hook)])[0, -1].float()


@pytest.mark.parametrize("name, kind", ENTRIES)
def test_interventions_are_the_models_own_edits(name, kind):
    """Ablating a head equals zeroing its ``hook_z``; each patching cell (residual stream,
    head output) equals one hooked run of the corrupted prompt with the clean activation."""
    model = _model(name, kind)
    adapter = ModelAdapter(model)
    if not adapter.can_replace("z"):
        pytest.skip("this model kind runs heads it cannot replace (said by analysis.ablate)")
    clean, corrupted = adapter.to_tokens(TEXT), adapter.to_tokens(CORRUPTED)
    assert clean.shape == corrupted.shape
    layer, head = adapter.n_layers - 1, 1
    zeroed = _logits_with(model, clean, hook_name("z", layer), lambda z: z[:, :, head].zero_())
    abl = analysis.ablate(adapter, TEXT, [f"L{layer}H{head}"], "zero")
    torch.testing.assert_close(abl.logits_after[-1], zeroed[abl.targets[-1]], atol=1e-4, rtol=1e-4)

    target = int(_model_logits(model, clean)[-1].argmax())
    grids = analysis.patching(adapter, TEXT, CORRUPTED, "logit", at=["resid_pre", "heads"], target=target, normalize=False)
    names = {hook_name("resid_pre", l) for l in range(adapter.n_layers)} | {hook_name("z", l) for l in range(adapter.n_layers)}
    with torch.inference_mode():
        _, cache = model.run_with_cache(clean, names_filter=names.__contains__)
    for l in range(adapter.n_layers):
        for p in (1, 2, clean.shape[1] - 1):
            def put(r, l=l, p=p):
                r[:, p] = cache[hook_name("resid_pre", l)][:, p]
            expected = _logits_with(model, corrupted, hook_name("resid_pre", l), put)[target]
            assert float(grids["resid_pre"].values[l, p]) == pytest.approx(float(expected), abs=1e-3, rel=1e-3)
        for h in range(adapter.n_heads):
            def put_z(z, l=l, h=h):
                z[:, :, h] = cache[hook_name("z", l)][:, :, h]
            expected = _logits_with(model, corrupted, hook_name("z", l), put_z)[target]
            assert float(grids["heads"].values[l, h]) == pytest.approx(float(expected), abs=1e-3, rel=1e-3)


def _probed_readout_is_exact(adapter: ModelAdapter) -> bool:
    """The one-time probe the adapter used to run before its first intervention (kept here as
    the reference): final norm + unembedding of a short text's last residual stream against
    the model's own logits."""
    tokens = adapter._probe_tokens
    last = hook_name("resid_post", adapter.n_layers - 1)
    logits, cache = adapter.run_with_cache(tokens, [last])
    mine = adapter._readout(cache[last])
    return bool(torch.allclose(mine, logits, rtol=1e-4, atol=1e-4 * float(logits.abs().max()) + 1e-5))


def _probed_batch_can_grow(adapter: ModelAdapter) -> bool:
    """The other old probe: two copies of a short text joining the batch at layer 1 give the
    model's own logits."""
    tokens = adapter._probe_tokens.to(adapter.device)

    def grow(act, hook):
        return torch.cat([act, act[:1].expand(2, *act.shape[1:])])

    with torch.inference_mode():
        expected = adapter.model(tokens, return_type="logits")
        try:
            got = adapter.model.run_with_hooks(
                tokens, fwd_hooks=[(hook_name("resid_pre", min(1, adapter.n_layers - 1)), grow)], return_type="logits"
            )
        except Exception:
            return False
    return tuple(got.shape[:1]) == (3,) and bool(torch.allclose(got, expected.expand_as(got), rtol=1e-4, atol=1e-5))


@pytest.mark.parametrize("name, kind", ENTRIES)
def test_the_first_intervention_learns_what_the_old_probes_did(name, kind):
    """The adapter no longer spends forward passes probing the model before its first
    intervention: the first ablation's own pass finds out whether its shortcuts hold (the
    readout at the last residual stream; rows joining the batch mid-pass). Its answers are the
    old probes' on every family, and the ablation is still the model's own edit."""
    model = _model(name, kind)
    adapter = ModelAdapter(model)
    assert adapter._final_readout_is_exact is None and adapter._batch_can_grow is None
    layer, head = adapter.n_layers - 1, 1
    abl = analysis.Ablator(adapter, TEXT).ablate([(layer, head)], "zero", positions=[-1, 3])
    assert (adapter._final_readout_is_exact, adapter._batch_can_grow) == (
        _probed_readout_is_exact(ModelAdapter(model)), _probed_batch_can_grow(ModelAdapter(model)))
    tokens = adapter.to_tokens(TEXT)
    expected = _logits_with(model, tokens, hook_name("z", layer), lambda z: z[:, :, head].zero_())
    torch.testing.assert_close(abl.logits_after[0], expected[abl.targets[0]], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(abl.logits_before[0], _model_logits(model, tokens)[-1][abl.targets[0]], atol=1e-4, rtol=1e-4)
