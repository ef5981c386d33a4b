"""The composition of every head pair as one heads x heads heatmap, for papers.

Rows are the reading (later) heads, columns the writing (earlier) heads, both in layer order
(``L0H0 .. L{n-1}H{m-1}``); a cell is the pair's composition score minus the score random
heads of the same shapes give (:func:`circuitwidgets.analysis.head_composition`), on the
diverging scale: above chance one colour, below it the other. Pairs that cannot compose (the
writer not in an earlier layer) are left blank. Example::

    comp = analysis.head_composition(model)
    composition_matrix(comp, "K")            # or comp.plot("K")
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool, Range1d

from ..analysis.composition import COMPOSITION_KINDS, HeadComposition
from ..checks import check_choice
from . import _style

#: Pixels per cell (at most), and the margins for axes, title and colour bar.
CELL, MARGIN_X, MARGIN_Y = 28, 200, 130


def composition_matrix(
    comp: HeadComposition, kind: str = "K", *, width: Optional[int] = None, height: Optional[int] = None
):
    """Heads x heads heatmap of ``kind``-composition (``"Q"``, ``"K"`` or ``"V"``) beyond the
    random baseline; the title states the baseline (and the rotary approximation, if any).

    Examples
    --------
    >>> fig = figures.composition_matrix(analysis.head_composition(model), "K")
    >>> fig.title.text.startswith("K-composition minus random heads' 0.089")
    True
    """
    if not isinstance(comp, HeadComposition):
        raise TypeError(f"composition_matrix needs a HeadComposition, got {type(comp).__name__}")
    check_choice(kind, "kind", COMPOSITION_KINDS)
    n = len(comp.head_labels)
    excess = comp.excess_of(kind).reshape(n, n).T  # [reader, writer]
    valid = comp.valid.reshape(n, n).T
    rows, cols = valid.nonzero(as_tuple=True)
    values = excess[rows, cols].double().numpy()
    limit = float(max(np.abs(comp.excess.numpy()).max(), 1e-6))
    labels = np.array(comp.head_labels)
    source = ColumnDataSource(
        {
            "writer": cols.numpy(),
            "reader": rows.numpy(),
            "writer_name": labels[cols.numpy()],
            "reader_name": labels[rows.numpy()],
            "excess": values,
            "score": values + comp.baseline,
            "fill": [_style.fill("diverging", float(v), -limit, limit) for v in values],
        }
    )
    side = min(CELL, max(4, 640 // max(n, 1)))
    title = f"{kind}-composition minus random heads' {comp.baseline:.3f} (±{comp.baseline_std:.3f})"
    if comp.approximation:
        title += " · approximate: rotary positions"
    fig = _style.heatmap_figure(
        title,
        "writing head (earlier layer)",
        "reading head (later layer)",
        width or MARGIN_X + side * n,
        height or MARGIN_Y + side * n,
        x_range=Range1d(-0.5, n - 0.5),
        y_range=Range1d(n - 0.5, -0.5),
        tools="tap,reset,save",
        name=f"composition-{kind}",
    )
    cells = fig.rect(x="writer", y="reader", width=0.95, height=0.95, source=source, fill_color="fill", line_color=None)
    step = max(1, n // 24)
    ticks = list(range(0, n, step))
    for axis in (fig.xaxis, fig.yaxis):
        axis.ticker = ticks
        axis.major_label_overrides = {i: comp.head_labels[i] for i in ticks}
    fig.xaxis.major_label_orientation = np.pi / 2
    fig.add_layout(
        _style.color_bar(_style.color_mapper("diverging", -limit, limit), "score − baseline", [-limit, 0, limit], "%.2f"),
        "right",
    )
    fig.add_tools(
        HoverTool(
            renderers=[cells],
            tooltips=[("writes", "@writer_name"), ("reads", "@reader_name"), ("score", "@score{0.000}"), ("minus baseline", "@excess{+0.000}")],
        )
    )
    return fig
