"""Shared fixtures: small random-weight models of every model kind the installed
TransformerLens offers, built offline."""

from __future__ import annotations

import functools
import warnings

import pytest
import torch

from circuitwidgets.model import build_model, transformer_lens_version

warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=FutureWarning)

# A fixed text to train the tiny test tokenizer on: deterministic, offline.
_TOKENIZER_TEXT = (
    "The quick brown fox jumps over the lazy dog. "
    "def add(a, b):\n    return a + b\n\nclass Point:\n    x: int = 0\n    y: int = 0\n"
    "When Mary and John went to the store, John gave a drink to Mary. "
    "import os, sys; print(os.path.join('a', 'b'))\n"
) * 20


@functools.lru_cache(maxsize=None)
def tiny_tokenizer_dir(tmp_root: str) -> str:
    """Train a ~300-token byte-level BPE tokenizer and save it as a Hugging Face folder."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([_TOKENIZER_TEXT], trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    fast.save_pretrained(tmp_root)
    return tmp_root


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_tokenizer_dir(str(tmp_path_factory.mktemp("tok"))))


def model_kinds() -> list[str]:
    """The model kinds to test with the installed TransformerLens."""
    if transformer_lens_version() >= (4,):
        return ["bridge", "bridge-compat"]
    return ["hooked", "bridge"]


def make_random_model(kind: str, tokenizer, **overrides):
    """A random-weight model of ``kind`` ('hooked', 'bridge', 'bridge-compat')."""
    cfg = dict(
        n_layers=2, d_model=64, d_head=16, n_heads=4, n_ctx=64, d_vocab=tokenizer.vocab_size,
        act_fn="gelu_new", attn_only=False, d_mlp=128, normalization_type="LN", seed=0,
    )
    cfg.update(overrides)
    if kind == "hooked":
        return build_model(cfg, None, tokenizer)
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge import TransformerBridge

    cfg.setdefault("default_prepend_bos", True)
    model = TransformerBridge.boot_native(TransformerBridgeConfig(**cfg), tokenizer=tokenizer)
    if kind == "bridge-compat":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.enable_compatibility_mode()
    model.eval()
    return model


@pytest.fixture(scope="session", params=model_kinds())
def random_model(request, tiny_tokenizer):
    """A small random-weight model, once for each model kind of the installed TransformerLens."""
    torch.manual_seed(0)
    return make_random_model(request.param, tiny_tokenizer)


@pytest.fixture(scope="session")
def plain_model(tiny_tokenizer):
    """One small random-weight model of the first model kind: for tests of the views' plumbing
    (checks, traits, the wire), which do not depend on the model kind."""
    torch.manual_seed(0)
    return make_random_model(model_kinds()[0], tiny_tokenizer)


@pytest.fixture(scope="session")
def needs_chromium():
    """Skip a test that saves a picture (figures' and views' PNG/SVG export) when Chromium,
    chromedriver or selenium is missing, saying which."""
    from circuitwidgets import headless

    try:
        headless.find_browser()
    except headless.ExportUnavailable as missing:
        pytest.skip(str(missing))
