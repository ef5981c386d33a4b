"""Blocks of one head's pattern for a zoomed heatmap: the ``"block"`` request AttentionExplorer
answers on any text, and the only way the browser gets weights of a long text.

A text of more than :data:`LONG_TEXT_TOKENS` tokens never sends a head's whole pattern (16,384
tokens would be 512 MB of float16): the heatmap shows the pooled thumbnail zoomed out and asks
for the region on screen, max-pooled to at most the plot's pixels (``side``), and for single
rows (a hovered query) at full resolution, so a hover card always reads a real weight.

Request ``{"layer", "head", "run", "rows": [start, stop], "cols": [start, stop], "side"}`` →
``{"layer", "head", "run", "rows", "cols", "pooled": bool, "block": float16 wire}``; the
block is ``[min(rows, side), min(cols, side)]`` (:func:`~..analysis._block_pool.pooled_block`).

>>> w = cw.AttentionExplorer(model, "a b c a b c")
>>> answer = w._block_request({"layer": 0, "head": 1, "run": w.run_id, "rows": [0, 7], "cols": [0, 7], "side": 7})
>>> answer["pooled"], answer["block"]["shape"]
(False, [7, 7])
"""

from __future__ import annotations

from typing import Any

from ..analysis._block_pool import pooled_block
from ..analysis.on_demand import OnDemandPatterns
from ..model import ModelAdapter
from ._channel import Stale
from ._transport import to_wire

__all__ = ["LONG_TEXT_TOKENS", "MAX_BLOCK_CELLS", "block_answer"]

#: Texts longer than this send no head's whole pattern: the browser asks for blocks.
LONG_TEXT_TOKENS = 2048
#: The most cells one answer may hold (``min(rows, side) x min(cols, side)``): 8 MB of float16.
MAX_BLOCK_CELLS = 2**22


def _span(payload: dict[str, Any], name: str, seq: int) -> range:
    value = payload.get(name)
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise ValueError(f"{name} must be [start, stop] (two ints), got {value!r}")
    start, stop = value
    if not 0 <= start < stop <= seq:
        raise ValueError(
            f"{name} [{start}, {stop}] is not a block of this text: it has {seq} tokens, so 0 <= start < stop <= {seq}"
        )
    return range(start, stop)


def block_answer(adapter: ModelAdapter, run_id: int, payload: dict[str, Any], patterns: OnDemandPatterns) -> dict[str, Any]:
    """The answer to a ``"block"`` request (see the module docs): a bad head, block or side
    is refused naming the valid range; a request about an older run is :class:`Stale`."""
    layer = adapter.check_layer(int(payload["layer"]))
    head = adapter.check_head(int(payload["head"]))
    if payload.get("run") != run_id:
        raise Stale("about data that has since been replaced")
    seq = patterns.seq_len
    rows, cols = _span(payload, "rows", seq), _span(payload, "cols", seq)
    side = payload.get("side")
    if isinstance(side, bool) or not isinstance(side, int) or not 1 <= side <= seq:
        raise ValueError(f"side {side!r} must be an int in 1..{seq} (the text's tokens)")
    cells = min(len(rows), side) * min(len(cols), side)
    if cells > MAX_BLOCK_CELLS:
        raise ValueError(
            f"a block of {min(len(rows), side)} x {min(len(cols), side)} cells is more than {MAX_BLOCK_CELLS} "
            "(ask for a smaller region or side)"
        )
    block = pooled_block(patterns, layer, head, rows, cols, side)
    return {
        "layer": layer, "head": head, "run": run_id,
        "rows": [rows.start, rows.stop], "cols": [cols.start, cols.stop],
        "pooled": len(rows) > side or len(cols) > side,
        "block": to_wire(block, dtype="float16"),
    }
