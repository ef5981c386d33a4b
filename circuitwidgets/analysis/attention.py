"""Attention patterns of every head on one text, with two per-head summaries for sorting.

Example::

    att = attention_patterns(model, "The cat sat on the mat")
    att.patterns.shape                          # [n_layers, n_heads, query, key]
    att.str_tokens[att.patterns[0, 3, -1].argmax()]   # what L0H3 reads from the last token
    att.entropy.flatten().argsort()             # heads from most focused to most diffuse
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import torch

from ..model import hook_name
from ._forward import TextRun, resolve_run


@dataclass(frozen=True, eq=False)
class AttentionResult:
    """Every head's attention pattern on one text.

    Attributes
    ----------
    tokens:
        ``LongTensor[seq]`` (BOS first where the model prepends one).
    str_tokens:
        One display string per token.
    patterns:
        ``float32 [n_layers, n_heads, seq, seq]``: ``patterns[l, h, q, k]`` is how much head
        ``h`` of layer ``l`` attends from query position ``q`` to key position ``k``. Each
        row sums to 1 and is zero above the diagonal (causal).
    entropy:
        ``[n_layers, n_heads]``: mean over query positions ``1..seq-1`` of the entropy (nats)
        of that query's attention row, ``-sum_k p log p``. Low = focused, high = diffuse
        (at most ``log(q + 1)`` for query ``q``).
    bos_share:
        ``[n_layers, n_heads]``: mean over query positions ``1..seq-1`` of the attention paid
        to position 0 (the BOS token where the model prepends one) -- heads that mostly "rest"
        on BOS score near 1.

    Query position 0 is left out of both summaries because it can only attend to itself
    (entropy 0, share 1 whatever the head does); a one-token text uses that one position.
    """

    tokens: torch.Tensor
    str_tokens: list[str]
    patterns: torch.Tensor
    entropy: torch.Tensor
    bos_share: torch.Tensor

    def plot(self, layer: int, head: int, **options):
        """Bokeh figure of head ``layer.head``'s pattern: :func:`circuitwidgets.figures.attention_pattern`."""
        from ..figures import attention_pattern

        return attention_pattern(self, layer, head, **options)


def attention_patterns(model: Any, text: Union[str, TextRun]) -> AttentionResult:
    """All attention patterns of ``model`` on ``text`` from one forward pass.

    ``text`` may be a :class:`~circuitwidgets.analysis.TextRun` from
    :func:`~circuitwidgets.analysis.run_text` (with ``"attention"`` in its needs) to share the
    forward pass with other analyses. Raises ``ValueError`` for an empty text or one longer
    than the model's context.
    """
    adapter, run = resolve_run(model, text, "attention")
    patterns = torch.stack(
        [run.cache[hook_name("pattern", layer)] for layer in range(adapter.n_layers)]
    )
    rows = patterns[:, :, 1:] if run.seq_len > 1 else patterns
    entropy = -torch.special.xlogy(rows, rows).sum(dim=-1).mean(dim=-1)
    bos_share = rows[..., 0].mean(dim=-1)
    return AttentionResult(
        tokens=run.tokens,
        str_tokens=list(run.str_tokens),
        patterns=patterns,
        entropy=entropy,
        bos_share=bos_share,
    )
