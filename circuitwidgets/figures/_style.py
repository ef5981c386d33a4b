"""The print style every figure shares: sizes, fonts, colour mappers, colour bars, token axes.

One place for each setting, so all figures of a paper look alike. Sizes are CSS pixels; a PNG
saved with ``save_png(fig, path, scale=2)`` has twice as many pixels (about 200 dpi at the
figure's on-screen size in a 7-inch column).
"""

from __future__ import annotations

from typing import Iterable, Literal, Sequence

from bokeh.models import BasicTicker, ColorBar, FixedTicker, LinearColorMapper, PrintfTickFormatter
from bokeh.plotting import figure

from . import palettes

#: Font sizes (CSS px) for titles, axis labels and tick labels.
TITLE_SIZE = "15px"
LABEL_SIZE = "13px"
TICK_SIZE = "11px"
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
#: Tick labels of token axes: monospaced, so spaces in tokens show.
TOKEN_FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
#: The most token labels drawn on one axis; longer axes label every n-th position.
MAX_TOKEN_TICKS = 48
#: Longest token label on an axis (longer ones are cut with an ellipsis).
MAX_TOKEN_CHARS = 14

Scale = Literal["sequential", "diverging"]


def new_figure(title: str, x_label: str, y_label: str, width: int, height: int, **kwargs) -> figure:
    """A Bokeh figure with the shared print style: white background, no outline, the title and
    both axis labels set, the toolbar hidden until the pointer is over the plot (so exports
    do not show it)."""
    fig = figure(
        title=title,
        width=width,
        height=height,
        x_axis_label=x_label,
        y_axis_label=y_label,
        background_fill_color=palettes.BACKGROUND,
        border_fill_color=palettes.BACKGROUND,
        outline_line_color=None,
        **kwargs,
    )
    fig.toolbar.autohide = True
    fig.toolbar.logo = None
    fig.title.text_font_size = TITLE_SIZE
    fig.title.text_font = FONT
    fig.title.text_color = palettes.TEXT
    for axis in (*fig.xaxis, *fig.yaxis):
        axis.axis_label_text_font_size = LABEL_SIZE
        axis.axis_label_text_font = FONT
        axis.axis_label_text_font_style = "normal"
        axis.axis_label_text_color = palettes.TEXT
        axis.major_label_text_font_size = TICK_SIZE
        axis.major_label_text_font = FONT
        axis.major_label_text_color = palettes.TEXT
        axis.axis_line_color = palettes.MUTED
        axis.major_tick_line_color = palettes.MUTED
        axis.minor_tick_line_color = None
    return fig


def heatmap_figure(title: str, x_label: str, y_label: str, width: int, height: int, **kwargs) -> figure:
    """:func:`new_figure` without grid lines or axis lines (the cells are the picture)."""
    fig = new_figure(title, x_label, y_label, width, height, **kwargs)
    fig.grid.grid_line_color = None
    fig.axis.axis_line_color = None
    fig.axis.major_tick_line_color = None
    return fig


def color_mapper(scale: Scale, low: float, high: float) -> LinearColorMapper:
    """A mapper that colours values exactly as the widgets do.

    The widgets pick level ``round(u * 255)`` for ``u = (v - low) / (high - low)``; Bokeh's
    mapper picks ``floor(u' * 256)``. Widening the domain by half a level on each side makes
    the two agree for every value.
    """
    palette = palettes.SEQUENTIAL if scale == "sequential" else palettes.DIVERGING
    half_level = (high - low) / (2 * (palettes.LEVELS - 1))
    return LinearColorMapper(palette=palette, low=low - half_level, high=high + half_level)


def fill(scale: Scale, value: float, low: float, high: float) -> str:
    """The fill the widgets give ``value`` (hex), for glyphs coloured in Python."""
    palette = palettes.SEQUENTIAL if scale == "sequential" else palettes.DIVERGING
    return palette[palettes.level(value, low, high)]


def color_bar(mapper: LinearColorMapper, title: str, ticks: Sequence[float], fmt: str = "%.1f") -> ColorBar:
    """A vertical colour bar with ``title`` (name and unit) and labelled ``ticks``."""
    return ColorBar(
        color_mapper=mapper,
        title=title,
        title_text_font_size=TICK_SIZE,
        title_text_font=FONT,
        title_text_font_style="normal",
        title_text_color=palettes.TEXT,
        major_label_text_font_size=TICK_SIZE,
        major_label_text_color=palettes.TEXT,
        ticker=FixedTicker(ticks=list(ticks)),
        formatter=PrintfTickFormatter(format=fmt),
        major_tick_line_color=None,
        bar_line_color=palettes.MUTED,
        width=12,
        padding=6,
        background_fill_color=palettes.BACKGROUND,
    )


def display_token(token: str) -> str:
    """A token as a label: newlines and tabs as visible escapes, long tokens cut."""
    shown = token.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    if len(shown) > MAX_TOKEN_CHARS:
        shown = shown[: MAX_TOKEN_CHARS - 1] + "…"
    return shown


def quoted(token: str) -> str:
    """A token for a title: :func:`display_token` in single quotes."""
    return f"'{display_token(token)}'"


def token_ticks(axis, labels: Sequence[str], positions: Iterable[int] | None = None) -> None:
    """Label a numeric axis with tokens: tick ``i`` (cell centre) reads ``labels[i]``.

    ``positions`` are the numbers written on the ticks (default ``0..n-1``). With more than
    :data:`MAX_TOKEN_TICKS` labels only every n-th is drawn, so labels never overlap.
    """
    n = len(labels)
    step = max(1, -(-n // MAX_TOKEN_TICKS))
    ticks = list(range(0, n, step))
    axis.ticker = FixedTicker(ticks=ticks)
    axis.major_label_overrides = {i: display_token(labels[i]) for i in ticks}
    axis.major_label_text_font = TOKEN_FONT


def layer_head_ticks(fig, n_layers: int, n_heads: int) -> None:
    """Integer ticks for a layer (y) x head (x) grid."""
    fig.xaxis.ticker = FixedTicker(ticks=list(range(n_heads))) if n_heads <= 32 else BasicTicker()
    fig.yaxis.ticker = FixedTicker(ticks=list(range(n_layers))) if n_layers <= 48 else BasicTicker()
