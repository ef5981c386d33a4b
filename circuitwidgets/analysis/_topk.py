"""Top-k entries of a product ``rows @ cols`` without ever holding the whole product.

The token maps ask questions like "which of the 50,257 tokens does this head promote most for
each of these 100 source tokens?": the answer is the top-k of each row of ``rows @ cols`` where
``cols`` spans the vocabulary. Computing the product one block of columns at a time keeps memory
at ``O(n_rows x chunk)``, never ``n_rows x d_vocab`` (or vocab x vocab). By default a block is as
wide as fits :data:`BLOCK_ELEMENTS` floats, so a few rows take the whole vocabulary in one
product (splitting it only adds work), and many rows still stay within 16 MiB.
"""

from __future__ import annotations

import torch

#: The largest block of the product held at once, in floats (16 MiB of float32).
BLOCK_ELEMENTS = 2**22
#: The narrowest block the default picks, in columns (however many rows there are).
MIN_CHUNK = 1024


def topk_of_product(
    rows: torch.Tensor, cols: torch.Tensor, k: int, chunk: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row, the ``k`` largest entries of ``rows @ cols`` and their column indices.

    ``rows [n, d]``, ``cols [d, m]`` -> ``(values [n, k], indices LongTensor[n, k])``, each row
    sorted from largest to smallest. ``k`` is clipped to ``m``. ``chunk`` is the number of
    columns per block; ``None`` picks ``max(MIN_CHUNK, BLOCK_ELEMENTS // n)``.
    """
    n, m = rows.shape[0], cols.shape[1]
    if chunk is None:
        chunk = max(MIN_CHUNK, BLOCK_ELEMENTS // max(n, 1))
    if chunk < 1:
        raise ValueError(f"chunk {chunk} must be a positive number of columns")
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
