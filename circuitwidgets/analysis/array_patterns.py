"""Attention patterns handed over as arrays, from anywhere (JAX, your own code, a saved file):
an :class:`~circuitwidgets.analysis.OnDemandPatterns` (its subclass), with no model.

:func:`array_patterns` takes CircuitsVis's shapes, ``[heads, query, key]`` (one layer) or
``[layers, heads, query, key]``, as a torch tensor, a numpy array or nested lists, and one
token string per position. It keeps the array **as given** (a numpy array or a CPU tensor is
not copied; nested lists become one float16 tensor), checks it once, and computes each head's
entropy, BOS share and max-pooled overview block by block of rows exactly as a model's run
does (the same summing code, ``on_demand``'s), so the thumbnails of a view made from arrays
are those of the same patterns made by a model.

What is checked, each a ``ValueError`` naming the shape or the value and what is valid:
3 or 4 dimensions; square patterns (as many keys as queries); one token per position; every
weight finite, in ``[0, 1]``, and ``0`` for a key after its query (causal attention: the views
draw those cells as masked); each query's row summing to 1 within :func:`row_sum_tolerance`
(0.001 for float32 or float64; two float epsilons for float16 and bfloat16, whose rounding
alone moves a sum that far).

>>> p = torch.tensor([[[1.0, 0.0], [0.25, 0.75]]])          # [heads, query, key]: one head
>>> att = analysis.array_patterns(p, ["A", " person"])
>>> att.shape, att[0, 0, 1].tolist()                          # read as [layers, heads, q, k]
((1, 1, 2, 2), [0.25, 0.75])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Optional, Sequence

import numpy as np
import torch

# The summaries and the block size are on_demand's own, so both sources summarize alike.
from .on_demand import OnDemandPatterns, _positions, _rows_per_block as rows_per_block, _Summaries as PatternSummaries

__all__ = ["ROW_SUM_TOLERANCE", "ArrayPatterns", "array_patterns", "row_sum_tolerance"]

#: How far from 1 a float32 (or float64) row of attention weights may sum.
ROW_SUM_TOLERANCE = 1e-3


def row_sum_tolerance(dtype: torch.dtype) -> float:
    """How far from 1 a row of ``dtype`` weights may sum: :data:`ROW_SUM_TOLERANCE`, or two
    machine epsilons where that is more (float16: 0.00195, bfloat16: 0.0156).

    >>> row_sum_tolerance(torch.float32), row_sum_tolerance(torch.bfloat16)
    (0.001, 0.015625)
    """
    return max(ROW_SUM_TOLERANCE, 2 * torch.finfo(dtype).eps)


def _as_tensor(attention: Any) -> torch.Tensor:
    """The attention as a tensor without copying it where possible (numpy shares its memory)."""
    if isinstance(attention, torch.Tensor):
        return attention.detach()
    if isinstance(attention, np.ndarray):
        if not np.issubdtype(attention.dtype, np.floating):
            raise TypeError(f"attention must hold floating-point weights, got a numpy array of {attention.dtype}")
        return torch.as_tensor(attention)  # shares the array's memory (native byte order)
    if isinstance(attention, (list, tuple)):
        return torch.tensor(attention, dtype=torch.float16)
    raise TypeError(
        f"attention must be a torch tensor, a numpy array or nested lists, got {type(attention).__name__}"
    )


def _index(lead: tuple[int, ...], layer: int, head: int, *rest: int) -> str:
    """``attention[...]`` as the caller indexes their own array (no layer index for 3 dims)."""
    where = ([layer] if len(lead) == 2 else []) + [head, *rest]
    return f"attention[{', '.join(map(str, where))}]"


def _check_shape(att: torch.Tensor, tokens: Any) -> tuple[int, ...]:
    shape = tuple(att.shape)
    if att.dim() not in (3, 4):
        raise ValueError(
            f"attention has shape {shape} ({att.dim()} dimensions); expected [heads, query, key] or "
            "[layers, heads, query, key], as CircuitsVis's attention_heads takes"
        )
    if not (att.dtype.is_floating_point and not att.is_complex()):
        raise TypeError(f"attention must hold floating-point weights, got {att.dtype}")
    q, k = shape[-2:]
    if q != k:
        raise ValueError(
            f"attention has shape {shape}: {q} queries but {k} keys; a self-attention pattern over one "
            f"text is square ([..., {q}, {q}])"
        )
    if q == 0 or 0 in shape:
        raise ValueError(f"attention has shape {shape}: it holds no weights; give at least one head and one position")
    if isinstance(tokens, str) or not isinstance(tokens, Sequence) or not all(isinstance(t, str) for t in tokens):
        raise TypeError(f"tokens must be a list of strings, one per position, got {tokens!r:.80}")
    if len(tokens) != q:
        raise ValueError(
            f"tokens has {len(tokens)} entries but attention has {q} positions (shape {shape}); "
            "give one token string per query position"
        )
    return shape[:-2]


def _check_block(p: torch.Tensor, lead: tuple[int, ...], layer: int, start: int, tol: float) -> None:
    """Rows ``start ..`` of every head of ``layer`` (``p`` float32 ``[heads, R, seq]``): finite
    weights in [0, 1], zero after the query, rows summing to 1."""

    def first(bad: torch.Tensor) -> tuple[int, int, int]:
        h, r, c = (int(i) for i in bad.nonzero()[0])
        return h, start + r, c

    bad = ~torch.isfinite(p)
    if bad.any():
        h, q, key = first(bad)
        raise ValueError(f"{_index(lead, layer, h, q, key)} is {p[h, q - start, key].item()}; attention weights must be finite numbers in [0, 1]")
    bad = (p < -tol) | (p > 1 + tol)
    if bad.any():
        h, q, key = first(bad)
        raise ValueError(f"{_index(lead, layer, h, q, key)} = {p[h, q - start, key].item():.6g} is not in [0, 1]; attention weights are probabilities")
    rows = torch.arange(start, start + p.shape[1]).view(-1, 1)
    after = torch.arange(p.shape[-1]).view(1, -1) > rows
    bad = after & (p.abs() > tol)
    if bad.any():
        h, q, key = first(bad)
        raise ValueError(
            f"{_index(lead, layer, h, q, key)} = {p[h, q - start, key].item():.6g}, but key {key} comes after query {q}; "
            "these views draw causal attention (keys after the query masked, CircuitsVis's mask_upper_tri=True): "
            "pass a causal pattern"
        )
    sums = p.sum(dim=-1, dtype=torch.float64)
    bad = (sums - 1).abs() > tol
    if bad.any():
        h, r = (int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"{_index(lead, layer, h, start + r)} (query {start + r}) sums to {sums[h, r].item():.6g}; each query's "
            f"attention over keys 0..{start + r} must sum to 1 (within {tol:g}): pass softmax outputs, not scores"
        )


@dataclass(frozen=True, eq=False)
class ArrayPatterns(OnDemandPatterns):
    """Every head's attention on one text, from an array (see the module docs): an
    :class:`~circuitwidgets.analysis.OnDemandPatterns` whose heads are read from the array
    instead of rebuilt from a model's queries and keys (``att[layer, head]``, ``.row``,
    ``.column``, ``.block``, ``.layer_blocks``), which is what lets AttentionExplorer draw it.

    Attributes
    ----------
    text:
        The tokens joined (there is no other text).
    tokens:
        ``None``: arrays come with token strings, not ids.
    str_tokens:
        One display string per position, as given.
    entropy, bos_share:
        ``[n_layers, n_heads]``, as defined on :class:`~circuitwidgets.analysis.AttentionResult`.
    pooled:
        float32 ``[n_layers, n_heads, T, T]``, each head max-pooled to ``T = min(seq,
        pooled_size)`` cells a side, or None when not asked for.
    reason:
        Always ``''`` (kept for the interface: nothing is rebuilt).

    Examples
    --------
    >>> p = torch.softmax(torch.randn(2, 3, 5, 5).masked_fill(torch.ones(5, 5).triu(1).bool(), -torch.inf), -1)
    >>> att = analysis.array_patterns(p.numpy(), list("abcde"), pooled_size=4)
    >>> att.shape, att.pooled.shape, bool(torch.equal(att[1, 2], p[1, 2]))
    ((2, 3, 5, 5), torch.Size([2, 3, 4, 4]), True)
    """

    #: ``[layers, heads, q, k]``, the caller's array (a view of it: not copied).
    _attention: Optional[torch.Tensor] = None

    @property
    def seq_len(self) -> int:
        return len(self.str_tokens)

    def _head(self, layer: int, head: int) -> tuple[int, int]:
        try:
            return super()._head(layer, head)
        except IndexError as exc:  # the heads are the arrays', not a model's
            raise IndexError(str(exc).replace("this model has", "these patterns have")) from None

    @property
    def nbytes(self) -> int:
        """Bytes of the array kept (shared with the caller's when it was not copied)."""
        return self._attention.numel() * self._attention.element_size()

    def block(self, layer: int, head: int, queries: Any = slice(None), keys: Any = slice(None)) -> torch.Tensor:
        """float32 ``[len(queries), len(keys)]``: the block of head ``layer.head``'s pattern at
        query positions ``queries`` and key positions ``keys`` (step-1 slices or ints)."""
        layer, head = self._head(int(layer), int(head))
        rows, cols = _positions(queries, self.seq_len, "query"), _positions(keys, self.seq_len, "key")
        return self._attention[layer, head, rows.start : rows.stop, cols.start : cols.stop].float().cpu()

    def layer_blocks(self, layer: int) -> Iterator[tuple[int, torch.Tensor]]:
        """``(start, p)`` for blocks of query rows of every head of ``layer``: ``p`` float32
        ``[n_heads, R, start + R]`` (keys after the block's last query are zero and left out)."""
        n_heads, seq = self.shape[1], self.seq_len
        step = rows_per_block(n_heads, seq)
        for start in range(0, seq, step):
            stop = min(seq, start + step)
            yield start, self._attention[layer, :, start:stop, :stop].float().cpu()


def array_patterns(attention: Any, tokens: Sequence[str], *, pooled_size: Optional[int] = None) -> ArrayPatterns:
    """``attention`` (``[heads, q, k]`` or ``[layers, heads, q, k]``; torch, numpy or lists) and
    ``tokens`` (one string per position) as :class:`ArrayPatterns`, checked (see the module
    docs for what, and the errors); ``pooled_size`` asks for each head's max-pooled overview.

    Examples
    --------
    >>> analysis.array_patterns(torch.ones(2, 3, 3) / 3, ["a", "b", "c"])
    Traceback (most recent call last):
    ...
    ValueError: attention[0, 0, 1] = 0.333333, but key 1 comes after query 0; these views draw causal attention (keys after the query masked, CircuitsVis's mask_upper_tri=True): pass a causal pattern
    """
    att = _as_tensor(attention)
    lead = _check_shape(att, tokens)
    full = att if att.dim() == 4 else att.unsqueeze(0)  # a view, not a copy
    n_layers, n_heads, seq, _ = full.shape
    tol = row_sum_tolerance(att.dtype)
    summaries = PatternSummaries(n_layers, n_heads, seq, pooled_size)
    step = rows_per_block(n_heads, seq)
    for layer in range(n_layers):
        for start in range(0, seq, step):
            p = full[layer, :, start : start + step].float().cpu()
            _check_block(p, lead, layer, start, tol)
            summaries.add(layer, start, p)
    entropy, bos_share, pooled = summaries.finish()
    return ArrayPatterns(
        text="".join(tokens),
        tokens=None,
        str_tokens=list(tokens),
        entropy=entropy,
        bos_share=bos_share,
        pooled=pooled,
        reason="",
        _recipe=None,
        _q=[],
        _k=[],
        _lse=None,
        _kept=None,
        _attention=full,
    )
