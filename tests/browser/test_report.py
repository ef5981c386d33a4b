"""The standalone Bokeh report, opened from file:// in Chromium with the network blocked."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.figures.ov import spectrum_columns
from circuitwidgets.figures.report import MAX_PATTERN_TOKENS, pool_patterns

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Markup in the text must stay text: no alert, no broken page.
TEXT = "def add(a, b):\n    return a + b </script><script>alert(1)</script>\nadd(1, 2)\nadd(3, 4)"
PANELS = [
    "grid-previous_token",
    "grid-duplicate_token",
    "grid-induction",
    "grid-copying",
    "report-pattern",
    "report-spectrum",
    "report-logit-lens",
    "report-target-rank",
    "report-attribution",
    "report-composition",
    "report-paths",
    "report-flow",
]

# Page helpers: find a Bokeh model by name and its view.
_VIEW = """
  const doc = Bokeh.documents[0];
  const model = doc.get_model_by_name(name);
  const view = model && Bokeh.index.find_one(model);
"""


@pytest.fixture(scope="module")
def model():
    return cw.load_pocket_model("attn-only-2l")


@pytest.fixture(scope="module")
def report_path(model, tmp_path_factory):
    return cw.report(model, TEXT, tmp_path_factory.mktemp("report") / "report.html")


def _open(open_static_export, path):
    page = open_static_export(path)
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle")
    return page


def _panel_box(page, name):
    return page.evaluate(
        f"""(name) => {{ {_VIEW}
        if (!view) return null;
        const r = view.canvas_view.el.getBoundingClientRect();
        return {{x: r.x, y: r.y, width: r.width, height: r.height}};
      }}""",
        name,
    )


def _panel_pixels(page, name):
    shot = page.screenshot(clip=_panel_box(page, name), full_page=True)
    return np.asarray(Image.open(io.BytesIO(shot)).convert("L"), dtype=float)


def test_every_panel_draws_offline_without_errors(open_static_export, report_path):
    page = _open(open_static_export, report_path)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    for name in PANELS:
        box = _panel_box(page, name)
        assert box and box["width"] > 200 and box["height"] > 150, (name, box)
        assert _panel_pixels(page, name).std() > 10, f"{name} looks blank"
    assert page.errors == [] and page.blocked == [] and page.dialogs == []
    header = page.evaluate("() => Bokeh.documents[0].get_model_by_name('report-header').text")
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in header


def _state(page):
    return page.evaluate(
        """() => {
        const doc = Bokeh.documents[0];
        const pattern = doc.get_model_by_name("report-pattern");
        const spectrum = doc.get_model_by_name("report-spectrum");
        const image = pattern.renderers[0].data_source.data.image[0];
        const points = spectrum.renderers.find((r) => "re" in r.data_source.data).data_source.data;
        const grid = doc.get_model_by_name("grid-copying").renderers[0].data_source;
        return {
          head: pattern.tags[0], selected: Array.from(grid.selected.indices),
          pattern_title: pattern.title.text, spectrum_title: spectrum.title.text,
          image: Array.from(image), shape: Array.from(image.shape), re: Array.from(points.re), x: Array.from(points.x),
        };
      }"""
    )


def _image(state):
    return np.array(state["image"]).reshape(state["shape"])


def _tap_cell(page, grid, layer, head):
    point = page.evaluate(
        f"""([name, layer, head]) => {{ {_VIEW}
        const r = view.canvas_view.el.getBoundingClientRect();
        return {{x: r.x + view.frame.x_scale.compute(head), y: r.y + view.frame.y_scale.compute(layer)}};
      }}""",
        [grid, layer, head],
    )
    page.mouse.click(point["x"], point["y"])


def test_tapping_a_head_redraws_the_linked_panels(open_static_export, report_path, model):
    page = _open(open_static_export, report_path)
    ARTIFACTS.mkdir(exist_ok=True)
    attention = analysis.attention_patterns(model, TEXT)
    spectrum = analysis.ov_spectrum(model)
    n_heads = attention.patterns.shape[1]
    before = _state(page)
    drawn_before = _panel_pixels(page, "report-pattern")
    start = int(analysis.all_head_scores(model)["induction"].scores.argmax())
    assert before["head"] == start and before["selected"] == [start]

    for grid, (layer, head) in (("grid-copying", (0, 1)), ("grid-previous_token", (1, 2))):
        _tap_cell(page, grid, layer, head)
        index = layer * n_heads + head
        page.wait_for_function(f"() => Bokeh.documents[0].get_model_by_name('report-pattern').tags[0] === {index}")
        after = _state(page)
        assert after["selected"] == [index]  # one shared selection: every grid shows it
        assert after["pattern_title"] == f"Attention pattern of L{layer}H{head}"
        assert after["spectrum_title"].startswith(f"OV eigenvalues of L{layer}H{head} (copying score ")
        expected = attention.patterns[layer, head].numpy()
        np.testing.assert_allclose(_image(after), expected, atol=0.5 / 255 + 1e-6)
        columns = spectrum_columns(spectrum.eigenvalues[layer, head].numpy())
        np.testing.assert_allclose(after["re"], columns["re"], rtol=1e-5)
        np.testing.assert_allclose(after["x"], columns["x"], rtol=1e-5, atol=1e-7)
    assert after["image"] != before["image"]
    # ...and the canvas shows it (BokehJS redrew, not only the data changed).
    assert np.abs(_panel_pixels(page, "report-pattern") - drawn_before).max() > 50
    page.screenshot(path=str(ARTIFACTS / "report-after-tap.png"), full_page=True)
    assert page.errors == [] and page.blocked == []


def test_a_long_text_is_pooled_to_the_stated_bound(open_static_export, model, tmp_path):
    text = " ".join(f"x{i % 17}" for i in range(40))  # 89 tokens: more than 64
    path = cw.report(model, text, tmp_path / "long.html")
    attention = analysis.attention_patterns(model, text)
    seq = attention.patterns.shape[-1]
    assert seq > MAX_PATTERN_TOKENS
    page = _open(open_static_export, path)
    header = page.evaluate("() => Bokeh.documents[0].get_model_by_name('report-header').text")
    assert f"pooled to {MAX_PATTERN_TOKENS} blocks" in header
    _tap_cell(page, "grid-induction", 0, 0)
    page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('report-pattern').tags[0] === 0")
    image = _image(_state(page))
    assert image.shape == (MAX_PATTERN_TOKENS, MAX_PATTERN_TOKENS)
    pooled, _ = pool_patterns(attention.patterns.numpy(), MAX_PATTERN_TOKENS)
    np.testing.assert_allclose(image, pooled[0, 0], atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(image.sum(-1), 1.0, atol=MAX_PATTERN_TOKENS * 0.5 / 255)
    assert page.errors == [] and page.blocked == []


def test_a_patching_report_draws_its_grids_offline(open_static_export, model, tmp_path):
    path = cw.report(model, "a b c d a b c", tmp_path / "patching.html", corrupted="a b c e a b c",
                     patching_options={"target": " d", "distractor": " e"})
    page = _open(open_static_export, path)
    for name in ("report-patching-heads", "report-patching-resid"):
        box = _panel_box(page, name)
        assert box and box["width"] > 200 and box["height"] > 150, (name, box)
        assert _panel_pixels(page, name).std() > 10, f"{name} looks blank"
    assert page.errors == [] and page.blocked == []
