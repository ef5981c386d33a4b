"""One head's OV-circuit eigenvalues in the complex plane, inside the unit circle.

Eigenvalues of the full OV circuit have the model's logit scale, which differs from head to
head, so they are drawn divided by the head's largest magnitude: the largest lands on the unit
circle, and what matters -- the direction -- is kept. A copying head's eigenvalues cluster on
the positive real axis (blue), a suppressing head's on the negative one (red). Example::

    spec = analysis.ov_spectrum(model)
    ov_spectrum_plot(spec, layer=1, head=3)         # or spec.plot(1, 3)
"""

from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool, Range1d, Span

from ..analysis import OVSpectrum
from . import _style, palettes
from ..checks import check_head

#: Default size (CSS px): a square plot area plus the legend.
WIDTH, HEIGHT = 460, 460
#: The plot shows [-LIMIT, LIMIT] on both axes.
LIMIT = 1.15
#: Legend entries by the sign of the real part (the colour of each point).
POSITIVE, NEGATIVE = "Re λ ≥ 0 (copies)", "Re λ < 0 (suppresses)"


def spectrum_columns(eigenvalues: np.ndarray) -> dict:
    """Columns for one head's eigenvalues ``complex [d_head]``: normalized ``x``, ``y``, the
    raw ``re``, ``im``, ``abs``, each point's ``color`` and legend ``sign``."""
    eigenvalues = np.asarray(eigenvalues, dtype=np.complex128)
    largest = float(np.abs(eigenvalues).max()) if eigenvalues.size else 0.0
    scaled = eigenvalues / largest if largest > 0 else np.zeros_like(eigenvalues)
    positive = eigenvalues.real >= 0
    return {
        "x": scaled.real,
        "y": scaled.imag,
        "re": eigenvalues.real,
        "im": eigenvalues.imag,
        "abs": np.abs(eigenvalues),
        "color": np.where(positive, palettes.HIGH, palettes.LOW).tolist(),
        "sign": np.where(positive, POSITIVE, NEGATIVE).tolist(),
    }


def spectrum_title(layer: int, head: int, copying: float) -> str:
    return f"OV eigenvalues of L{layer}H{head} (copying score {copying:+.2f})"


def spectrum_figure(source: ColumnDataSource, title: str, *, width: int = WIDTH, height: int = HEIGHT):
    """The complex-plane figure drawn from ``source`` (columns of :func:`spectrum_columns`)."""
    fig = _style.new_figure(
        title,
        "Re λ / max |λ|",
        "Im λ / max |λ|",
        width,
        height,
        x_range=Range1d(-LIMIT, LIMIT),
        y_range=Range1d(-LIMIT, LIMIT),
        match_aspect=True,
        tools="pan,wheel_zoom,reset,save",
    )
    fig.grid.grid_line_alpha = 0.4
    for dimension in ("width", "height"):
        fig.add_layout(Span(location=0, dimension=dimension, line_color=palettes.MUTED, line_width=1))
    angle = np.linspace(0, 2 * np.pi, 361)
    fig.line(np.cos(angle), np.sin(angle), line_color=palettes.MUTED, line_dash="dashed", legend_label="unit circle")
    points = fig.scatter(
        "x", "y", source=source, size=8, fill_color="color", line_color="color", fill_alpha=0.75, legend_field="sign"
    )
    fig.legend.location = "bottom_left"
    fig.legend.label_text_font_size = _style.TICK_SIZE
    fig.legend.background_fill_alpha = 0.85
    fig.legend.padding = 4
    fig.legend.spacing = 0
    fig.add_tools(
        HoverTool(renderers=[points], tooltips=[("λ", "@re{0.000} + @im{0.000}i"), ("|λ|", "@abs{0.000}")])
    )
    return fig


def ov_spectrum_plot(spectrum: OVSpectrum, layer: int, head: int, *, width: int = WIDTH, height: int = HEIGHT):
    """The eigenvalues of head ``layer.head``'s OV circuit (``spectrum.circuit``), normalized
    by their largest magnitude, with the unit circle and the head's copying score in the title.

    ``spectrum`` comes from :func:`circuitwidgets.analysis.ov_spectrum`. A head whose circuit is
    zero shows all its points at the origin.

    Examples
    --------
    >>> fig = figures.ov_spectrum_plot(analysis.ov_spectrum(model), 1, 3)
    >>> fig.title.text
    'OV eigenvalues of L1H3 (copying score +0.97)'
    """
    if not isinstance(spectrum, OVSpectrum):
        raise TypeError(f"ov_spectrum_plot needs an OVSpectrum, got {type(spectrum).__name__}")
    n_layers, n_heads = spectrum.copying.shape
    layer, head = check_head(layer, head, n_layers, n_heads)
    source = ColumnDataSource(spectrum_columns(spectrum.eigenvalues[layer, head].numpy()))
    title = spectrum_title(layer, head, float(spectrum.copying[layer, head]))
    return spectrum_figure(source, title, width=width, height=height)
