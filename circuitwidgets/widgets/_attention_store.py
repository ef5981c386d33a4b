"""Every attention pattern of one text, held compactly for AttentionExplorer.

The browser never gets all of it: it gets a small *thumbnail* of every head (for the
overview) and the full pattern of the heads it shows, one at a time (see
``attention_explorer.py``). This module keeps the full patterns in Python and makes those
two forms:

* **Full patterns** are kept and sent as float16: for a weight ``x`` in [0, 1] the stored
  ``x̂`` differs by at most ``max(x * 2**-11, 2**-25)`` (float16 has an 11-bit significand;
  below 2**-14 it is subnormal with a fixed spacing of 2**-24). That is about 0.05 % of the
  weight, so a hover card's four decimals are right, and it halves the memory of float32:
  ``n_layers x n_heads x seq² x 2`` bytes (302 MB for GPT-2 small at 1024 tokens).
* **Thumbnails** are at most :data:`THUMBNAIL_SIZE` cells a side: cell ``(i, j)`` is the
  *maximum* of the block of the pattern that it covers (adaptive max pooling: rows
  ``floor(i*seq/T) .. ceil((i+1)*seq/T) - 1``, columns alike), so a thin stripe of strong
  attention (previous-token, induction) stays visible however long the text; they are sent
  as uint8 (``round(x * 255)``, error at most 1/510, see ``_transport.quantize_unit``).
  Texts of at most ``THUMBNAIL_SIZE`` tokens get their full pattern as thumbnail.

>>> store = AttentionStore.build(ModelAdapter(model), "a b c a b c")
>>> store.pattern(0, 3).shape                   # BOS + 6 tokens
torch.Size([7, 7])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch

from ..analysis.attention import attention_by_layer
from ..model import ModelAdapter
from ._channel import Stale
from ._transport import to_wire

__all__ = [
    "THUMBNAIL_SIZE", "HALF_RELATIVE_ERROR", "HALF_ABSOLUTE_ERROR", "AttentionStore", "pattern_answer", "thumbnail",
]

#: Largest side of an overview thumbnail, in cells (each drawn about 40 CSS pixels wide).
THUMBNAIL_SIZE = 40
#: float16 keeps a weight ``x >= 2**-14`` within ``x * HALF_RELATIVE_ERROR`` ...
HALF_RELATIVE_ERROR = 2.0**-11
#: ... and a smaller one within ``HALF_ABSOLUTE_ERROR``.
HALF_ABSOLUTE_ERROR = 2.0**-25


def thumbnail(patterns: torch.Tensor, size: int = THUMBNAIL_SIZE) -> torch.Tensor:
    """Patterns ``[..., seq, seq]`` shrunk to ``[..., T, T]`` with ``T = min(seq, size)`` by
    taking the maximum over each block (see the module docs); unchanged when ``seq <= size``.
    """
    if size < 1:
        raise ValueError(f"thumbnail size must be at least 1, got {size}")
    seq = patterns.shape[-1]
    if seq <= size:
        return patterns.clone()
    lead = patterns.shape[:-2]
    flat = patterns.reshape(-1, 1, seq, seq)
    pooled = torch.nn.functional.adaptive_max_pool2d(flat, size)
    return pooled.reshape(*lead, size, size)


@dataclass(frozen=True, eq=False)
class AttentionStore:
    """One text's attention, as AttentionExplorer keeps it.

    Attributes
    ----------
    text:
        The text as given.
    tokens, str_tokens:
        ``LongTensor[seq]`` and one display string per token.
    patterns:
        float16 ``[n_layers, n_heads, seq, seq]`` (see the module docs for the error).
    thumbnails:
        float32 ``[n_layers, n_heads, T, T]``, ``T = min(seq, THUMBNAIL_SIZE)``.
    entropy, bos_share:
        ``[n_layers, n_heads]`` from the float32 patterns (see
        :class:`~circuitwidgets.analysis.AttentionResult`).
    """

    text: str
    tokens: torch.Tensor
    str_tokens: list[str]
    patterns: torch.Tensor
    thumbnails: torch.Tensor
    entropy: torch.Tensor
    bos_share: torch.Tensor

    @property
    def seq_len(self) -> int:
        return int(self.tokens.shape[0])

    @classmethod
    def build(
        cls, adapter: ModelAdapter, text: str, on_layer: Optional[Callable[[int], None]] = None
    ) -> "AttentionStore":
        """Run the model once on ``text`` and keep its patterns (one layer of float32 alive at
        a time). ``on_layer(layer)`` is called after each layer, for progress. Raises
        ``ValueError`` for an empty text or one longer than the model's context."""
        tokens = adapter.to_tokens(text)  # check the text before allocating for it
        seq = int(tokens.shape[-1])
        side = min(seq, THUMBNAIL_SIZE)
        patterns = torch.empty(adapter.n_layers, adapter.n_heads, seq, seq, dtype=torch.float16)
        thumbs = torch.empty(adapter.n_layers, adapter.n_heads, side, side)

        def keep(layer: int, layer_patterns: torch.Tensor) -> None:
            patterns[layer] = layer_patterns
            thumbs[layer] = thumbnail(layer_patterns)
            if on_layer is not None:
                on_layer(layer)

        summary = attention_by_layer(adapter, text, keep)
        return cls(
            text=text,
            tokens=summary.tokens,
            str_tokens=summary.str_tokens,
            patterns=patterns,
            thumbnails=thumbs,
            entropy=summary.entropy,
            bos_share=summary.bos_share,
        )

    def pattern(self, layer: int, head: int) -> torch.Tensor:
        """The float16 pattern ``[seq, seq]`` of one head."""
        return self.patterns[layer, head]


def pattern_answer(
    adapter: ModelAdapter, run_id: int, payload: dict[str, Any], pattern: Callable[[int, int], torch.Tensor]
) -> dict[str, Any]:
    """The answer to a view's ``"pattern"`` request ``{"layer", "head", "run"}`` (the views
    that show single heads share it): ``{"layer", "head", "run", "pattern": float16 wire}``
    with ``pattern(layer, head)``; a bad head is refused naming the range, a request about an
    older run (``run_id`` has moved on) is :class:`~._channel.Stale`."""
    layer = adapter.check_layer(int(payload["layer"]))
    head = adapter.check_head(int(payload["head"]))
    if payload.get("run") != run_id:
        raise Stale("about data that has since been replaced")  # the view asks again
    return {"layer": layer, "head": head, "run": run_id, "pattern": to_wire(pattern(layer, head), dtype="float16")}
