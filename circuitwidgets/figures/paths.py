"""The path expansion of one logit as a waterfall: the largest path terms one by one, largest
first, each bar running from the sum of the bars above it to the sum including it, the rest
summed, and the logit they add up to.

Bars that raise the logit are blue, those that lower it red, the total grey; the title says
which token, where, which reading (attention frozen or uniform) and the logit. Example::

    paths = analysis.path_expansion(model, text, position=23)
    path_waterfall(paths)                   # or paths.plot()
    path_waterfall(paths, bars=30)
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, Span

from ..analysis import PathExpansion
from ..checks import check_int
from . import _style, palettes

#: Legend entries: a term's sign, and the total.
RAISES, LOWERS, TOTAL = "raises the logit", "lowers the logit", "the logit (sum)"
#: Row height (CSS px) and the figure's vertical margins.
ROW, MARGIN_Y = 22, 120


def waterfall_rows(paths: PathExpansion, bars: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(labels, starts, ends)``: the ``bars`` largest terms by ``|value|`` (``terms()`` order
    among ties), one row summing the rest when there is a rest, then the total from 0.

    >>> paths = analysis.path_expansion(model, "a b c a b", position=-1)
    >>> labels, starts, ends = waterfall_rows(paths, 3)
    >>> len(labels), labels[-1], bool(abs(ends[-1] - float(paths.logit)) < 1e-3)
    (5, 'logit', True)
    """
    names, values = paths.terms()
    values = values.detach().double().numpy()
    order = np.argsort(-np.abs(values), kind="stable")
    shown, rest = order[:bars], order[bars:]
    labels = [names[i] for i in shown]
    steps = list(values[shown])
    if len(rest):
        labels.append(f"the other {len(rest)} terms")
        steps.append(float(values[rest].sum()))
    ends = np.cumsum(steps)
    starts = ends - np.asarray(steps)
    return labels + ["logit"], np.append(starts, 0.0), np.append(ends, ends[-1])


def path_waterfall(paths: PathExpansion, *, bars: int = 20, width: int = 720, height: Optional[int] = None):
    """A horizontal waterfall of ``paths`` (from :func:`circuitwidgets.analysis.path_expansion`):
    the ``bars`` largest terms, the rest summed, and the logit. The x axis is in logit units.

    Examples
    --------
    >>> paths = analysis.path_expansion(model, "a b c a b c", position=-2)
    >>> fig = figures.path_waterfall(paths, bars=8)
    >>> fig.title.text
    "Path expansion of the logit of ' c' after ' b' (position 5), attention frozen: ..."
    """
    if not isinstance(paths, PathExpansion):
        raise TypeError(f"path_waterfall needs a PathExpansion, got {type(paths).__name__}")
    bars = check_int(bars, "bars", 1)
    labels, starts, ends = waterfall_rows(paths, bars)
    steps = ends - starts
    total = np.arange(len(labels)) == len(labels) - 1
    source = ColumnDataSource({
        "term": labels,
        "left": np.minimum(starts, ends),
        "right": np.maximum(starts, ends),
        "value": np.where(total, ends, steps),
        "color": np.where(total, palettes.MUTED, np.where(steps >= 0, palettes.HIGH, palettes.LOW)).tolist(),
        "effect": np.where(total, TOTAL, np.where(steps >= 0, RAISES, LOWERS)).tolist(),
    })
    reading = "attention frozen" if paths.attention == "frozen" else "attention uniform (weights only)"
    title = (
        f"Path expansion of the logit of {_style.quoted(paths.target_str)} after "
        f"{_style.quoted(paths.str_tokens[paths.position])} (position {paths.position}), {reading}: "
        f"{float(paths.logit):.2f}"
    )
    fig = _style.new_figure(
        title, "logit (running sum of the terms)", "path", width, height or MARGIN_Y + ROW * len(labels),
        y_range=FactorRange(*reversed(labels)), tools="pan,xwheel_zoom,reset,save",
    )
    hbars = fig.hbar(y="term", left="left", right="right", height=0.7, source=source, fill_color="color",
                     line_color=None, legend_field="effect")
    fig.add_layout(Span(location=0, dimension="height", line_color=palettes.MUTED, line_width=1))
    fig.ygrid.grid_line_color = None
    fig.yaxis.major_label_text_font = _style.TOKEN_FONT
    fig.legend.location = "bottom_right"
    fig.legend.label_text_font_size = _style.TICK_SIZE
    fig.add_tools(HoverTool(renderers=[hbars], tooltips=[("path", "@term"), ("adds", "@value{+0.000}")]))
    return fig
