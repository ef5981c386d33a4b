"""Save a figure as PNG or SVG through Bokeh's export, in a headless Chromium.

Bokeh draws in a browser, so an image file needs one: the package's one headless browser,
:func:`circuitwidgets.headless.webdriver` (which the views' ``to_png``/``to_svg`` use too); a
missing Chromium, chromedriver or selenium raises :class:`ExportUnavailable` naming what to
install. No network is used. Example::

    fig = figures.attention_pattern(att, 1, 3)
    figures.save_png(fig, "l1h3.png")            # 2x pixels: crisp in print
    figures.save_svg(fig, "l1h3.svg")            # vector, for papers
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from bokeh.io import export_png, export_svg

from ..headless import ExportUnavailable, check_scale, webdriver

__all__ = ["ExportUnavailable", "save_png", "save_svg", "DEFAULT_SCALE", "RENDER_TIMEOUT"]

#: Default pixel density of PNGs: 2 device pixels per CSS pixel.
DEFAULT_SCALE = 2
#: Seconds to wait for Bokeh to finish drawing in the browser.
RENDER_TIMEOUT = 30


def save_png(fig, path: Union[str, os.PathLike], *, scale: float = DEFAULT_SCALE) -> Path:
    """Save ``fig`` (a Bokeh figure or layout) as a PNG of ``scale`` device pixels per CSS
    pixel: a 600 x 400 figure at ``scale=2`` gives a 1200 x 800 image. Returns the path.

    Examples
    --------
    >>> fig = analysis.attention_patterns(model, "a b c a b c").plot(1, 3)
    >>> figures.save_png(fig, "l1h3.png", scale=1)      # headless Chromium; no network
    PosixPath('l1h3.png')
    """
    scale = check_scale(scale)
    path = Path(path)
    with webdriver(scale) as driver:
        export_png(fig, filename=path, webdriver=driver, scale_factor=scale, timeout=RENDER_TIMEOUT)
    return path


def save_svg(fig, path: Union[str, os.PathLike]) -> Path:
    """Save ``fig`` (a Bokeh figure or layout) as one SVG file (vector shapes and text, its
    size in CSS pixels). Returns the path.

    Examples
    --------
    >>> fig = analysis.head_scores(model, "induction").plot()
    >>> figures.save_svg(fig, "induction.svg")
    PosixPath('induction.svg')
    """
    path = Path(path)
    with webdriver(1) as driver:
        export_svg(fig, filename=path, webdriver=driver, timeout=RENDER_TIMEOUT)
    return path
