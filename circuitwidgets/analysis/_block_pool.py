"""A block of one head's pattern, max-pooled to at most ``side`` cells a side, computed row
block by row block so that no more than :data:`~.on_demand.BLOCK_ELEMENTS` weights are alive
at once (AttentionExplorer's zoomed heatmap on long texts).

Cell ``(i, j)`` of the result is the maximum of the weights in rows ``queries[a_i : b_i]`` and
columns ``keys[c_j : d_j]`` with the adaptive-pooling bins ``a_i = floor(i*R/side)``,
``b_i = ceil((i+1)*R/side)`` (and alike for columns): the same bins as the thumbnails, so a
thin stripe never disappears. A block no larger than ``side`` comes back unpooled.

>>> att = analysis.patterns_on_demand(model, "a b c a b c")
>>> pooled_block(att, 0, 1, range(0, 7), range(0, 7), 3).shape
torch.Size([3, 3])
"""

from __future__ import annotations

import torch

from .on_demand import BLOCK_ELEMENTS, OnDemandPatterns

__all__ = ["pooled_block"]


def _bins(length: int, side: int) -> list[tuple[int, int]]:
    return [(i * length // side, -((-(i + 1) * length) // side)) for i in range(side)]


def pooled_block(att: OnDemandPatterns, layer: int, head: int, queries: range, keys: range, side: int) -> torch.Tensor:
    """float32 ``[min(len(queries), side), min(len(keys), side)]`` (see the module docs)."""
    if side < 1:
        raise ValueError(f"side must be at least 1, got {side}")
    n_rows, n_cols = len(queries), len(keys)
    rows_side, cols_side = min(n_rows, side), min(n_cols, side)
    key_slice = slice(keys.start, keys.stop)
    if n_rows <= side and n_cols <= side:
        return att.block(layer, head, slice(queries.start, queries.stop), key_slice)
    out = torch.empty(rows_side, cols_side)
    rows_per_chunk = max(1, BLOCK_ELEMENTS // max(n_cols, 1))
    bins = _bins(n_rows, rows_side)
    i = 0
    while i < rows_side:
        # a run of row bins whose rows fit one chunk (a bin longer than a chunk alone)
        first = bins[i][0]
        j = i + 1
        while j < rows_side and bins[j][1] - first <= rows_per_chunk:
            j += 1
        last = bins[j - 1][1]
        weights = att.block(layer, head, slice(queries.start + first, queries.start + last), key_slice)
        if cols_side < n_cols:  # adaptive pooling's bins are the ones above
            weights = torch.nn.functional.adaptive_max_pool1d(weights[None], cols_side)[0]
        for r in range(i, j):
            a, b = bins[r]
            out[r] = weights[a - first : b - first].amax(dim=0)
        i = j
    return out
