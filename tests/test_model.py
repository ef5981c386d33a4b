"""The model adapter returns exactly what TransformerLens itself returns, for every model kind."""

from __future__ import annotations

import pytest
import torch

from circuitwidgets.model import ModelAdapter, as_adapter, build_model, hook_name

TEXT = "def add(a, b):\n    return a + b"


def test_config_numbers(random_model):
    m = ModelAdapter(random_model)
    cfg = random_model.cfg
    assert (m.n_layers, m.n_heads, m.d_model, m.d_head, m.n_ctx) == (
        cfg.n_layers, cfg.n_heads, cfg.d_model, cfg.d_head, cfg.n_ctx
    )
    assert m.d_vocab == cfg.d_vocab
    assert m.attn_only is False
    assert as_adapter(m) is m
    assert ModelAdapter(m).model is random_model
    assert m.kind in repr(m)


def test_tokens_follow_the_model(random_model):
    m = ModelAdapter(random_model)
    tokens = m.to_tokens(TEXT)
    assert torch.equal(tokens, random_model.to_tokens(TEXT).cpu())
    assert tokens[0, 0].item() == m.bos_token_id  # the model's BOS convention
    assert m.to_str_tokens(tokens) == list(random_model.to_str_tokens(TEXT))
    assert "".join(m.to_str_tokens(tokens)[1:]) == TEXT


def test_tokens_holding_part_of_a_character_show_their_bytes(random_model):
    """TransformerLens shows every such token as the same "\ufffd"; the adapter shows the
    bytes, so two different partial tokens never look alike and joining them gives the text."""
    m = ModelAdapter(random_model)
    text = "café → 日本"
    tokens = m.to_tokens(text)[0, 1:]  # without the BOS
    theirs = list(random_model.to_str_tokens(text))[1:]
    ours = m.to_str_tokens(tokens)
    assert len(ours) == len(theirs) and any("\ufffd" in t for t in theirs)  # there are such tokens
    for mine, tl in zip(ours, theirs):
        assert mine == tl if "\ufffd" not in tl else ("\\x" in mine and "\ufffd" not in mine)
    raw = b"".join(
        bytes.fromhex(s.replace("\\x", "")) if s.startswith("\\x") else s.encode() for s in ours
    )
    assert raw.decode("utf-8") == text


def test_token_bytes_reads_byte_level_and_byte_fallback_pieces():
    from circuitwidgets.model import _token_bytes

    assert _token_bytes("Ġthe") == b" the"  # byte-level BPE: Ġ is the space byte
    assert _token_bytes("âĢ") == b"\xe2\x80"
    assert _token_bytes("<0xE2>") == b"\xe2"  # SentencePiece byte fallback
    assert _token_bytes("▁the") is None  # a SentencePiece word piece spells no bytes
    assert _token_bytes("") is None


def test_cache_matches_transformer_lens(random_model):
    m = ModelAdapter(random_model)
    tokens = m.to_tokens(TEXT)
    names = [hook_name("embed"), hook_name("pos_embed")] + [
        hook_name(kind, layer)
        for layer in range(m.n_layers)
        for kind in ("resid_pre", "pattern", "z", "attn_out", "mlp_out", "resid_post")
    ]
    logits, cache = m.run_with_cache(tokens, names)
    ref_logits, ref_cache = random_model.run_with_cache(tokens)
    assert set(cache) == set(names)  # only what was asked for
    torch.testing.assert_close(logits, ref_logits.float())
    for name in names:
        torch.testing.assert_close(cache[name], ref_cache[name].float(), msg=name)
    assert cache[hook_name("pattern", 0)].shape == (1, m.n_heads, tokens.shape[1], tokens.shape[1])


def test_weights_match_transformer_lens(random_model):
    m = ModelAdapter(random_model)
    w = m.weights
    for name in ("W_E", "W_Q", "W_K", "W_V", "W_O", "b_O", "W_U", "b_U"):
        torch.testing.assert_close(getattr(w, name), getattr(random_model, name).detach().float(), msg=name)
    torch.testing.assert_close(w.W_pos, random_model.pos_embed.W_pos.detach().float())
    assert w.W_Q.shape == (m.n_layers, m.n_heads, m.d_model, m.d_head)
    assert w.W_O.shape == (m.n_layers, m.n_heads, m.d_head, m.d_model)
    assert w.W_U.shape == (m.d_model, m.d_vocab)
    assert m.weights is w  # read once


def test_final_norm_and_unembed_reproduce_the_logits(random_model):
    m = ModelAdapter(random_model)
    tokens = m.to_tokens(TEXT)
    last = hook_name("resid_post", m.n_layers - 1)
    logits, cache = m.run_with_cache(tokens, [last])
    torch.testing.assert_close(m.unembed(m.apply_final_norm(cache[last])), logits, atol=1e-4, rtol=1e-4)
    # the lens reads only W_U and b_U (a big model's first logit-lens page does not wait for
    # every attention weight); the full weights share them
    assert "weights" not in vars(m)
    assert m.weights.W_U is m.unembedding[0] and m.weights.b_U is m.unembedding[1]


def test_final_norm_matches_accumulated_resid(random_model):
    """apply_final_norm recomputes the scale per readout, as accumulated_resid(apply_ln=True)."""
    m = ModelAdapter(random_model)
    tokens = m.to_tokens(TEXT)
    names = [hook_name("resid_pre", layer) for layer in range(m.n_layers)]
    names.append(hook_name("resid_post", m.n_layers - 1))
    _, cache = m.run_with_cache(tokens, names)
    _, ref_cache = random_model.run_with_cache(tokens)
    ref = ref_cache.accumulated_resid(apply_ln=True)  # [n_layers + 1, batch, seq, d_model]
    for i, name in enumerate(names):
        torch.testing.assert_close(m.apply_final_norm(cache[name]), ref[i].float(), atol=1e-5, rtol=1e-4, msg=name)


def test_grouped_query_attention_expands_kv(tiny_tokenizer):
    from conftest import make_random_model, model_kinds

    model = make_random_model(model_kinds()[0], tiny_tokenizer, n_key_value_heads=2)
    m = ModelAdapter(model)
    w = m.weights
    assert w.W_K.shape == w.W_Q.shape == w.W_V.shape
    # heads that share a K/V group have identical K and V weights
    torch.testing.assert_close(w.W_K[:, 0], w.W_K[:, 1])
    torch.testing.assert_close(w.W_V[:, 2], w.W_V[:, 3])


@pytest.mark.parametrize(
    "bad, shown",
    [(None, "None"), ("gpt2", "the string 'gpt2'"), (torch.nn.Linear(2, 2), "torch.nn.modules.linear.Linear")],
)
def test_unsupported_models_raise_a_helpful_type_error(bad, shown):
    with pytest.raises(TypeError) as info:
        ModelAdapter(bad)
    msg = str(info.value)
    assert shown in msg
    assert "from transformer_lens import" in msg  # the two lines that load a model by name
    assert "load_pocket_model" in msg


def test_a_hugging_face_model_names_itself_in_the_hint(tiny_tokenizer):
    from transformers import GPT2Config, GPT2LMHeadModel

    hf = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=300, n_positions=32))
    hf.config._name_or_path = "my-org/tiny-gpt2"
    with pytest.raises(TypeError, match=r"my-org/tiny-gpt2"):
        ModelAdapter(hf)


def test_bad_text_and_indices(random_model):
    m = ModelAdapter(random_model)
    with pytest.raises(ValueError, match="empty"):
        m.to_tokens("")
    with pytest.raises(ValueError, match=r"context is 64 tokens"):
        m.to_tokens("word " * 200)
    with pytest.raises(TypeError, match="str"):
        m.to_tokens(123)
    with pytest.raises(ValueError, match=r"layer 5 is out of range; this model has layers 0\.\.1"):
        m.check_layer(5)
    with pytest.raises(ValueError, match=r"head -1 is out of range; this model has heads 0\.\.3"):
        m.check_head(-1)
    with pytest.raises(ValueError, match="not a single token"):
        m.to_single_token("return a + b")
    assert m.to_single_token(m.token_str(42)) == 42
    with pytest.raises(ValueError, match=r"out of range \[0, "):
        m.to_single_token(10**9)


def _brute_force_logits(sd: dict, cfg: dict, tokens: torch.Tensor) -> torch.Tensor:
    """An attention-only LayerNorm transformer written out by hand, in HookedTransformer's
    conventions, as an independent reference for build_model's weight loading."""

    def ln(x, w, b):
        x = x - x.mean(-1, keepdim=True)
        return x / (x.pow(2).mean(-1, keepdim=True) + 1e-5).sqrt() * w + b

    n = tokens.shape[-1]
    x = sd["embed.W_E"][tokens[0]] + sd["pos_embed.W_pos"][:n]
    causal = torch.ones(n, n).tril().bool()
    for layer in range(cfg["n_layers"]):
        p = f"blocks.{layer}."
        h = ln(x, sd[p + "ln1.w"], sd[p + "ln1.b"])
        q = torch.einsum("nm,hmd->hnd", h, sd[p + "attn.W_Q"]) + sd[p + "attn.b_Q"][:, None]
        k = torch.einsum("nm,hmd->hnd", h, sd[p + "attn.W_K"]) + sd[p + "attn.b_K"][:, None]
        v = torch.einsum("nm,hmd->hnd", h, sd[p + "attn.W_V"]) + sd[p + "attn.b_V"][:, None]
        scores = (q @ k.transpose(-1, -2) / cfg["d_head"] ** 0.5).masked_fill(~causal, float("-inf"))
        z = scores.softmax(-1) @ v
        x = x + torch.einsum("hnd,hdm->nm", z, sd[p + "attn.W_O"]) + sd[p + "attn.b_O"]
    return ln(x, sd["ln_final.w"], sd["ln_final.b"]) @ sd["unembed.W_U"] + sd["unembed.b_U"]


def test_build_model_loads_hooked_transformer_weights_exactly(tiny_tokenizer):
    """HookedTransformer-format weights (the format pocket models ship in) load into the
    installed model kind and compute what a hand-written forward pass computes."""
    cfg = dict(n_layers=2, d_model=32, d_head=8, n_heads=4, n_ctx=32, d_vocab=tiny_tokenizer.vocab_size,
               act_fn="gelu_new", attn_only=True, normalization_type="LN")
    g = torch.Generator().manual_seed(1)
    L, H, M, D, V = cfg["n_layers"], cfg["n_heads"], cfg["d_model"], cfg["d_head"], cfg["d_vocab"]
    sd = {"embed.W_E": torch.randn(V, M, generator=g), "pos_embed.W_pos": torch.randn(cfg["n_ctx"], M, generator=g),
          "ln_final.w": 1 + 0.1 * torch.randn(M, generator=g), "ln_final.b": 0.1 * torch.randn(M, generator=g),
          "unembed.W_U": torch.randn(M, V, generator=g) / M**0.5, "unembed.b_U": torch.randn(V, generator=g)}
    for layer in range(L):
        p = f"blocks.{layer}."
        sd |= {p + "ln1.w": 1 + 0.1 * torch.randn(M, generator=g), p + "ln1.b": 0.1 * torch.randn(M, generator=g)}
        for name in "QKV":
            sd[p + f"attn.W_{name}"] = torch.randn(H, M, D, generator=g) / M**0.5
            sd[p + f"attn.b_{name}"] = 0.1 * torch.randn(H, D, generator=g)
        sd[p + "attn.W_O"] = torch.randn(H, D, M, generator=g) / D**0.5
        sd[p + "attn.b_O"] = 0.1 * torch.randn(M, generator=g)
    m = ModelAdapter(build_model(cfg, sd, tiny_tokenizer))
    tokens = m.to_tokens(TEXT)
    torch.testing.assert_close(m.forward_logits(tokens)[0], _brute_force_logits(sd, cfg, tokens), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(m.weights.W_Q, torch.stack([sd[f"blocks.{i}.attn.W_Q"] for i in range(L)]))


def test_build_model_rejects_weights_that_do_not_fit(tiny_tokenizer):
    cfg = dict(n_layers=1, d_model=16, d_head=4, n_heads=4, n_ctx=8, d_vocab=tiny_tokenizer.vocab_size,
               act_fn="gelu_new", attn_only=True, normalization_type="LN")
    with pytest.raises((ValueError, RuntimeError, KeyError)):
        build_model(cfg, {"embed.W_E": torch.zeros(3, 3)}, tiny_tokenizer)


def test_run_with_hooks_can_stop_once_every_hook_has_fired(random_model):
    """stop_when_done: the same activations, the later layers never run, no hook left behind."""
    adapter = ModelAdapter(random_model)
    tokens = adapter.to_tokens("When Mary and John went to the store")
    first = hook_name("pattern", 0)
    _, cache = adapter.run_with_cache(tokens, [first])
    later = random_model.hook_dict[hook_name("resid_post", adapter.n_layers - 1)]
    calls = []
    handle = later.register_forward_hook(lambda *args: calls.append(1))  # plain torch: counts runs
    try:
        got = {}
        adapter.run_with_hooks(tokens, {first: lambda p: got.update(p=p)}, stop_when_done=True)
        assert calls == []  # stopped inside layer 0
        torch.testing.assert_close(got["p"], cache[first])
        adapter.run_with_hooks(tokens, {first: lambda p: None})
        assert calls == [1]  # without stop_when_done the whole pass runs
    finally:
        handle.remove()
    assert not random_model.hook_dict[first].fwd_hooks  # TransformerLens removed ours
    torch.testing.assert_close(adapter.forward_logits(tokens), adapter.run_with_cache(tokens, [first])[0])


def test_one_adapter_per_model_until_its_weights_change(tiny_tokenizer):
    import conftest

    model = conftest.make_random_model(conftest.model_kinds()[0], tiny_tokenizer)
    first = as_adapter(model)
    assert as_adapter(model) is first  # views of one model share its weights and products
    product = first.unembed_embed
    w = first.weights
    torch.testing.assert_close(product, w.W_U @ w.W_E, atol=1e-3, rtol=1e-4)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)  # an in-place write ...
    second = as_adapter(model)  # ... and the weights are read again
    assert second is not first
    torch.testing.assert_close(second.weights.W_O, 2 * w.W_O)
