"""The quickstart as a newcomer meets it: examples/quickstart.ipynb opened in JupyterLab at a
laptop's 1440 x 900 with the file browser open (JupyterLab's default), every cell run (Run All).

What must hold: the first screen shows the start of the first widget (the dashboard), not a
model's module tree; the dashboard tiles its four panels at the width such a notebook column
has; a click in any view moves every view of the notebook, the dashboard included (they share
the notebook's one ``selection``); no notification toast sits over the outputs; no cell wrote
to stderr. Screenshots: ``test-artifacts/quickstart-first-screen.png`` and
``quickstart-dashboard.png``.
"""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from .notebook import save_screenshot, wait_for_kernel
from .views import ROOT, dashboard, dashboard_head_button, expect_dashboard_head, expect_head, head_button, shown

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"
LAPTOP = {"width": 1440, "height": 900}
#: The standalone views the quickstart links to its selection, and the element naming the head
#: each has drawn (TokenView shows no head).
LINKED = {**ROOT, "OVBrowser": ".cw-ov-browser", "LogitLens": ".cw-logit-lens"}


@pytest.fixture(scope="module")
def quickstart(browser, jupyter_server) -> Page:
    """The quickstart with every cell run, at 1440 x 900, the file browser open."""
    name = f"quickstart-{secrets.token_hex(4)}.ipynb"
    shutil.copyfile(QUICKSTART, jupyter_server.root / name)
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(jupyter_server.page_url(f"lab/workspaces/qs-{secrets.token_hex(4)}/tree/{name}"))
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")
    expect(cells.first).to_be_visible(timeout=120_000)
    page.evaluate("jupyterapp.shell.activateById('filebrowser')")   # the sidebar, as on first start
    expect(page.locator("#filebrowser")).to_be_visible()
    wait_for_kernel(page, timeout=120)
    page.evaluate("jupyterapp.commands.execute('notebook:run-all-cells')")
    prompts = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt")
    for i in range(prompts.count()):
        expect(prompts.nth(i)).to_have_text(re.compile(r"^\[\d+\]:$"), timeout=240_000)
    yield page
    context.close()


def _notebook_scroller(page: Page) -> str:
    return "document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer')"


def test_every_cell_runs_without_stderr(quickstart):
    errors = quickstart.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    assert errors.all_inner_texts() == []


def test_the_first_screen_shows_the_first_widget(quickstart):
    dash = dashboard(quickstart)
    quickstart.evaluate(f"{_notebook_scroller(quickstart)}.scrollTop = 0")
    first = quickstart.locator(".jp-OutputArea .cw-circuit-explorer, .jp-OutputArea .cw-root").first
    expect(first).to_have_class(re.compile(r"\bcw-circuit-explorer\b"))   # the first widget is the dashboard
    top = first.evaluate("e => e.getBoundingClientRect().top")
    save_screenshot(quickstart, "quickstart-first-screen")
    assert top < LAPTOP["height"] - 100, f"the first widget starts {top:.0f} px down a {LAPTOP['height']} px screen"
    # The model cell prints one line, not the model's module tree.
    model_out = quickstart.locator(".jp-CodeCell").nth(0).locator(".jp-OutputArea-output")
    assert len(model_out.inner_text().strip().splitlines()) == 1
    assert dash.count() == 1


def test_the_dashboard_tiles_in_a_laptop_notebook_column(quickstart):
    dash = dashboard(quickstart)
    width = dash.evaluate("e => e.getBoundingClientRect().width")
    assert 900 < width < 1100, width   # the column a 1440 px window with the sidebar open leaves
    expect(dash).to_have_attribute("data-layout", "tiles")
    boxes = [dash.locator(f'.cw-ce-panel[data-panel="{p}"]').bounding_box() for p in ("attention", "ov")]
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 2 and boxes[1]["x"] > boxes[0]["x"] + 300, boxes
    # docs/circuit_explorer.md: it tiles from 900 px of its own, a 1362 px window with the file
    # browser open; a little narrower, it stacks (drawn only on screen: JupyterLab skips the
    # layout of cells out of view).
    for window, layout in ((1340, "stack"), (1370, "tiles")):
        quickstart.set_viewport_size({"width": window, "height": LAPTOP["height"]})
        dash.scroll_into_view_if_needed()
        expect(dash).to_have_attribute("data-layout", layout)
    quickstart.set_viewport_size({"width": LAPTOP["width"], "height": 3000})   # the whole dashboard in frame
    try:
        dash.scroll_into_view_if_needed()
        save_screenshot(quickstart, "quickstart-dashboard", dash)
    finally:
        quickstart.set_viewport_size(LAPTOP)


def _view(page: Page, view: str) -> Locator:
    root = page.locator(f"{LINKED[view]}:not(.cw-circuit-explorer *)")
    expect(root).to_have_count(1)
    expect(root).to_have_attribute("data-ready", "true")
    return root


def expect_everywhere(page: Page, layer: int, head: int) -> None:
    """Every linked view of the notebook draws head (layer, head)."""
    expect_dashboard_head(dashboard(page), layer, head)
    expect_head(shown(page, "AttentionExplorer"), layer, head)
    expect_head(shown(page, "InductionScores"), layer, head)
    spectrum = _view(page, "OVBrowser").locator(".cw-ov-spectrum")
    expect(spectrum).to_have_attribute("data-layer", str(layer))
    expect(spectrum).to_have_attribute("data-head", str(head))
    pressed = _view(page, "LogitLens").locator('.cw-ll-bar-head[aria-pressed="true"]')
    expect(pressed).to_have_attribute("data-layer", str(layer))
    expect(pressed).to_have_attribute("data-head", str(head))


def test_the_notebook_leaves_every_view_on_the_head_python_set(quickstart):
    # AttentionExplorer(..., layer=1, head=3), then `selection.head = 0`: every view, the dashboard too.
    expect_everywhere(quickstart, 1, 0)


@pytest.mark.parametrize("where, layer, head", [
    ("dashboard ov", 1, 2), ("AttentionExplorer", 0, 1), ("InductionScores", 0, 3),
    ("OVBrowser", 1, 1), ("LogitLens", 0, 2), ("dashboard induction", 1, 3),
])
def test_a_click_in_any_view_moves_every_view(quickstart, where, layer, head):
    if where.startswith("dashboard"):
        button = dashboard_head_button(dashboard(quickstart), where.split()[1], layer, head)
    elif where == "LogitLens":
        button = _view(quickstart, where).locator(f'.cw-ll-bar-head[data-layer="{layer}"][data-head="{head}"]')
    else:
        button = head_button(_view(quickstart, where), layer, head).first
    button.scroll_into_view_if_needed()
    button.click()
    expect_everywhere(quickstart, layer, head)


def test_no_toast_covers_the_outputs(quickstart):
    toasts = quickstart.locator(".jp-toast-container .Toastify__toast:visible, .jp-Notification-Toast:visible")
    assert toasts.all_inner_texts() == []
