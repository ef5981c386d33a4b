"""The pocket models' tokenizer: a byte-level BPE trained on the corpus.

Byte-level (as GPT-2's) so any text, in any script, tokenizes without unknown tokens; a small
vocabulary (2048 by default) so the embedding matrices stay small and every token is seen often.
One special token, ``<|endoftext|>`` (id 0), serves as beginning-of-sequence (BOS), end of
document and padding. The tokenizer itself adds no special tokens: TransformerLens prepends the
BOS, as it does for GPT-2.

It is saved as a Hugging Face tokenizer folder and loaded with
``transformers.AutoTokenizer.from_pretrained(folder)``, the form both TransformerLens model
classes accept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

__all__ = ["BOS_TOKEN", "train_tokenizer", "load_tokenizer"]

BOS_TOKEN = "<|endoftext|>"


def train_tokenizer(texts: Iterable[str], vocab_size: int, out_dir: str | Path):
    """Train a byte-level BPE of ``vocab_size`` tokens on ``texts`` and save it to ``out_dir``.

    Deterministic for a given list of texts. Returns the loaded Hugging Face tokenizer.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if vocab_size < len(alphabet) + 2:
        raise ValueError(
            f"vocab_size {vocab_size} is too small: a byte-level BPE needs at least "
            f"{len(alphabet) + 2} (256 bytes, the special token and one merge)"
        )
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS_TOKEN],
        initial_alphabet=alphabet,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS_TOKEN,
        eos_token=BOS_TOKEN,
        unk_token=BOS_TOKEN,
        pad_token=BOS_TOKEN,
        model_max_length=1_000_000,
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out_dir))
    return load_tokenizer(out_dir)


def load_tokenizer(folder: str | Path):
    """The tokenizer saved in ``folder`` (offline; ``AutoTokenizer.from_pretrained``)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
