"""The attention pattern of one head as a heatmap with token axes.

Rows are query positions (top to bottom, as a reader goes through the text), columns the key
positions each query attends to; the colour is the attention weight on the widgets'
sequential scale from 0 to 1. Example::

    att = analysis.attention_patterns(model, "When Mary and John went to the store")
    fig = attention_pattern(att, layer=1, head=3)        # or att.plot(1, 3)
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool, Range1d

from ..analysis import AttentionResult
from . import _style
from ..checks import check_head

#: Default plot area side (CSS px): CELL per token, within [MIN_SIDE, MAX_SIDE]; the figure
#: adds MARGIN_X / MARGIN_Y for the token labels, axis titles and colour bar.
CELL, MIN_SIDE, MAX_SIDE, MARGIN_X, MARGIN_Y = 15, 360, 760, 240, 160


def default_size(n_tokens: int) -> tuple[int, int]:
    """``(width, height)`` that give each token row at least ``CELL`` pixels where they fit."""
    side = min(MAX_SIDE, max(MIN_SIDE, CELL * n_tokens))
    return side + MARGIN_X, side + MARGIN_Y


def pattern_source(image: np.ndarray) -> ColumnDataSource:
    """The data source of a pattern figure: one ``[query, key]`` image (the report swaps it)."""
    n = image.shape[0]
    return ColumnDataSource({"image": [np.ascontiguousarray(image, dtype=np.float32)], "x": [-0.5], "y": [-0.5], "dw": [n], "dh": [n]})


def pattern_figure(
    source: ColumnDataSource,
    labels: Sequence[str],
    title: str,
    *,
    width: Optional[int] = None,
    height: Optional[int] = None,
    axis_unit: str = "token",
):
    """A pattern heatmap drawn from ``source`` (see :func:`pattern_source`), its axes labelled
    with ``labels`` (one per row/column: a token, or a block of positions)."""
    n = len(labels)
    default_width, default_height = default_size(n)
    fig = _style.heatmap_figure(
        title,
        f"key {axis_unit} (attended to)",
        f"query {axis_unit} (attending)",
        width or default_width,
        height or default_height,
        x_range=Range1d(-0.5, n - 0.5),
        y_range=Range1d(n - 0.5, -0.5),  # query 0 at the top
        tools="pan,wheel_zoom,box_zoom,reset,save",
    )
    mapper = _style.color_mapper("sequential", 0.0, 1.0)
    image = fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=source, color_mapper=mapper)
    _style.token_ticks(fig.xaxis[0], labels)
    _style.token_ticks(fig.yaxis[0], labels)
    fig.xaxis.major_label_orientation = np.pi / 2
    fig.add_layout(_style.color_bar(mapper, "attention weight", [0, 0.25, 0.5, 0.75, 1], "%.2f"), "right")
    fig.add_tools(
        HoverTool(
            renderers=[image],
            tooltips=[("query", "$y{0}"), ("key", "$x{0}"), ("attention", "@image{0.000}")],
        )
    )
    return fig


def attention_pattern(
    result: AttentionResult, layer: int, head: int, *, width: Optional[int] = None, height: Optional[int] = None
):
    """The attention pattern of head ``layer.head`` on the text of ``result``.

    Parameters
    ----------
    result:
        From :func:`circuitwidgets.analysis.attention_patterns`.
    layer, head:
        The head, ``0 <= layer < n_layers``, ``0 <= head < n_heads``.
    width, height:
        Figure size in CSS pixels; by default about 15 px per token (see :func:`default_size`).

    Returns a Bokeh figure: queries down, keys across, both labelled with the tokens (every
    n-th token when the text has more than 48), colour = attention weight in [0, 1].

    Examples
    --------
    >>> att = analysis.attention_patterns(model, "a b c a b c")
    >>> fig = figures.attention_pattern(att, 1, 3)      # bokeh.plotting.show(fig) draws it
    >>> fig.title.text
    'Attention pattern of L1H3'
    """
    if not isinstance(result, AttentionResult):
        raise TypeError(f"attention_pattern needs an AttentionResult, got {type(result).__name__}")
    n_layers, n_heads = result.patterns.shape[:2]
    layer, head = check_head(layer, head, n_layers, n_heads)
    image = result.patterns[layer, head].numpy().astype(np.float32)
    return pattern_figure(
        pattern_source(image),
        result.str_tokens,
        f"Attention pattern of L{layer}H{head}",
        width=width,
        height=height,
    )
