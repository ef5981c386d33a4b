"""The figures' palette is the widgets' palette: parse the JS kit and compare."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from circuitwidgets.figures import palettes

KIT = Path(__file__).resolve().parents[1] / "js" / "src" / "kit"


def _light_fallback(css: str, variable: str) -> str:
    """The value of ``variable`` in the first (light, default) block of theme.css, with a
    ``var(--jp-..., fallback)`` reduced to its fallback."""
    first_block = css[: css.index("}")]
    value = re.search(rf"{re.escape(variable)}:\s*([^;]+);", first_block).group(1).strip()
    fallback = re.fullmatch(r"var\(--[\w-]+,\s*(.+)\)", value)
    return (fallback.group(1) if fallback else value).strip()


def _numbers(source: str, function: str) -> list[float]:
    """Every decimal constant in the body of the TS function ``function``, with the sign of the
    ``+``/``-`` written before it (``a - 0.5 * s`` gives -0.5)."""
    body = re.search(rf"export function {function}\b.*?\n}}\n", source, flags=re.S).group(0)
    return [float(sign + x) for sign, x in re.findall(r"([+-]?)\s*(\d+\.\d+)", body)]


def test_theme_colours_match_theme_css():
    css = (KIT / "theme.css").read_text()
    assert _light_fallback(css, "--cw-bg") == palettes.BACKGROUND
    assert _light_fallback(css, "--cw-scale-high") == palettes.HIGH
    assert _light_fallback(css, "--cw-scale-low") == palettes.LOW
    assert _light_fallback(css, "--cw-text-inverse") == palettes.TEXT_INVERSE
    r, g, b, a = (float(x) for x in re.findall(r"[\d.]+", _light_fallback(css, "--cw-text")))
    assert (r, g, b, a) == palettes.TEXT_RGBA
    muted = [float(x) for x in re.findall(r"[\d.]+", _light_fallback(css, "--cw-text-muted"))]
    # TEXT and MUTED are those translucent inks painted on the background.
    assert palettes.TEXT == palettes.to_hex(palettes._over(palettes.TEXT_RGBA, palettes.parse_hex(palettes.BACKGROUND)))
    assert palettes.MUTED == palettes.to_hex(palettes._over(tuple(muted), palettes.parse_hex(palettes.BACKGROUND)))


def test_oklab_matrices_match_color_ts():
    source = (KIT / "color.ts").read_text()
    to_lab = [x for row in (*palettes.RGB_TO_LMS, *palettes.LMS_TO_LAB) for x in row]
    # fromOklab writes the 1.0 column of LAB_TO_LMS implicitly ("L + ...").
    from_lab = [x for row in palettes.LAB_TO_LMS for x in row[1:]] + [x for row in palettes.LMS_TO_RGB for x in row]
    assert _numbers(source, "toOklab") == to_lab
    assert _numbers(source, "fromOklab") == from_lab
    assert all(row[0] == 1.0 for row in palettes.LAB_TO_LMS)


def test_scale_constants_match_color_scale_ts():
    source = (KIT / "color_scale.ts").read_text()
    assert int(re.search(r"const LEVELS = (\d+);", source).group(1)) == palettes.LEVELS
    assert float(re.search(r"const MIN_CONTRAST = ([\d.]+);", source).group(1)) == palettes.MIN_CONTRAST
    # The level rule: Math.round(clamp((value - lo) / (hi - lo)) * (LEVELS - 1)).
    assert "Math.round(Math.min(1, Math.max(0, (value - lo) / (hi - lo))) * (LEVELS - 1))" in source
    assert "mix(palette.background, palette.high, u)" in source  # sequential
    assert "mix(palette.background, palette.low, 1 - 2 * u)" in source  # diverging, low half


def test_scales_run_background_to_accents():
    assert len(palettes.SEQUENTIAL) == len(palettes.DIVERGING) == palettes.LEVELS
    assert palettes.SEQUENTIAL[0] == palettes.BACKGROUND and palettes.SEQUENTIAL[-1] == palettes.HIGH
    assert palettes.DIVERGING[0] == palettes.LOW and palettes.DIVERGING[-1] == palettes.HIGH
    middle = palettes.DIVERGING[127:129]
    assert all(palettes.contrast(palettes.parse_hex(c), (255, 255, 255)) < 1.02 for c in middle)
    # OKLab round trip is exact to the byte for the accents.
    for colour in (palettes.HIGH, palettes.LOW, "#808080"):
        assert palettes.to_hex(palettes.from_oklab(palettes.to_oklab(palettes.parse_hex(colour)))) == colour


def test_level_rounds_half_up_like_javascript():
    assert palettes.level(0.5 / 255, 0, 1) == 1  # Python's round() would give 0
    assert palettes.level(-3, 0, 1) == 0 and palettes.level(7, 0, 1) == 255


def test_text_on_fills_reads_well():
    assert palettes.text_on(palettes.BACKGROUND) == palettes.TEXT
    assert palettes.text_on(palettes.HIGH) == palettes.TEXT_INVERSE
    for fill in palettes.SEQUENTIAL + palettes.DIVERGING:
        ink = palettes.parse_hex(palettes.text_on(fill))
        assert palettes.contrast(ink, palettes.parse_hex(fill)) >= palettes.MIN_CONTRAST


@pytest.mark.parametrize("bad", ["red", "#12345", "#gggggg"])
def test_parse_hex_names_the_bad_colour(bad):
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        palettes.parse_hex(bad)
