"""An activation-patching grid as a heatmap: one cell per patched component, coloured by the
metric of its patched run (normalized: clean 1, corrupted 0) on the widgets' diverging scale.

A grid over positions has the clean prompt's tokens along the bottom; the per-position head
grids have one row per head (``L1H3``). Example::

    grid = analysis.patching(model, clean, corrupted, "logit_diff", at="heads")
    patching_grid(grid)        # or grid.plot()
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from bokeh.core.properties import value
from bokeh.models import ColumnDataSource, FixedTicker, HoverTool, Range1d

from ..analysis import PatchingResult
from . import _style

#: Cells that carry their value as text: at most this many rows and columns.
MAX_LABELLED = 16
#: Pixels per cell (the figure grows to at most MAX_WIDTH), and the margins.
CELL, MAX_WIDTH, MARGIN_X, MARGIN_Y = 44, 1100, 190, 120


def _rows_and_columns(result: PatchingResult) -> tuple[np.ndarray, list[str], list[str], str, str]:
    """The grid as a 2-D array with its row and column names and axis labels."""
    values = result.values.detach().float().numpy()
    axes = list(result.axes)
    tokens = list(result.clean_str_tokens)
    if values.ndim == 3:  # [layer, head, pos]: one row per head
        n_layers, n_heads, seq = values.shape
        rows = [f"L{l}H{h}" for l in range(n_layers) for h in range(n_heads)]
        return values.reshape(n_layers * n_heads, seq), rows, tokens, "position (clean prompt)", "head"
    rows = [f"{axes[0][0].upper()}{i}" for i in range(values.shape[0])]
    if axes[1] == "head":
        return values, rows, [f"H{h}" for h in range(values.shape[1])], "head", "layer"
    return values, rows, tokens, "position (clean prompt)", "layer"


def patching_grid(result: PatchingResult, *, width: Optional[int] = None, height: Optional[int] = None):
    """``result`` (from :func:`circuitwidgets.analysis.patching` or
    :func:`~circuitwidgets.analysis.attribution_patching`) as a heatmap, one cell per patched
    component; the title names the grid, the method and the metric. Cells not computed
    (``NaN``) are drawn in the masked grey.

    Examples
    --------
    >>> grid = analysis.patching(model, "a b c d a b c", "a b c e a b c", "logit_diff",
    ...                          at="heads", target=" d", distractor=" e")
    >>> figures.patching_grid(grid).title.text
    "Patching heads (exact): logit ' d' − logit ' e', clean 1, corrupted 0"
    """
    if not isinstance(result, PatchingResult):
        raise TypeError(f"patching_grid needs a PatchingResult, got {type(result).__name__}")
    grid, rows, columns, x_label, y_label = _rows_and_columns(result)
    limit = max(1.0, float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0)
    r, c = np.divmod(np.arange(grid.size), grid.shape[1])
    flat = grid.reshape(-1)
    fills = [_style.fill("diverging", float(v), -limit, limit) if np.isfinite(v) else _style.palettes.MASKED for v in flat]
    source = ColumnDataSource({
        "row": r, "col": c, "value": flat, "fill": fills, "ink": [_style.palettes.text_on(f) for f in fills],
        "label": [f"{v:.2f}" if np.isfinite(v) else "" for v in flat],
        "name": [f"{rows[i]} · {_style.display_token(columns[j]) if x_label.startswith('position') else columns[j]}" for i, j in zip(r, c)],
    })
    metric = result.metric if isinstance(result.metric, str) else "metric"
    if result.target_str is not None and result.distractor_str is not None and metric == "logit_diff":
        metric = f"logit {_style.quoted(result.target_str)} − logit {_style.quoted(result.distractor_str)}"
    title = f"Patching {result.grid} ({result.method}): {metric}, clean 1, corrupted 0"
    fig = _style.heatmap_figure(
        title,
        x_label, y_label,
        width or min(MAX_WIDTH, max(MARGIN_X + CELL * max(grid.shape[1], 4), 9 * len(title) + 40)),
        height or MARGIN_Y + min(CELL, max(12, 640 // max(1, grid.shape[0]))) * max(grid.shape[0], 2),
        x_range=Range1d(-0.5, grid.shape[1] - 0.5),
        y_range=Range1d(grid.shape[0] - 0.5, -0.5),
        tools="hover,reset,save",
        name=f"patching-{result.grid}",
    )
    fig.rect(x="col", y="row", width=0.94, height=0.94, source=source, fill_color="fill", line_color=None)
    if grid.shape[0] <= MAX_LABELLED and grid.shape[1] <= MAX_LABELLED:
        fig.text(x="col", y="row", text="label", source=source, text_color="ink", text_align="center",
                 text_baseline="middle", text_font_size=_style.TICK_SIZE, text_font=value(_style.FONT))
    if x_label.startswith("position"):
        _style.token_ticks(fig.xaxis, columns)
        fig.xaxis.major_label_orientation = 0.9  # tokens slanted, so long ones do not collide
    else:
        fig.xaxis.ticker = FixedTicker(ticks=list(range(len(columns))))
        fig.xaxis.major_label_overrides = dict(enumerate(columns))
    step = max(1, -(-len(rows) // 32))
    fig.yaxis.ticker = FixedTicker(ticks=list(range(0, len(rows), step)))
    fig.yaxis.major_label_overrides = {i: rows[i] for i in range(0, len(rows), step)}
    fig.add_layout(_style.color_bar(_style.color_mapper("diverging", -limit, limit), "patched metric", [-limit, 0, limit]), "right")
    fig.select_one(HoverTool).tooltips = [("patched", "@name"), ("metric", "@value{0.000}")]
    return fig
