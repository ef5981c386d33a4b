"""PatchingExplorer in a real JupyterLab, driven through Chromium on the pocket model
attn-only-2l with a prompt pair that differs in one token: a head cell moves the Python
selection and a linked AttentionExplorer, the tabs switch grids, the exact grid is computed
through the chunked requests with its progress bar, the exact/attribution switch redraws the
numbers (checked against circuitwidgets.analysis), and a screenshot at 1440 px."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Locator, expect

from .notebook import Notebook

SETUP = '''
import json
import circuitwidgets as cw
model = cw.load_pocket_model("attn-only-2l")
CLEAN, CORRUPTED = "a b c d a b c", "a b c e a b c"

def state(w):
    return json.dumps(dict(layer=w.layer, head=w.head, lens_layer=w.lens_layer, position=w.position,
                           grid=w.grid, method=w.method, exact=sorted(w.exact), error=w.error))

def expected(grid, method):
    f = cw.analysis.patching if method == "exact" else cw.analysis.attribution_patching
    return json.dumps(f(model, CLEAN, CORRUPTED, "logit_diff", at=grid, target=" d", distractor=" e").values.flatten().tolist())
print(model.cfg.n_layers, model.cfg.n_heads)
'''


@pytest.fixture(scope="module")
def kernel(notebook: Notebook, lab_page) -> Notebook:
    lab_page.set_viewport_size({"width": 1440, "height": 1100})
    assert notebook.run(SETUP).text() == "2 4"
    return notebook


def py(nb: Notebook, widget: str = "w") -> dict:
    return json.loads(nb.run(f"print(state({widget}))").text())


def values(view: Locator) -> list[float]:
    return [float(v) for v in view.locator(".cw-pe-cell").evaluate_all("cells => cells.map(c => c.dataset.value)")]


@pytest.fixture(scope="module")
def linked(kernel):
    kernel.run("sel = cw.Selection()")
    out = kernel.run(
        "w = cw.PatchingExplorer(model, CLEAN, CORRUPTED, target=' d', distractor=' e', selection=sel)\nw"
    ).output
    view = out.locator(".cw-patching-explorer")
    expect(view).to_have_attribute("data-ready", "true")
    explorer = kernel.run("a = cw.AttentionExplorer(model, CLEAN, selection=sel)\na").output.locator(".cw-attention-explorer")
    expect(explorer).to_have_attribute("data-ready", "true")
    return view, explorer


def test_a_head_cell_moves_python_and_the_attention_view(kernel, linked):
    view, explorer = linked
    assert values(view) == pytest.approx(json.loads(kernel.run("print(expected('heads', 'attribution'))").text()), abs=1e-6)
    expect(view.locator(".cw-token[data-differs]")).to_have_count(2)
    view.get_by_role("button", name="layer 0 head 2", exact=True).click()
    head = explorer.locator(".cw-ae-head")
    expect(head).to_have_attribute("data-layer", "0")
    expect(head).to_have_attribute("data-head", "2")
    state = py(kernel)
    assert (state["layer"], state["head"]) == (0, 2)
    # the grid keys: → moves the selection (and the linked view) to the next head
    view.get_by_role("button", name="layer 0 head 2", exact=True).press("ArrowRight")
    expect(head).to_have_attribute("data-head", "3")
    expect(view.get_by_role("button", name="layer 0 head 3", exact=True)).to_be_focused()


def test_exact_grid_with_progress_then_the_toggle_and_the_scatter(kernel, linked):
    view, _ = linked
    view.locator(".cw-pe-compute").click()
    expect(view).to_have_attribute("data-exact-ready", "true")
    expect(view.locator(".cw-pe-progress")).to_be_hidden()
    assert py(kernel)["exact"] == ["heads"]
    expect(view.locator(".cw-pe-scatter")).to_be_visible()
    expect(view.locator(".cw-pe-dot")).to_have_count(8)
    view.locator('.cw-pe-method [data-value="exact"]').click()
    expect(view).to_have_attribute("data-shown", "exact")
    assert py(kernel)["method"] == "exact"
    assert values(view) == pytest.approx(json.loads(kernel.run("print(expected('heads', 'exact'))").text()), abs=1e-5)
    kernel.screenshot("patching_explorer-1440", view)
    view.locator('.cw-pe-method [data-value="attribution"]').click()
    expect(view).to_have_attribute("data-shown", "attribution")


def test_tabs_switch_grids_and_a_residual_cell_selects_the_lens_layer_and_position(kernel, linked):
    view, _ = linked
    view.get_by_role("tab", name="Residual").click()
    expect(view).to_have_attribute("data-grid", "resid_pre")
    assert values(view) == pytest.approx(json.loads(kernel.run("print(expected('resid_pre', 'attribution'))").text()), abs=1e-6)
    expect(view.locator('.cw-pe-col[data-differs="true"]')).to_have_count(1)
    view.get_by_role("button", name="layer 1 position 4", exact=True).click()
    state = py(kernel)
    assert (state["grid"], state["lens_layer"], state["position"]) == ("resid_pre", 1, 4)
    # a progress bar shows while the per-position head grid computes, chunk by chunk
    view.get_by_role("tab", name="Heads by position").click()
    view.locator(".cw-pe-compute").click()
    expect(view).to_have_attribute("data-exact-ready", "true")
    assert py(kernel)["exact"] == ["heads", "heads_by_pos"]
    kernel.screenshot("patching_explorer-heads-by-position", view)
    assert not kernel.page.errors and not kernel.page.dialogs


def test_the_dashboards_patching_panel_links_live_and_in_a_static_export(kernel, open_static_export, tmp_path):
    """CircuitExplorer(panels=[..., "patching"]): a head cell of the patching panel moves the
    attention panel, in JupyterLab and in the offline file, whose grids are the computed ones."""
    path = tmp_path / "dash.html"
    out = kernel.run(
        "d = cw.CircuitExplorer(model, CLEAN, panels=['attention', 'patching'], corrupted=CORRUPTED,\n"
        "                       patching_options=dict(target=' d', distractor=' e', exact=['heads'], method='exact'))\nd"
    ).output
    dash = out.locator(".cw-circuit-explorer")
    expect(dash).to_have_attribute("data-ready", "true")
    expect(dash.locator(".cw-ce-panel")).to_have_count(2)
    panel = dash.locator('.cw-ce-panel[data-panel="patching"] .cw-patching-explorer')
    expect(panel).to_have_attribute("data-shown", "exact")
    panel.get_by_role("button", name="layer 1 head 1", exact=True).click()
    head = dash.locator('.cw-ce-panel[data-panel="attention"] .cw-ae-head')
    expect(head).to_have_attribute("data-layer", "1")
    expect(head).to_have_attribute("data-head", "1")
    assert json.loads(kernel.run("print(json.dumps([d.layer, d.head]))").text()) == [1, 1]
    kernel.screenshot("patching_explorer-dashboard", dash)
    kernel.run(f"d.save_html({str(path)!r})")
    page = open_static_export(path)
    static = page.locator(".cw-circuit-explorer")
    expect(static).to_have_attribute("data-ready", "true")
    grid = static.locator(".cw-patching-explorer")
    expect(grid).to_have_attribute("data-shown", "exact")
    assert values(grid) == pytest.approx(json.loads(kernel.run("print(expected('heads', 'exact'))").text()), abs=1e-5)
    expect(grid.locator(".cw-pe-compute")).to_be_hidden()  # the exact heads grid is there
    grid.get_by_role("tab", name="Residual").click()
    expect(grid.locator(".cw-pe-compute")).to_be_disabled()  # no kernel to compute it
    grid.get_by_role("tab", name="Heads", exact=True).click()
    grid.get_by_role("button", name="layer 0 head 3", exact=True).click()
    static_head = static.locator('.cw-ce-panel[data-panel="attention"] .cw-ae-head')
    expect(static_head).to_have_attribute("data-layer", "0")
    expect(static_head).to_have_attribute("data-head", "3")
    assert page.blocked == [] and page.dialogs == [] and page.errors == []


def test_hostile_prompts_are_shown_as_text(kernel):
    hostile = ('x </script><script>alert(1)</script> <img src=x onerror=alert(2)>',
               'y </script><script>alert(1)</script> <img src=x onerror=alert(2)>')
    view = kernel.run(f"h = cw.PatchingExplorer(model, *{hostile!r}, metric='kl')\nh").output.locator(".cw-patching-explorer")
    expect(view).to_have_attribute("data-ready", "true")
    assert view.locator("img, script, iframe, object").count() == 0
    strips = view.locator(".cw-token-strip")
    expect(strips.first).to_contain_text("<script>")
    expect(strips.first).to_contain_text("onerror")
    expect(view.locator(".cw-token[data-differs]")).to_have_count(2)
    assert not kernel.page.dialogs


def test_a_grid_of_many_cells_is_one_canvas_that_clicks_keys_and_hovers(kernel):
    """Heads by position on a 71-token pair (8 heads x 71 positions = 568 cells, more than
    MAX_BUTTON_CELLS) is drawn on one canvas: a click selects the cell's head and position in
    Python, the grid keys move the selection and say where it went, a hover shows the cell's
    card with its estimate."""
    kernel.run("LONG = ' '.join('abcdefghijklmnop' * 5)[:139]\nLONG_CORRUPTED = LONG[:70] + 'z' + LONG[71:]")
    view = kernel.run("g = cw.PatchingExplorer(model, LONG, LONG_CORRUPTED, target=' d', distractor=' e')\ng").output.locator(
        ".cw-patching-explorer")
    expect(view).to_have_attribute("data-ready", "true")
    view.get_by_role("tab", name="Heads by position").click()
    canvas = view.get_by_role("grid", name="Patching grid")
    expect(canvas).to_have_attribute("data-rows", "8")
    expect(canvas).to_have_attribute("data-cols", "71")
    assert view.locator(".cw-pe-cell:visible").count() == 0  # no button per cell
    expect(view.locator('.cw-pe-col[data-differs="true"]:visible')).to_have_count(1)
    width, height = view.locator(".cw-pe-canvas-grid").evaluate(
        "g => ['w', 'h'].map(k => parseFloat(g.style.getPropertyValue(`--cw-pe-cell-${k}`)))")  # one cell, CSS px
    canvas.click(position={"x": 10 * width + width / 2, "y": 5 * height + height / 2})  # row 5: L1H1
    assert (py(kernel, "g")["layer"], py(kernel, "g")["head"], py(kernel, "g")["position"]) == (1, 1, 10)
    canvas.press("ArrowRight")
    canvas.press("ArrowDown")
    expect(view.locator(".cw-pe-spoken")).to_contain_text("layer 1 head 2 position 11")
    expect(view.locator(".cw-pe-marked")).to_have_attribute("data-row", "6")
    state = py(kernel, "g")
    assert (state["layer"], state["head"], state["position"]) == (1, 2, 11)
    canvas.hover(position={"x": 20 * width + width / 2, "y": 3 * height + height / 2})  # L0H3, position 20
    card = kernel.page.locator(".cw-tooltip:visible")
    expect(card).to_contain_text("layer 0 head 3 position 20")
    estimate = json.loads(kernel.run("print(json.dumps(float(g.approx['heads_by_pos'][0, 3, 20])))").text())
    cursor = view.locator(".cw-pe-cursor")
    assert float(cursor.get_attribute("data-value")) == pytest.approx(estimate, abs=1e-6)
    kernel.screenshot("patching_explorer-canvas-grid", view, card)
    assert not kernel.page.errors and not kernel.page.dialogs
