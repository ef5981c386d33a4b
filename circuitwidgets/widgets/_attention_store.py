"""Every attention pattern of one text, held compactly for AttentionExplorer.

The browser never gets all of it: it gets a small *thumbnail* of every head (for the
overview) and the full pattern of the heads it shows, one at a time (see
``attention_explorer.py``). This module keeps what makes those two forms:

* **Full patterns** are not kept: each layer's queries and keys are, and a head's pattern is
  computed from them when the browser asks for it
  (:func:`~circuitwidgets.analysis.patterns_on_demand`: memory linear in the text's length,
  302 MB for GPT-2 small at 4096 tokens where every pattern as float16 took 4.8 GB). A
  family whose patterns cannot be rebuilt from q and k (ALiBi, ...) keeps every pattern as
  float16 instead and says why in :attr:`AttentionStore.reason`. Patterns are sent as
  float16: for a weight ``x`` in [0, 1] the stored ``x̂`` differs by at most ``max(x *
  2**-11, 2**-25)`` (float16 has an 11-bit significand; below 2**-14 it is subnormal with a
  fixed spacing of 2**-24). That is about 0.05 % of the weight, so a hover card's four
  decimals are right.
* **Thumbnails** are at most :data:`THUMBNAIL_SIZE` cells a side: cell ``(i, j)`` is the
  *maximum* of the block of the pattern that it covers (adaptive max pooling: rows
  ``floor(i*seq/T) .. ceil((i+1)*seq/T) - 1``, columns alike), so a thin stripe of strong
  attention (previous-token, induction) stays visible however long the text; they are sent
  as uint8 (``round(x * 255)``, error at most 1/510, see ``_transport.quantize_unit``).
  Texts of at most ``THUMBNAIL_SIZE`` tokens get their full pattern as thumbnail. They are
  pooled block by block of rows during the forward pass, never from a whole pattern.

>>> store = AttentionStore.build(ModelAdapter(model), "a b c a b c")
>>> store.pattern(0, 3).shape                   # BOS + 6 tokens
torch.Size([7, 7])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch

from ..analysis.on_demand import OnDemandPatterns, patterns_on_demand
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
        ``LongTensor[seq]`` (``None`` for patterns given as arrays) and one display string per
        token.
    patterns:
        Every head's pattern, computed when asked: an
        :class:`~circuitwidgets.analysis.OnDemandPatterns` (``patterns[layer, head]`` is
        float32 ``[seq, seq]``; rows, columns and blocks too), or its subclass over arrays
        (:class:`~circuitwidgets.analysis.ArrayPatterns`).
    thumbnails:
        float32 ``[n_layers, n_heads, T, T]``, ``T = min(seq, THUMBNAIL_SIZE)``.
    entropy, bos_share:
        ``[n_layers, n_heads]`` (see :class:`~circuitwidgets.analysis.AttentionResult`).
    """

    text: str
    tokens: Optional[torch.Tensor]
    str_tokens: list[str]
    patterns: OnDemandPatterns
    thumbnails: torch.Tensor
    entropy: torch.Tensor
    bos_share: torch.Tensor

    @property
    def seq_len(self) -> int:
        return len(self.str_tokens)

    @property
    def reason(self) -> str:
        """Why this model's patterns are kept whole instead of rebuilt from q and k ('' when
        they are rebuilt)."""
        return self.patterns.reason

    @classmethod
    def build(
        cls, adapter: ModelAdapter, text: str, on_layer: Optional[Callable[[int], None]] = None
    ) -> "AttentionStore":
        """Run the model once on ``text`` and keep what rebuilds its patterns (one block of
        one layer's weights alive at a time). ``on_layer(layer)`` is called after each layer,
        for progress. Raises ``ValueError`` for an empty text or one longer than the model's
        context."""
        return cls.of(patterns_on_demand(adapter, text, pooled_size=THUMBNAIL_SIZE, on_layer=on_layer))

    @classmethod
    def of(cls, patterns: OnDemandPatterns) -> "AttentionStore":
        """The store of patterns already at hand: a model's run (:meth:`build`) or arrays
        (:func:`~circuitwidgets.analysis.array_patterns`, pooled to :data:`THUMBNAIL_SIZE`).

        >>> p = torch.eye(3).expand(2, 3, 3)          # 2 heads, each token attends to itself
        >>> AttentionStore.of(analysis.array_patterns(p, list("abc"), pooled_size=THUMBNAIL_SIZE)).thumbnails.shape
        torch.Size([1, 2, 3, 3])
        """
        if patterns.pooled is None:
            raise ValueError(f"the patterns have no thumbnails; make them with pooled_size={THUMBNAIL_SIZE}")
        return cls(
            text=patterns.text,
            tokens=patterns.tokens,
            str_tokens=patterns.str_tokens,
            patterns=patterns,
            thumbnails=patterns.pooled,
            entropy=patterns.entropy,
            bos_share=patterns.bos_share,
        )

    def pattern(self, layer: int, head: int) -> torch.Tensor:
        """The pattern ``[seq, seq]`` of one head as sent and drawn (float16)."""
        return self.patterns.pattern(layer, head).half()


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
