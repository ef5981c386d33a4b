"""PNG and SVG export through Bokeh and a headless Chromium: real images of the right size."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

import circuitwidgets as cw
from circuitwidgets import analysis, figures
from circuitwidgets import headless
from circuitwidgets.figures import export


@pytest.fixture(scope="module")
def pattern_figure():
    model = cw.load_pocket_model("attn-only-2l")
    return analysis.attention_patterns(model, "a b c d a b c d").plot(1, 3, width=500, height=440)


def _pixels(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)


@pytest.mark.browser
@pytest.mark.parametrize("scale", [1, 2])
def test_png_is_a_nonblank_image_of_the_figure_size(needs_chromium, pattern_figure, tmp_path, scale):
    path = figures.save_png(pattern_figure, tmp_path / "pattern.png", scale=scale)
    image = Image.open(path)
    assert image.size == (500 * scale, 440 * scale)
    pixels = _pixels(path)
    assert pixels.std() > 20  # not one flat colour
    # The figure's own colours are there: the accent at full attention (the BOS cell of
    # query 0) and the white background.
    colours = {tuple(c) for c in pixels.reshape(-1, 3).astype(int)[:: 7]}
    high = tuple(int(cw.figures.palettes.HIGH[i : i + 2], 16) for i in (1, 3, 5))
    assert (255, 255, 255) in colours
    assert any(sum(abs(a - b) for a, b in zip(c, high)) <= 6 for c in colours)


@pytest.mark.browser
def test_svg_parses_and_has_the_figure_size(needs_chromium, pattern_figure, tmp_path):
    path = figures.save_svg(pattern_figure, tmp_path / "pattern.svg")
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert (root.get("width"), root.get("height")) == ("500", "440")
    texts = ["".join(t.itertext()) for t in root.iter() if t.tag.endswith("text")]
    assert "Attention pattern of L1H3" in texts and "key token (attended to)" in texts
    assert len(list(root.iter())) > 50  # drawn shapes, not an empty page


@pytest.mark.browser
def test_a_layout_exports_too(needs_chromium, tmp_path):
    from bokeh.layouts import row

    model = cw.load_pocket_model("attn-only-2l")
    spectrum = analysis.ov_spectrum(model)
    layout = row(figures.copying_grid(spectrum), spectrum.plot(1, 0))
    path = figures.save_png(layout, tmp_path / "layout.png", scale=1)
    width = sum(f.width for f in layout.children)
    assert Image.open(path).size == (width, max(f.height for f in layout.children))
    assert _pixels(path).std() > 20


def test_missing_chromedriver_names_the_package_to_install(monkeypatch, pattern_figure, tmp_path):
    monkeypatch.delenv("BOKEH_CHROMEDRIVER_PATH", raising=False)
    monkeypatch.setattr(headless, "CHROMEDRIVER_NAMES", ("no-such-chromedriver",))
    monkeypatch.setattr(headless, "DEBIAN_CHROMEDRIVER", ("/nonexistent/chromedriver",))
    with pytest.raises(export.ExportUnavailable, match=r"chromium-driver \(chromedriver\) is not installed.*apt-get install chromium chromium-driver"):
        figures.save_png(pattern_figure, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_missing_chromium_and_driver_are_both_named(monkeypatch, pattern_figure, tmp_path):
    for env in ("BOKEH_CHROMEDRIVER_PATH", "CIRCUITWIDGETS_CHROMIUM"):
        monkeypatch.setenv(env, "/nonexistent/binary")
    with pytest.raises(export.ExportUnavailable, match="chromium and chromium-driver .* are not installed"):
        figures.save_svg(pattern_figure, tmp_path / "x.svg")


def test_missing_selenium_says_so(monkeypatch, pattern_figure, tmp_path, needs_chromium):
    import builtins

    real_import = builtins.__import__

    def no_selenium(name, *args, **kwargs):
        if name.startswith("selenium"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_selenium)
    with pytest.raises(export.ExportUnavailable, match="needs selenium.*circuitwidgets\\[figures\\]"):
        figures.save_png(pattern_figure, tmp_path / "x.png")


@pytest.mark.parametrize("scale", [0, 9, "2", True])
def test_bad_scale_is_refused(pattern_figure, tmp_path, scale):
    with pytest.raises(ValueError, match=r"scale .* is out of range; it must be a number in \[0.5, 8\]"):
        figures.save_png(pattern_figure, tmp_path / "x.png", scale=scale)
