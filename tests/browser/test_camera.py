"""The camera: every view saved as PNG (``to_png`` and the "Save PNG" button) and its heatmaps
and grids as SVG (``to_svg`` and "Save SVG"), checked as files a person would open: the PNG
is a picture of the view at its size, the SVG parses and holds the cells and labels shown."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

import circuitwidgets as cw
from circuitwidgets.figures import export

from .notebook import ARTIFACTS, Notebook

TEXT = "When Mary and John went to the store, John gave a drink to Mary. When Mary and John"
SVG = "{http://www.w3.org/2000/svg}"
VIEWS = {
    "AttentionExplorer": lambda m: cw.AttentionExplorer(m, TEXT),
    "InductionScores": lambda m: cw.InductionScores(m, half=12, batch=2),
    "LogitLens": lambda m: cw.LogitLens(m, TEXT),
    "OVBrowser": lambda m: cw.OVBrowser(m),
    "TokenView": lambda m: cw.TokenView(m, TEXT),
    "CircuitExplorer": lambda m: cw.CircuitExplorer(m, TEXT),
}


@pytest.fixture(scope="module")
def model():
    return cw.load_pocket_model("attn-only-2l")


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)


def css_box(open_static_export, widget, tmp_path) -> tuple[float, float]:
    """The view's CSS size in its static export at the width ``to_png`` draws it."""
    page = open_static_export(widget.save_html(tmp_path / "box.html"))
    view = page.locator(".cw-root").first
    expect(view).to_have_attribute("data-ready", "true")
    box = view.bounding_box()
    return box["width"], box["height"]


def cells(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if "data-row" in r.attrib]


def texts(root: ET.Element, group: str) -> list[str]:
    g = next(e for e in root.iter(f"{SVG}g") if e.get("class") == group)
    return [t.text or "" for t in g.iter(f"{SVG}text")]


# ---- to_png / to_svg from Python ----------------------------------------------------------------


@pytest.mark.parametrize("name", list(VIEWS))
def test_png_is_the_view_at_its_size_and_not_blank(needs_chromium, model, name, open_static_export, tmp_path):
    widget = VIEWS[name](model)
    path = widget.to_png(tmp_path / f"{name}.png", scale=2)
    width, height = css_box(open_static_export, widget, tmp_path)
    image = Image.open(path)
    assert image.format == "PNG"
    # The box is measured at 1 device pixel per CSS pixel, the PNG drawn at 2: text metrics at
    # 2x move line boxes by fractions of a pixel, which add up over a tall view (the dashboard).
    slack = lambda css: max(2, 0.002 * 2 * css)  # noqa: E731
    assert abs(image.size[0] - 2 * width) <= slack(width) and abs(image.size[1] - 2 * height) <= slack(height), (
        image.size, width, height)
    assert pixels(path).std() > 10, "the PNG looks blank"
    Image.open(path).save(_artifact(f"camera-{name}.png"))


def test_dark_png_is_dark_and_scale_sets_the_pixels(needs_chromium, model, tmp_path):
    widget = VIEWS["OVBrowser"](model)
    light = pixels(widget.to_png(tmp_path / "light.png", scale=1))
    dark_path = widget.to_png(tmp_path / "dark.png", scale=1, theme="dark")
    dark = pixels(dark_path)
    assert light.shape == dark.shape  # scale 1: one pixel per CSS pixel
    assert dark.mean() < light.mean() - 60
    Image.open(dark_path).save(_artifact("camera-OVBrowser-dark.png"))


def test_svg_of_the_attention_pattern_holds_every_cell_and_token(needs_chromium, model, tmp_path):
    widget = VIEWS["AttentionExplorer"](model)
    widget.select(1, 3)
    root = ET.parse(widget.to_svg(tmp_path / "head.svg", panel="head")).getroot()
    n = len(widget.tokens)
    assert len(cells(root)) == n * n  # the whole pattern is shown (masked cells included)
    assert root.find(f"{SVG}title").text == "Attention · Layer 1 · Head 3"
    assert texts(root, "row-labels")[1] == widget.tokens[1].replace(" ", "·")
    fills = {c.get("fill") for c in cells(root)}
    assert len(fills) > 5  # coloured by weight, not one flat colour


def test_svg_of_every_grid_parses_with_its_cells(needs_chromium, model, tmp_path):
    ae = VIEWS["AttentionExplorer"](model)
    heads = ET.parse(ae.to_svg(tmp_path / "heads.svg", panel="heads")).getroot()
    assert len(cells(heads)) == 2 * 4
    assert len(list(heads.iter(f"{SVG}image"))) == 2 * 4  # each head's thumbnail

    ov = VIEWS["OVBrowser"](model)
    grid = ET.parse(ov.to_svg(tmp_path / "copying.svg")).getroot()  # its only panel
    shown = [float(t.replace("−", "-")) for t in texts(grid, "cell-text")]
    assert shown == pytest.approx(ov.spectrum.copying.flatten().tolist(), abs=0.006)

    scores = VIEWS["InductionScores"](model)
    svg = ET.parse(scores.to_svg(tmp_path / "scores.svg", panel="scores")).getroot()
    assert [float(t) for t in texts(svg, "cell-text")] == pytest.approx(
        scores.scores("induction").flatten().tolist(), abs=0.006
    )
    pattern = ET.parse(scores.to_svg(tmp_path / "pattern.svg", panel="pattern")).getroot()
    assert len(cells(pattern)) == len(scores.tokens) ** 2

    lens = VIEWS["LogitLens"](model)
    svg = ET.parse(lens.to_svg(tmp_path / "lens.svg", panel="grid")).getroot()
    # the grid shows the page of positions holding the selected one: that page is saved
    from circuitwidgets.widgets.logit_lens import page_positions

    shown = page_positions(lens.position // lens.page_size, lens.page_size, len(lens.tokens))
    assert len(cells(svg)) == (model.cfg.n_layers + 1) * len(shown)
    assert texts(svg, "row-labels") == [r.short for r in lens.readouts]


def test_dashboard_offers_the_svg_panels_of_its_views(needs_chromium, model, tmp_path):
    dashboard = VIEWS["CircuitExplorer"](model)
    dashboard.select(1, 3)
    with pytest.raises(ValueError) as error:
        dashboard.to_svg(tmp_path / "none.svg", panel="nope")
    for name in ("heads", "head", "copying", "grid", "scores", "pattern"):
        assert repr(name) in str(error.value)
    root = ET.parse(dashboard.to_svg(tmp_path / "head.svg", panel="head")).getroot()
    assert root.find(f"{SVG}title").text == "Attention · Layer 1 · Head 3"  # the dashboard's selection
    lens = ET.parse(dashboard.to_svg(tmp_path / "grid.svg", panel="grid")).getroot()
    assert len(cells(lens)) > 0 and len(cells(lens)) % (model.cfg.n_layers + 1) == 0


def test_bad_requests_name_what_is_valid(needs_chromium, model, tmp_path):
    ae = VIEWS["AttentionExplorer"](model)
    with pytest.raises(ValueError, match=r"panel 'grid' is not one of AttentionExplorer's SVG panels \['heads', 'head'\]"):
        ae.to_svg(tmp_path / "x.svg", panel="grid")
    with pytest.raises(ValueError, match="TokenView has no heatmap or grid to save as SVG; use to_png"):
        VIEWS["TokenView"](model).to_svg(tmp_path / "x.svg")
    with pytest.raises(ValueError, match=r"theme 'sepia' is not one of \('light', 'dark'\)"):
        ae.to_png(tmp_path / "x.png", theme="sepia")
    with pytest.raises(ValueError, match=r"scale 0 is out of range"):
        ae.to_png(tmp_path / "x.png", scale=0)
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.svg").exists()


def test_missing_browser_names_what_to_install(monkeypatch, model, tmp_path):
    for env in ("BOKEH_CHROMEDRIVER_PATH", "CIRCUITWIDGETS_CHROMIUM"):
        monkeypatch.setenv(env, "/nonexistent/binary")
    with pytest.raises(export.ExportUnavailable, match="saving a view as PNG or SVG needs a headless Chromium.*apt-get install chromium chromium-driver"):
        VIEWS["TokenView"](model).to_png(tmp_path / "x.png")


# ---- the buttons, in JupyterLab ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel(notebook: Notebook) -> Notebook:
    notebook.run(f"import circuitwidgets as cw\nmodel = cw.load_pocket_model('attn-only-2l')\nTEXT = {TEXT!r}")
    return notebook


def test_save_png_button_downloads_the_view(kernel, lab_page, tmp_path):
    view = kernel.run("w = cw.AttentionExplorer(model, TEXT)\nw").output.locator(".cw-attention-explorer")
    expect(view).to_have_attribute("data-ready", "true")
    button = view.get_by_role("button", name="Save PNG")
    button.focus()  # keyboard: the button is in the tab order and Enter presses it
    with lab_page.expect_download() as info:
        button.press("Enter")
    download = info.value
    assert download.suggested_filename == "attention.png"
    path = tmp_path / "button.png"
    download.save_as(path)
    box = view.bounding_box()
    scale = max(2, lab_page.evaluate("devicePixelRatio"))
    image = Image.open(path)
    assert abs(image.size[0] - scale * box["width"]) <= scale and abs(image.size[1] - scale * box["height"]) <= scale
    assert pixels(path).std() > 10
    image.save(_artifact("camera-button-jupyterlab.png"))


def test_save_svg_button_downloads_the_pattern(kernel, lab_page, tmp_path):
    view = kernel.run("w.select(1, 3)\nw").output.locator(".cw-attention-explorer")
    expect(view.locator(".cw-ae-head")).to_have_attribute("data-head", "3")
    with lab_page.expect_download() as info:
        view.get_by_role("button", name="Save the attention pattern as SVG").click()
    assert info.value.suggested_filename == "attention-head.svg"
    path = tmp_path / "button.svg"
    info.value.save_as(path)
    root = ET.parse(path).getroot()
    n = int(view.get_attribute("data-token-count"))
    assert len(cells(root)) == n * n
    assert root.find(f"{SVG}title").text == "Attention · Layer 1 · Head 3"


def _artifact(name: str):
    """Where a saved picture is kept for people to look at (test-artifacts/)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
