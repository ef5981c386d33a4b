"""Top-k entries of a product ``rows @ cols`` without ever holding the whole product.

The token maps ask questions like "which of the 50,257 tokens does this head promote most for
each of these 100 source tokens?": the answer is the top-k of each row of ``rows @ cols`` where
``cols`` spans the vocabulary. Computing the product one block of columns at a time keeps memory
at ``O(n_rows x chunk)``, never ``n_rows x d_vocab`` (or vocab x vocab).
"""

from __future__ import annotations

import torch

#: Default number of vocabulary columns per block: ~8k floats per row.
DEFAULT_CHUNK = 8192


def topk_of_product(
    rows: torch.Tensor, cols: torch.Tensor, k: int, chunk: int = DEFAULT_CHUNK
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row, the ``k`` largest entries of ``rows @ cols`` and their column indices.

    ``rows [n, d]``, ``cols [d, m]`` -> ``(values [n, k], indices LongTensor[n, k])``, each row
    sorted from largest to smallest. ``k`` is clipped to ``m``.
    """
    if chunk < 1:
        raise ValueError(f"chunk {chunk} must be a positive number of columns")
    n, m = rows.shape[0], cols.shape[1]
    k = min(k, m)
    best_values = rows.new_empty((n, 0))
    best_indices = torch.empty((n, 0), dtype=torch.long)
    for start in range(0, m, chunk):
        block = rows @ cols[:, start : start + chunk]
        values, indices = block.topk(min(k, block.shape[1]), dim=1)
        best_values = torch.cat([best_values, values], dim=1)
        best_indices = torch.cat([best_indices, indices + start], dim=1)
        if best_values.shape[1] > k:
            best_values, keep = best_values.topk(k, dim=1)
            best_indices = best_indices.gather(1, keep)
    return best_values, best_indices
