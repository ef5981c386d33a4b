"""The architecture matrix: a tiny random-weight model of every common decoder-only family,
loaded the ways users load them, built once per test run.

Each family is a ``transformers`` config (2 layers, d_model 64, the pocket tokenizer's
vocabulary, grouped-query or multi-query K/V heads where the family has them) saved with
``save_pretrained`` and booted with ``TransformerBridge.boot_transformers(folder)``, plainly
(``"bridge"``) and after ``enable_compatibility_mode()`` (``"bridge-compat"``). Where the
installed TransformerLens still has ``HookedTransformer`` (3.x), the same family is also a
``HookedTransformer(HookedTransformerConfig(...))`` with the matching options (``"hooked"``).

Every 1-D parameter (norm weights, biases) gets noise on top of its initial value, so a rule
that ignores a norm weight (Gemma's ``1 + w``) or a bias shows up as a wrong number, and the
family-specific settings that change numbers are set away from their neutral values (Gemma 2's
soft caps small enough to bite, Granite's multipliers not 1).
"""

from __future__ import annotations

import atexit
import copy
import functools
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from circuitwidgets.model import transformer_lens_version

TOKENIZER_DIR = Path(__file__).resolve().parents[1] / "circuitwidgets" / "pocket" / "weights" / "tokenizer"

D_MODEL, N_LAYERS, N_HEADS, N_KV, D_MLP, N_CTX = 64, 2, 4, 2, 128, 64


@dataclass(frozen=True)
class Family:
    """One architecture family: its ``transformers`` config and, for TransformerLens 3's
    ``HookedTransformer``, the matching ``HookedTransformerConfig`` options (``None``: TL 3 has
    no config-level equivalent)."""

    config_class: str
    hf: dict[str, Any]
    hooked: dict[str, Any] | None
    traits: frozenset[str] = field(default_factory=frozenset)


_LLAMA = dict(
    hidden_size=D_MODEL, num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS,
    num_key_value_heads=N_KV, intermediate_size=D_MLP, max_position_embeddings=N_CTX,
)
_HOOKED_LLAMA = dict(
    normalization_type="RMS", positional_embedding_type="rotary", gated_mlp=True, act_fn="silu",
    n_key_value_heads=N_KV, final_rms=True,
)
_HOOKED_GPT = dict(normalization_type="LN", positional_embedding_type="standard", act_fn="gelu_new")


def _traits(*names: str) -> frozenset[str]:
    return frozenset(names)


#: name -> Family. ``traits`` names the family-specific rules a test checks on that entry.
FAMILIES: dict[str, Family] = {
    "gpt2": Family("GPT2Config", dict(n_embd=D_MODEL, n_layer=N_LAYERS, n_head=N_HEADS, n_positions=N_CTX, n_inner=D_MLP), _HOOKED_GPT, _traits("learned", "tied")),
    "gpt_neo": Family(
        "GPTNeoConfig",
        dict(hidden_size=D_MODEL, num_layers=N_LAYERS, num_heads=N_HEADS, max_position_embeddings=N_CTX,
             attention_types=[[["global", "local"], 1]], window_size=16, intermediate_size=D_MLP),
        dict(_HOOKED_GPT, attn_types=["global", "local"], window_size=16),
        _traits("learned"),
    ),
    "gptj": Family(
        "GPTJConfig", dict(n_embd=D_MODEL, n_layer=N_LAYERS, n_head=N_HEADS, n_positions=N_CTX, rotary_dim=8, n_inner=D_MLP),
        dict(_HOOKED_GPT, positional_embedding_type="rotary", rotary_dim=8, parallel_attn_mlp=True),
        _traits("rotary", "parallel"),
    ),
    "gpt_neox": Family(
        "GPTNeoXConfig", dict(hidden_size=D_MODEL, num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS,
                              intermediate_size=D_MLP, max_position_embeddings=N_CTX, rotary_pct=0.25),
        dict(_HOOKED_GPT, positional_embedding_type="rotary", rotary_dim=4, parallel_attn_mlp=True, act_fn="gelu"),
        _traits("rotary", "parallel"),
    ),
    "opt": Family(
        "OPTConfig", dict(hidden_size=D_MODEL, num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS, ffn_dim=D_MLP,
                          max_position_embeddings=N_CTX, word_embed_proj_dim=D_MODEL),
        dict(_HOOKED_GPT, act_fn="relu"),
        _traits("learned"),
    ),
    # OPT-350m's shape: a 32-wide embedding projected up to the stream and back down
    # (project_in/project_out), LayerNorm after each block (post-LN) and no final norm
    "opt_350m": Family(
        "OPTConfig", dict(hidden_size=D_MODEL, num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS, ffn_dim=D_MLP,
                          max_position_embeddings=N_CTX, word_embed_proj_dim=D_MODEL // 2, do_layer_norm_before=False),
        None,
        _traits("learned", "projected", "post_ln"),
    ),
    "bloom": Family(
        "BloomConfig", dict(hidden_size=D_MODEL, n_layer=N_LAYERS, n_head=N_HEADS),
        dict(_HOOKED_GPT, positional_embedding_type="alibi", post_embedding_ln=True, act_fn="gelu_fast"),
        _traits("alibi"),
    ),
    "falcon": Family(
        "FalconConfig", dict(hidden_size=D_MODEL, num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS,
                             new_decoder_architecture=False, multi_query=True, parallel_attn=True, alibi=False,
                             max_position_embeddings=N_CTX),
        dict(_HOOKED_GPT, positional_embedding_type="rotary", parallel_attn_mlp=True, n_key_value_heads=1, act_fn="gelu"),
        _traits("rotary", "parallel", "mqa"),
    ),
    "llama": Family("LlamaConfig", dict(_LLAMA), _HOOKED_LLAMA, _traits("rotary", "gqa", "no_bias")),
    "mistral": Family("MistralConfig", dict(_LLAMA, sliding_window=None), _HOOKED_LLAMA, _traits("rotary", "gqa", "no_bias")),
    "mixtral": Family(
        "MixtralConfig", dict(_LLAMA, num_local_experts=4, num_experts_per_tok=2),
        dict(_HOOKED_LLAMA, num_experts=4, experts_per_token=2), _traits("rotary", "gqa", "moe", "no_bias"),
    ),
    "qwen2": Family("Qwen2Config", dict(_LLAMA), _HOOKED_LLAMA, _traits("rotary", "gqa")),
    "qwen3": Family("Qwen3Config", dict(_LLAMA, head_dim=16), dict(_HOOKED_LLAMA, use_qk_norm=True), _traits("rotary", "gqa", "no_bias")),
    "qwen3_moe": Family(
        "Qwen3MoeConfig", dict(_LLAMA, head_dim=16, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32, decoder_sparse_step=1),
        dict(_HOOKED_LLAMA, use_qk_norm=True, num_experts=4, experts_per_token=2), _traits("rotary", "gqa", "moe", "no_bias"),
    ),
    "gemma": Family(
        "GemmaConfig", dict(_LLAMA, head_dim=16), dict(_HOOKED_LLAMA, act_fn="gelu_pytorch_tanh"),
        _traits("rotary", "gqa", "no_bias", "gemma_norm", "embed_scale", "tied"),
    ),
    "gemma2": Family(
        "Gemma2Config",
        dict(_LLAMA, head_dim=16, final_logit_softcapping=0.5, attn_logit_softcapping=1.0, sliding_window=16, query_pre_attn_scalar=16),
        dict(_HOOKED_LLAMA, act_fn="gelu_pytorch_tanh", use_normalization_before_and_after=True,
             output_logits_soft_cap=0.5, attn_scores_soft_cap=1.0),
        _traits("rotary", "gqa", "no_bias", "gemma_norm", "embed_scale", "soft_cap", "post_norm", "tied"),
    ),
    "gemma3": Family(
        "Gemma3TextConfig", dict(_LLAMA, head_dim=16, sliding_window=16, query_pre_attn_scalar=16),
        dict(_HOOKED_LLAMA, act_fn="gelu_pytorch_tanh", use_normalization_before_and_after=True, use_qk_norm=True),
        _traits("rotary", "gqa", "no_bias", "gemma_norm", "embed_scale", "post_norm", "tied"),
    ),
    "phi": Family(
        "PhiConfig", dict(hidden_size=D_MODEL, num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS,
                          intermediate_size=D_MLP, max_position_embeddings=N_CTX, partial_rotary_factor=0.5),
        dict(_HOOKED_GPT, positional_embedding_type="rotary", rotary_dim=8, parallel_attn_mlp=True),
        _traits("rotary", "parallel"),
    ),
    "phi3": Family("Phi3Config", dict(_LLAMA), _HOOKED_LLAMA, _traits("rotary", "gqa", "no_bias")),
    "olmo": Family("OlmoConfig", dict(_LLAMA), dict(_HOOKED_LLAMA, normalization_type="LNPre", final_rms=False), _traits("rotary", "gqa", "no_bias")),
    "olmo2": Family("Olmo2Config", dict(_LLAMA), None, _traits("rotary", "gqa", "no_bias", "post_norm")),
    "stablelm": Family(
        "StableLmConfig", dict(_LLAMA, partial_rotary_factor=0.25),
        dict(_HOOKED_LLAMA, normalization_type="LN", final_rms=False, rotary_dim=4), _traits("rotary", "gqa"),
    ),
    "granite": Family(
        "GraniteConfig", dict(_LLAMA, embedding_multiplier=3.0, residual_multiplier=0.5, logits_scaling=4.0, attention_multiplier=0.2),
        _HOOKED_LLAMA, _traits("rotary", "gqa", "no_bias", "multipliers"),
    ),
}


def kinds() -> list[str]:
    """The ways the installed TransformerLens loads a model."""
    if transformer_lens_version() >= (4,):
        return ["bridge", "bridge-compat"]
    return ["hooked", "bridge", "bridge-compat"]


@functools.lru_cache(maxsize=None)
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(TOKENIZER_DIR))


@functools.lru_cache(maxsize=None)
def _root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="cw-architectures-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def _perturb(module: torch.nn.Module, seed: int) -> None:
    """Noise on every 1-D parameter (norm weights and biases): a rule that ignores one shows."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.ndim == 1:
                p.add_(0.2 * torch.randn(p.shape, generator=generator).to(p.dtype))


@functools.lru_cache(maxsize=None)
def checkpoint(name: str) -> str:
    """A folder with family ``name``'s random-weight checkpoint and the pocket tokenizer."""
    import transformers

    family = FAMILIES[name]
    tok = tokenizer()
    config = getattr(transformers, family.config_class)(
        vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id, initializer_range=0.1, **family.hf,
    )
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config)
    _perturb(model, 0)
    folder = _root() / name
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


class Unbootable(Exception):
    """TransformerLens cannot load this family this way (the test skips, saying why)."""


def _hooked(name: str, dtype: torch.dtype) -> Any:
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    options = FAMILIES[name].hooked
    if options is None:
        why = "embedding projections and post-LN blocks" if has(name, "projected") else "post-norm-only blocks"
        raise Unbootable(f"TransformerLens 3's HookedTransformerConfig has no options for {name} ({why})")
    cfg = dict(
        n_layers=N_LAYERS, d_model=D_MODEL, n_heads=N_HEADS, d_head=D_MODEL // N_HEADS, d_mlp=D_MLP, n_ctx=N_CTX,
        d_vocab=len(tokenizer()), seed=0, default_prepend_bos=True, model_name=f"tiny-{name}", dtype=dtype,
    )
    cfg.update(options)
    if cfg.get("num_experts"):
        cfg["d_mlp"] = 32
    model = HookedTransformer(HookedTransformerConfig(**cfg), tokenizer=tokenizer())
    _perturb(model, 1)
    return model.eval()


def _bridge(name: str, compat: bool, dtype: torch.dtype) -> Any:
    from transformer_lens.model_bridge import TransformerBridge

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = TransformerBridge.boot_transformers(checkpoint(name), device="cpu", dtype=dtype)
    except Exception as error:  # TransformerLens's own refusal: report it as the reason
        raise Unbootable(f"TransformerBridge.boot_transformers cannot load {name}: {type(error).__name__}: {error}") from error
    if compat:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model.enable_compatibility_mode()
            except Exception as error:
                raise Unbootable(f"enable_compatibility_mode() fails for {name}: {type(error).__name__}: {error}") from error
    return model.eval()


@functools.lru_cache(maxsize=None)
def load(name: str, kind: str, dtype: torch.dtype = torch.float32) -> Any:
    """Family ``name`` loaded as ``kind`` (see :func:`kinds`), cached for the test run.
    Raises :class:`Unbootable` where TransformerLens cannot load it."""
    if kind == "hooked":
        if dtype == torch.float32:
            return _hooked(name, dtype)
        # the float32 model's very weights, cast (a fresh init in half precision would differ)
        model = copy.deepcopy(load(name, kind)).to(dtype)
        model.cfg.dtype = dtype
        return model
    return _bridge(name, kind == "bridge-compat", dtype)


def entries() -> list[tuple[str, str]]:
    return [(name, kind) for name in FAMILIES for kind in kinds()]


def has(name: str, trait: str) -> bool:
    return trait in FAMILIES[name].traits

