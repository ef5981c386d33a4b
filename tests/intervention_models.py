"""The models the intervention tests run on: GPT-2-style random models of every model kind the
installed TransformerLens offers, and a bias-free grouped-query rotary model (a Hugging Face
Llama checkpoint booted into a TransformerBridge on TransformerLens 4; a HookedTransformer with
RMSNorm, rotary positions, a gated MLP and 2 K/V heads on TransformerLens 3)."""

from __future__ import annotations

import torch

from circuitwidgets.model import transformer_lens_version

from conftest import make_random_model, model_kinds, tiny_tokenizer_dir

#: A prompt pair of equal length that differs in one name, and the two names.
CLEAN = "Mary and John, John gave to"
CORRUPTED = "Mary and John, Mary gave to"
TARGET, DISTRACTOR = " Mary", " John"

INTERVENTION_KINDS = [*model_kinds(), "gqa-rotary"]


def llama_bridge(folder: str):
    """A tiny Llama (RMSNorm, rotary, SwiGLU, no biases, 4 query / 2 K/V heads) saved with
    ``save_pretrained`` and loaded back with ``TransformerBridge.boot_transformers``."""
    from transformer_lens.model_bridge import TransformerBridge
    from transformers import LlamaConfig, LlamaForCausalLM

    tiny_tokenizer_dir(folder)
    from transformers import AutoTokenizer

    vocab = AutoTokenizer.from_pretrained(folder).vocab_size
    config = LlamaConfig(
        vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        bos_token_id=0, eos_token_id=0, pad_token_id=0, tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    model = TransformerBridge.boot_transformers(folder, device="cpu")
    model.eval()
    return model


def intervention_model(kind: str, tokenizer, tmp_folder: str):
    """The model of one of :data:`INTERVENTION_KINDS`."""
    torch.manual_seed(0)
    if kind != "gqa-rotary":
        return make_random_model(kind, tokenizer)
    if transformer_lens_version() >= (4,):
        return llama_bridge(tmp_folder)
    return make_random_model(
        "hooked", tokenizer, positional_embedding_type="rotary", normalization_type="RMS",
        gated_mlp=True, n_key_value_heads=2, act_fn="silu",
    )
