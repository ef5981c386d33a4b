"""Argument checks of the figure functions, built on the analysis checks (same messages)."""

from __future__ import annotations

from ..analysis._checks import check_int


def check_head(layer: int, head: int, n_layers: int, n_heads: int) -> tuple[int, int]:
    """``(layer, head)`` if both are ints in range, else an error naming the value and range."""
    return check_int(layer, "layer", 0, n_layers - 1), check_int(head, "head", 0, n_heads - 1)
