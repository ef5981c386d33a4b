"""The widgets' colour scales, in Python, for Bokeh figures: the one source of truth here.

The JavaScript views draw with the palette of ``js/src/kit/theme.css`` and the scales of
``js/src/kit/color_scale.ts``: a **sequential** scale fades from the background (low end) to
the accent ``high``; a **diverging** scale runs ``low`` -> background (at 0) -> ``high``. Both
mix in OKLab (``js/src/kit/color.ts``), so equal steps look equal, and both are sampled at
``LEVELS`` colours. This module computes the same 256 colours for the light theme -- the
theme of paper and slides -- so a figure and a widget showing the same numbers look the same.
``tests/test_figures_palettes.py`` parses the JS kit and checks that the two agree (theme
colours, the OKLab matrices, the number of levels, and the text-colour rule).

Example::

    from bokeh.models import LinearColorMapper
    mapper = LinearColorMapper(palette=SEQUENTIAL, low=0, high=1)   # attention, probabilities
    mapper = LinearColorMapper(palette=DIVERGING, low=-1, high=1)   # copying scores
"""

from __future__ import annotations

import math
from typing import Sequence

RGB = tuple[float, float, float]

#: Colours per scale, as ``LEVELS`` in ``color_scale.ts``.
LEVELS = 256

# The light theme of js/src/kit/theme.css (its fallbacks outside JupyterLab).
#: Page and low-end colour (``--cw-bg``).
BACKGROUND = "#ffffff"
#: Sequential end and positive side of a diverging scale (``--cw-scale-high``).
HIGH = "#1d5bd6"
#: Negative side of a diverging scale (``--cw-scale-low``).
LOW = "#d9453a"
#: Text colour (``--cw-text``): black at 87 % opacity, as ``(r, g, b, alpha)``.
TEXT_RGBA = (0, 0, 0, 0.87)
#: Text on dark fills (``--cw-text-inverse``).
TEXT_INVERSE = "#ffffff"
#: ``TEXT_RGBA`` painted over the background: what readers see, for lines and labels.
TEXT = "#212121"
#: Secondary ink (``--cw-text-muted``'s fallback, black at 54 %, over white) for reference lines.
MUTED = "#757575"
#: A cell with no value: the kit's masked colour, ``MASKED_MIX`` (10 %) of ``TEXT`` over the background.
MASKED = "#e9e9e9"

#: WCAG AA contrast for normal text, as ``MIN_CONTRAST`` in ``color_scale.ts``.
MIN_CONTRAST = 4.5

# Björn Ottosson's OKLab matrices, exactly as in color.ts (toOklab / fromOklab).
RGB_TO_LMS = (
    (0.4122214708, 0.5363325363, 0.0514459929),
    (0.2119034982, 0.6806995451, 0.1073969566),
    (0.0883024619, 0.2817188376, 0.6299787005),
)
LMS_TO_LAB = (
    (0.2104542553, 0.793617785, -0.0040720468),
    (1.9779984951, -2.428592205, 0.4505937099),
    (0.0259040371, 0.7827717662, -0.808675766),
)
LAB_TO_LMS = (
    (1.0, 0.3963377774, 0.2158037573),
    (1.0, -0.1055613458, -0.0638541728),
    (1.0, -0.0894841775, -1.291485548),
)
LMS_TO_RGB = (
    (4.0767416621, -3.3077115913, 0.2309699292),
    (-1.2684380046, 2.6097574011, -0.3413193965),
    (-0.0041960863, -0.7034186147, 1.707614701),
)


def parse_hex(color: str) -> RGB:
    """``"#rrggbb"`` (or ``"#rgb"``) -> ``(r, g, b)`` in 0..255."""
    h = color.strip().lstrip("#")
    if len(h) == 3:
        h = "".join(c + c for c in h)
    if len(h) != 6 or any(c not in "0123456789abcdefABCDEF" for c in h):
        raise ValueError(f"colour {color!r} is not a #rrggbb or #rgb hex colour")
    return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))


def to_hex(rgb: RGB) -> str:
    """``(r, g, b)`` in 0..255 (rounded, clamped) -> ``"#rrggbb"``."""
    return "#" + "".join(f"{min(255, max(0, _round(c))):02x}" for c in rgb)


def _round(x: float) -> int:
    """Round half up, as JavaScript's ``Math.round`` (Python's ``round`` rounds half to even)."""
    return math.floor(x + 0.5)


def _linear(c: float) -> float:
    x = c / 255
    return x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4


def _gamma(x: float) -> float:
    c = 12.92 * x if x <= 0.0031308 else 1.055 * max(x, 0.0) ** (1 / 2.4) - 0.055
    return min(255.0, max(0.0, c * 255))


def _apply(matrix: Sequence[Sequence[float]], v: Sequence[float]) -> tuple[float, float, float]:
    return tuple(sum(m * x for m, x in zip(row, v)) for row in matrix)  # type: ignore[return-value]


def to_oklab(rgb: RGB) -> tuple[float, float, float]:
    """sRGB (0..255) -> OKLab, as ``toOklab`` in color.ts."""
    lms = _apply(RGB_TO_LMS, [_linear(c) for c in rgb])
    return _apply(LMS_TO_LAB, [v ** (1 / 3) if v >= 0 else -((-v) ** (1 / 3)) for v in lms])


def from_oklab(lab: Sequence[float]) -> RGB:
    """OKLab -> sRGB (0..255, clamped), as ``fromOklab`` in color.ts."""
    lms = [v**3 for v in _apply(LAB_TO_LMS, lab)]
    return tuple(_gamma(v) for v in _apply(LMS_TO_RGB, lms))  # type: ignore[return-value]


def mix(start: str, end: str, t: float) -> RGB:
    """The colour ``t`` of the way from ``start`` (t = 0) to ``end`` (t = 1), mixed in OKLab."""
    u = min(1.0, max(0.0, t))
    a, b = to_oklab(parse_hex(start)), to_oklab(parse_hex(end))
    return from_oklab([x + (y - x) * u for x, y in zip(a, b)])


def sequential(levels: int = LEVELS) -> list[str]:
    """``levels`` hex colours from ``BACKGROUND`` to ``HIGH`` (the widgets' sequential LUT)."""
    return [to_hex(mix(BACKGROUND, HIGH, i / (levels - 1))) for i in range(levels)]


def diverging(levels: int = LEVELS) -> list[str]:
    """``levels`` hex colours ``LOW`` -> ``BACKGROUND`` -> ``HIGH`` (the widgets' diverging LUT)."""

    def at(u: float) -> RGB:
        if u < 0.5:
            return mix(BACKGROUND, LOW, 1 - 2 * u)
        return mix(BACKGROUND, HIGH, 2 * u - 1)

    return [to_hex(at(i / (levels - 1))) for i in range(levels)]


#: Fills for values in ``[low, high]``: background -> ``HIGH`` (attention, probabilities, scores).
SEQUENTIAL = sequential()
#: Fills for signed values in ``[-limit, limit]``: ``LOW`` -> background -> ``HIGH``.
DIVERGING = diverging()


def luminance(rgb: RGB) -> float:
    """WCAG relative luminance, 0 (black) .. 1 (white)."""
    r, g, b = (_linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(x: RGB, y: RGB) -> float:
    """WCAG contrast ratio of two opaque colours, 1 .. 21."""
    a, b = luminance(x), luminance(y)
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def _over(rgba: tuple[float, float, float, float], under: RGB) -> RGB:
    *rgb, alpha = rgba
    return tuple(c * alpha + u * (1 - alpha) for c, u in zip(rgb, under))  # type: ignore[return-value]


def text_on(fill: str) -> str:
    """The text colour that reads best on ``fill`` (hex), by the rule of ``textOn`` in
    color_scale.ts: the theme's text or inverse text, whichever contrasts more, and pure black
    or white where that falls short of WCAG AA."""
    background = parse_hex(fill)
    candidates = [_over(TEXT_RGBA, background), parse_hex(TEXT_INVERSE)]
    best = max(candidates, key=lambda c: contrast(c, background))
    if contrast(best, background) >= MIN_CONTRAST:
        return to_hex(best)
    pure = max([(0, 0, 0), (255, 255, 255)], key=lambda c: contrast(c, background))
    return to_hex(pure)


def level(value: float, low: float, high: float, levels: int = LEVELS) -> int:
    """The palette index the widgets use for ``value`` on ``[low, high]`` (clamped, rounded),
    as ``level`` in color_scale.ts."""
    u = min(1.0, max(0.0, (value - low) / (high - low)))
    return _round(u * (levels - 1))
