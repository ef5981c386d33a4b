"""Issue 17 in a real JupyterLab and on a converted notebook, driven through Chromium at
1440 px: a half-precision lens, hostile sizes (a 2,000-character token-map entry, a 50-row
hover card), a cell re-run 20 times, a kernel restart, and `nbconvert --execute` pages
opened offline. Screenshots go to test-artifacts/robustness-*.png."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import nbformat
import pytest
from playwright.sync_api import Locator, expect

from . import server
from .notebook import Notebook, save_screenshot

WIDE = {"width": 1440, "height": 900}
TEXT = "def add(a, b):\n    return a + b\n"
SETUP = f'''
import json, torch
import ipywidgets
import circuitwidgets as cw
model = cw.load_pocket_model("attn-only-2l")
half = cw.load_pocket_model("attn-only-2l").to(torch.float16)
TEXT = {TEXT!r}
def widget_count():
    return len(ipywidgets.widgets.widget._instances)
print(next(half.parameters()).dtype)
'''
#: float16 attribution against float32: ModelAdapter.tolerance for float16, relative to the
#: size of the numbers (tests/test_architectures.py states the same for the analysis).
HALF_TOL = 1e-2


@pytest.fixture(scope="module")
def kernel(notebook: Notebook) -> Notebook:
    notebook.page.set_viewport_size(WIDE)
    assert notebook.run(SETUP).text().endswith("torch.float16")
    return notebook


def py(nb: Notebook, code: str):
    return json.loads(nb.run(f"print(json.dumps({code}))").text())


def show(nb: Notebook, code: str, root: str) -> Locator:
    view = nb.run(code).output.locator(root).first
    expect(view).to_have_attribute("data-ready", "true")
    return view


def box(locator: Locator) -> dict:
    found = locator.bounding_box()
    assert found is not None
    return found


def test_a_half_precision_lens_draws_the_float32_attribution(kernel):
    view = show(kernel, "lens16 = cw.LogitLens(half, TEXT)\nlens16", ".cw-logit-lens")
    who = view.locator(".cw-ll-who")
    expect(who).to_have_attribute("data-state", "ready")  # not "Computing…" for ever
    expected = py(kernel, "cw.LogitLens(model, TEXT).attribution(target=lens16.attribution().target).heads.tolist()")
    bars = who.locator(".cw-ll-bar-head")
    assert bars.count() > 0
    scale = max(1.0, max(abs(v) for row in expected for v in row))
    for i in range(bars.count()):
        bar = bars.nth(i)
        layer, head = int(bar.get_attribute("data-layer")), int(bar.get_attribute("data-head"))
        assert abs(float(bar.get_attribute("data-value")) - expected[layer][head]) <= HALF_TOL * scale
    save_screenshot(kernel.page, "robustness-half-precision-lens", view)


def test_a_2000_character_token_map_entry_stays_inside_the_view(kernel):
    view = show(kernel, "ov = cw.OVBrowser(model)\nov", ".cw-ov-browser")
    expect(view).to_have_attribute("data-spectra", "ready")
    before = box(view)
    entry = view.get_by_role("textbox", name="Add a source token")
    entry.fill(("return a + b " * 160)[:2000])
    entry.press("Enter")
    message = view.locator(".cw-ov-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("(2000 characters)")
    expect(message.locator(".cw-ov-piece")).to_have_count(12)
    expect(message.locator(".cw-ov-pieces-more")).to_contain_text(re.compile(r"and \d+ more"))
    after = box(view)
    assert after["width"] <= before["width"] + 1
    assert after["height"] <= before["height"] + 300
    assert box(message)["width"] <= after["width"]
    assert message.evaluate("m => m.scrollWidth <= m.clientWidth + 1")
    save_screenshot(kernel.page, "robustness-long-token-entry", view)
    entry.fill("x" * 240)  # one long word: wrapped, not widening the view
    entry.press("Enter")
    expect(message).to_contain_text("(240 characters)")
    assert box(view)["width"] <= before["width"] + 1
    assert message.evaluate("m => m.scrollWidth <= m.clientWidth + 1")


def test_a_50_row_hover_card_stays_in_the_viewport(kernel):
    view = show(kernel, "big = cw.LogitLens(model, TEXT, k=50)\nbig", ".cw-logit-lens")
    cell = view.locator('.cw-ll-pred[data-index="3"]')
    cell.hover()
    tip = kernel.page.locator(".cw-tooltip:not([hidden])")
    expect(tip).to_be_visible()
    card = box(tip)
    assert card["y"] >= 0 and card["y"] + card["height"] <= WIDE["height"]
    assert card["x"] >= 0 and card["x"] + card["width"] <= WIDE["width"]
    # every row it lists is on screen: 20 guesses, then the other 30 together
    assert "… and 30 more (together)" in tip.inner_text()
    last = box(tip.locator(".cw-tooltip-rows dd").last)
    assert last["y"] + last["height"] <= card["y"] + card["height"] + 1
    save_screenshot(kernel.page, "robustness-hover-card-k50")
    kernel.page.mouse.move(0, 0)
    refused = kernel.run("try:\n    big.k = 51\nexcept Exception as e:\n    print(e)").text()
    assert "51" in refused and "[1, 50]" in refused


def rerun(nb: Notebook, cell: Locator) -> None:
    """Run ``cell`` again in place (Ctrl+Enter), as a person re-running a cell does."""
    prompt = cell.locator(".jp-InputArea-prompt")
    old = prompt.inner_text()
    cell.locator(".jp-InputPrompt").click()
    nb.page.keyboard.press("Control+Enter")
    expect(prompt).not_to_have_text(old)
    expect(prompt).to_have_text(re.compile(r"^\[\d+\]:$"), timeout=240_000)


def test_rerunning_a_dashboard_cell_20_times_keeps_the_widget_count(kernel):
    cell = kernel.run("dash = cw.CircuitExplorer(model, TEXT)\ndash")
    expect(cell.output.locator(".cw-circuit-explorer")).to_have_attribute("data-ready", "true")
    once = py(kernel, "widget_count()")
    for _ in range(19):
        rerun(kernel, cell.locator)
    expect(cell.output.locator(".cw-circuit-explorer")).to_have_attribute("data-ready", "true")
    assert py(kernel, "widget_count()") == once
    assert py(kernel, "dash.comm is not None and dash.lens.comm is not None")


def test_after_a_kernel_restart_the_view_says_so_and_clicks_raise_nothing(kernel):
    page = kernel.page
    view = show(kernel, "tv = cw.TokenView(model, TEXT)\ntv", ".cw-token-view")
    ov = show(kernel, "ov2 = cw.OVBrowser(model)\nov2", ".cw-ov-browser")
    expect(ov).to_have_attribute("data-spectra", "ready")
    page.errors.clear()
    page.evaluate("() => jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()")
    for v in (view, ov):
        expect(v).to_have_attribute("data-kernel", "gone")
        expect(v.locator(".cw-kernel-note")).to_contain_text("No kernel")
    for i in range(10):
        ov.get_by_role("button", name=f"layer {i % 2} head {(i * 3) % 4}", exact=True).click()
    expect(ov.locator(".cw-ov-spectrum")).to_have_attribute("data-head", str((9 * 3) % 4))  # still draws
    text = view.locator("textarea")
    assert text.evaluate("t => t.readOnly")
    expect(view.locator(".cw-input-note")).to_contain_text("No kernel")
    text.click()
    page.keyboard.type("typed after the restart")
    page.keyboard.press("Enter")
    expect(text).to_have_value(TEXT)
    uncaught = [e for e in page.errors if e.startswith("uncaught")]
    assert uncaught == []
    save_screenshot(page, "robustness-kernel-gone", view, ov)


def test_an_executed_notebook_converted_offline_draws_every_panel(open_static_export, tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell("w = cw.CircuitExplorer(model, TEXT)\nw")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    notebook = tmp_path / "dash.ipynb"
    nbformat.write(nb, notebook)
    env = server._environment(tmp_path / "home")
    subprocess.run(
        [sys.executable, "-m", "circuitwidgets.widgets.notebook_html", str(notebook), "--execute"],
        check=True, env=env, cwd=tmp_path, capture_output=True, timeout=600,
    )
    page = open_static_export(tmp_path / "dash.html")
    page.set_viewport_size(WIDE)
    dash = page.locator(".cw-circuit-explorer")
    expect(dash).to_have_attribute("data-ready", "true")
    expect(dash).to_have_attribute("data-kernel", "static")
    expect(dash.locator(".cw-kernel-note").first).to_contain_text("Static page")
    ov = dash.locator(".cw-ov-browser")
    expect(ov).to_have_attribute("data-spectra", "ready")
    assert len(json.loads(ov.locator(".cw-ov-spectrum [data-points]").first.get_attribute("data-points"))) > 0
    expect(ov.locator(".cw-ov-row").first).to_be_visible()  # the selected head's token map
    expect(dash.locator(".cw-ll-who")).to_have_attribute("data-state", "ready")
    text = dash.locator("textarea").first
    assert text.evaluate("t => t.readOnly")
    expect(dash.locator(".cw-input-note").first).to_contain_text("No kernel")
    # nothing but the template's MathJax reached for the network
    assert [u for u in page.blocked if "mathjax" not in u] == []
    assert [e for e in page.errors if e.startswith("uncaught")] == []
    save_screenshot(page, "robustness-nbconvert-offline", dash)
