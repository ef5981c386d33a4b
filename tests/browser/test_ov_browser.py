"""OVBrowser in a real JupyterLab and in static exports, driven through Chromium: clicks, keys,
hovers and typing as a person makes them, checked against circuitwidgets.analysis."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from playwright.sync_api import Locator, expect

from .notebook import Notebook, save_screenshot
from .views import card

TEXT = "def add(a, b):\n    return a + b\n"

SETUP = '''
import json
import circuitwidgets as cw
from circuitwidgets import analysis

model = cw.load_pocket_model("attn-only-2l")
adapter = cw.ModelAdapter(model)
CARD = json.loads((cw.pocket.WEIGHTS_DIR / "attn-only-2l" / "measurements.json").read_text())

def state(w):
    """What Python sees of a view."""
    return json.dumps(dict(layer=w.layer, head=w.head, token=getattr(w, "token", None), error=w.error,
                           sel=[w.selection.layer, w.selection.head, w.selection.token]))

def eigenvalues(layer, head):
    e = analysis.ov_spectrum(model).eigenvalues[layer, head]
    return json.dumps([[float(z.real), float(z.imag)] for z in e])

def top(mode, layer, head, tokens, k=10):
    answer = {"ov": analysis.ov_token_map, "ov_sources": analysis.ov_sources_for,
              "qk": analysis.qk_token_map}[mode](model, layer, head, tokens, k=k)
    return json.dumps(dict(given=answer.given.tolist(), ids=answer.top_ids.tolist(),
                           values=answer.top_values.tolist()))
print(type(model).__name__)
'''


@pytest.fixture(scope="module")
def kernel(notebook: Notebook) -> Notebook:
    cell = notebook.run(SETUP)
    assert cell.text() in {"HookedTransformer", "TransformerBridge"}
    return notebook


def py(nb: Notebook, code: str):
    return json.loads(nb.run(f"print({code})").text())


def show(nb: Notebook, code: str) -> Locator:
    view = nb.run(code).output.locator(".cw-ov-browser")
    expect(view).to_have_attribute("data-ready", "true")
    expect(view).to_have_attribute("data-spectra", "ready")
    return view


def cell(view: Locator, layer: int, head: int) -> Locator:
    return view.locator(".cw-ov-grid").get_by_role("button", name=f"layer {layer} head {head}", exact=True)


def spectrum(view: Locator) -> Locator:
    return view.locator(".cw-ov-spectrum")


def expect_head(view: Locator, layer: int, head: int) -> None:
    expect(spectrum(view)).to_have_attribute("data-layer", str(layer))
    expect(spectrum(view)).to_have_attribute("data-head", str(head))
    expect(cell(view, layer, head)).to_have_attribute("aria-pressed", "true")


def plotted(view: Locator) -> list[list[float]]:
    return json.loads(view.locator(".cw-ov-plot").get_attribute("data-points"))


def tokens_panel(view: Locator) -> Locator:
    return view.locator(".cw-ov-tokens")


def rows(view: Locator) -> list[dict]:
    panel = tokens_panel(view)
    expect(panel).to_have_attribute("data-state", "ready")
    return [
        {
            "given": int(r.get_attribute("data-given")),
            "ids": [int(i) for i in r.get_attribute("data-ids").split(",")],
            "values": [float(v) for v in r.get_attribute("data-values").split(",")],
        }
        for r in panel.locator(".cw-ov-row").all()
    ]


@contextmanager
def tall(page, height: int = 1500):
    """A taller window while a screenshot of the whole view is taken."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": height})
    try:
        yield
    finally:
        page.set_viewport_size(size)


@pytest.fixture(scope="module")
def view(kernel: Notebook) -> Locator:
    return show(kernel, "w = cw.OVBrowser(model)\nw")


# ---- copying map and spectrum --------------------------------------------------------------------


def test_copying_map_shows_every_head_with_its_score(kernel, view):
    expect(view.locator(".cw-ov-cell")).to_have_count(8)
    scores = py(kernel, "json.dumps(analysis.copying_scores(model).tolist())")
    for layer in range(2):
        for head in range(4):
            shown = float(cell(view, layer, head).get_attribute("data-score"))
            assert shown == pytest.approx(scores[layer][head], abs=1e-6)
    expect(cell(view, 0, 1)).to_have_text("−0.44")  # the previous-token head suppresses
    expect(view.locator(".cw-legend")).to_contain_text("Copying score")
    with tall(view.page):
        kernel.screenshot("ov_browser-light", view)


def test_the_cards_induction_head_is_shown_as_copying(kernel, view):
    layer, head = py(kernel, 'json.dumps(CARD["checks"]["induction_head"])')
    stated = py(kernel, 'CARD["checks"]["copying_full_ov"][1][3]')
    bar = py(kernel, 'CARD["recipe"]["thresholds"]["copying"]')
    shown = float(cell(view, layer, head).get_attribute("data-score"))
    assert (layer, head) == (1, 3)
    assert shown >= bar and shown == pytest.approx(stated, abs=1e-3)
    # ... and drawn in the copying colour (blue, the scale's positive end), not the other one
    rgb = cell(view, layer, head).evaluate("e => getComputedStyle(e).backgroundColor")
    r, g, b = (int(x) for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    assert b > r + 60


def test_clicking_a_cell_selects_the_head_in_python_and_redraws_the_spectrum(kernel, view):
    cell(view, 1, 3).click()
    expect_head(view, 1, 3)
    state = py(kernel, "state(w)")
    assert (state["layer"], state["head"]) == (1, 3) and state["sel"][:2] == [1, 3]
    expected = py(kernel, "eigenvalues(1, 3)")
    points = plotted(view)
    assert len(points) == len(expected) == 32
    for (re, im), (ere, eim) in zip(points, expected):
        assert re == pytest.approx(ere, rel=1e-6, abs=1e-6) and im == pytest.approx(eim, rel=1e-6, abs=1e-6)
    copying = py(kernel, "float(w.spectrum.copying[1, 3])")
    mass = py(kernel, "float(w.spectrum.positive_mass[1, 3])")
    assert float(spectrum(view).get_attribute("data-copying")) == pytest.approx(copying, abs=1e-6)
    assert float(spectrum(view).get_attribute("data-positive-mass")) == pytest.approx(mass, abs=1e-6)
    expect(view.locator('.cw-ov-number-value[data-name="copying score"]')).to_have_text(f"{copying:.2f}")


def test_setting_the_head_from_python_redraws(kernel, view):
    kernel.run("w.layer, w.head = 0, 1")
    expect_head(view, 0, 1)
    assert plotted(view)[0] == pytest.approx(py(kernel, "eigenvalues(0, 1)")[0], rel=1e-6)


def test_keyboard_moves_the_selection(kernel, view):
    kernel.run("w.select(0, 2)")
    expect_head(view, 0, 2)
    cell(view, 0, 2).focus()
    view.page.keyboard.press("ArrowRight")
    expect_head(view, 0, 3)
    view.page.keyboard.press("ArrowDown")
    expect_head(view, 1, 3)
    expect(cell(view, 1, 3)).to_be_focused()
    assert py(kernel, "state(w)")["head"] == 3


def test_hover_shows_the_values(kernel, view):
    cell(view, 0, 1).hover()
    shown = card(view.page)
    assert shown["copying score"] == "−0.44"
    kernel.run("w.select(1, 3)")
    expect_head(view, 1, 3)
    plot = view.locator(".cw-ov-plot svg")
    plot.focus()
    view.page.keyboard.press("Home")  # the largest eigenvalue
    expect(view.locator(".cw-ov-plot")).to_have_attribute("data-active", "0")
    shown = card(view.page)
    largest = py(kernel, "eigenvalues(1, 3)")[0]
    assert float(shown["|λ|"]) == pytest.approx((largest[0] ** 2 + largest[1] ** 2) ** 0.5, rel=5e-3)
    assert shown["rank by |λ|"] == "1 of 32"
    # the pointer finds the same point
    view.page.keyboard.press("Escape")
    expect(view.locator(".cw-ov-plot")).to_have_attribute("data-active", "-1")
    view.locator(".cw-ov-dot").last.hover()  # drawn last = largest
    expect(view.locator(".cw-ov-plot")).to_have_attribute("data-active", "0")
    view.get_by_role("button", name="log |λ|").click()
    expect(view.locator(".cw-ov-plot")).to_have_attribute("data-scale", "log")
    expect(view.locator(".cw-ov-ring-label").last).to_have_text("|λ| = 1000")
    view.page.mouse.move(0, 0)
    kernel.screenshot("ov_browser-log-scale", spectrum(view))
    view.get_by_role("button", name="linear |λ|").click()


# ---- token maps ----------------------------------------------------------------------------------


def test_default_tokens_show_what_analysis_returns(kernel, view):
    kernel.run("w.select(1, 3)")
    expect_head(view, 1, 3)
    defaults = py(kernel, 'json.dumps([t.id for t in w.defaults.tokens])')
    expected = py(kernel, f"top('ov', 1, 3, {defaults})")
    shown = rows(view)
    assert [r["given"] for r in shown] == expected["given"] == defaults
    assert [r["ids"] for r in shown] == expected["ids"]
    for r, values in zip(shown, expected["values"]):
        assert r["values"] == pytest.approx(values, rel=1e-6)


def test_typing_a_source_token_shows_the_same_top_k_as_analysis(kernel, view):
    box = view.get_by_role("textbox", name="Add a source token")
    box.click()
    box.press_sequentially(" class")
    box.press("Enter")
    token = py(kernel, 'adapter.to_single_token(" class")')
    row = tokens_panel(view).locator(f'.cw-ov-row[data-given="{token}"]')
    expect(row).to_be_visible()
    expect(box).to_have_value("")
    expected = py(kernel, f"top('ov', 1, 3, [{token}])")
    assert [int(i) for i in row.get_attribute("data-ids").split(",")] == expected["ids"][0]
    texts = row.locator(".cw-ov-pill-text").all_text_contents()
    strs = py(kernel, f"json.dumps(adapter.to_str_tokens({expected['ids'][0]}))")
    assert texts == [s.replace(" ", "·") for s in strs]
    kernel.screenshot("ov_browser-token-map", tokens_panel(view))


def test_picking_a_suggested_token(kernel, view):
    picker = tokens_panel(view).locator(".cw-ov-picker")
    picker.locator("summary").click()
    choice = picker.locator(".cw-ov-piece").first
    token = int(choice.get_attribute("data-id"))
    assert token == py(kernel, 'w.defaults.choices[8].id')  # the first not on the list yet
    choice.click()
    row = tokens_panel(view).locator(f'.cw-ov-row[data-given="{token}"]')
    expect(row).to_be_visible()
    expected = py(kernel, f"top('ov', 1, 3, [{token}])")
    assert [int(i) for i in row.get_attribute("data-ids").split(",")] == expected["ids"][0]
    expect(picker.locator(f'.cw-ov-piece[data-id="{token}"]')).to_have_count(0)


def test_a_string_of_several_tokens_gets_an_inline_message(kernel, view):
    box = view.get_by_role("textbox", name="Add a source token")
    before = len(rows(view))
    box.fill("hello world")
    box.press("Enter")
    message = tokens_panel(view).locator(".cw-ov-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("not a single token")
    expect(box).to_have_value("hello world")  # what was typed is kept
    assert len(rows(view)) == before  # the last good answer stays
    kernel.screenshot("ov_browser-multi-token", tokens_panel(view))
    pieces = message.locator(".cw-ov-piece")
    expect(pieces.first).to_be_visible()
    first_piece = py(kernel, 'adapter.to_tokens("hello world")[0, 1].item()')
    pieces.first.click()  # offered pieces can be added directly
    expect(tokens_panel(view).locator(f'.cw-ov-row[data-given="{first_piece}"]')).to_be_visible()
    expect(message).to_be_hidden()
    box.fill("#99999")
    box.press("Enter")
    expect(message).to_contain_text("token id 99999 is out of range [0, 2048)")
    assert view.page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    box.fill("")
    box.dispatch_event("input")
    expect(message).to_be_hidden()


def test_clicking_a_promoted_token_asks_the_reverse_question(kernel, view):
    first = tokens_panel(view).locator(".cw-ov-row").first.locator(".cw-ov-pill").first
    target = int(first.get_attribute("data-id"))
    first.click()
    panel = tokens_panel(view)
    expect(panel).to_have_attribute("data-mode", "ov_sources")
    expect(view.get_by_role("tab", name="Written by (OV reverse)")).to_have_attribute("aria-selected", "true")
    row = panel.locator(".cw-ov-row").first
    expect(row).to_have_attribute("data-given", str(target))
    expected = py(kernel, f"top('ov_sources', 1, 3, [{target}])")
    assert [int(i) for i in row.get_attribute("data-ids").split(",")] == expected["ids"][0]
    assert py(kernel, "state(w)")["token"] == target  # the shared selection's token


def test_qk_tab_shows_which_keys_a_query_prefers(kernel, view):
    view.get_by_role("tab", name="Looks at (QK)").click()
    defaults = py(kernel, 'json.dumps([t.id for t in w.defaults.tokens])')
    expected = py(kernel, f"top('qk', 1, 3, {defaults})")
    assert [r["ids"] for r in rows(view)] == expected["ids"]
    view.get_by_role("tab", name="Writes (OV)").click()


def test_reselecting_a_head_is_answered_from_the_cache(kernel, view):
    kernel.run("w.select(0, 0)")
    expect_head(view, 0, 0)
    expect(tokens_panel(view)).to_have_attribute("data-state", "ready")
    # Count the questions Python gets from here on: going back to 1.3 must ask none.
    kernel.run(
        "asked = []\n"
        "answer = w._query_request\n"
        "w._query_request = lambda content: asked.append(content) or answer(content)"
    )
    cell(view, 1, 3).click()
    expect_head(view, 1, 3)
    expect(tokens_panel(view)).to_have_attribute("data-state", "ready")
    cell(view, 0, 0).click()
    expect_head(view, 0, 0)
    expect(tokens_panel(view)).to_have_attribute("data-state", "ready")
    assert py(kernel, "len(asked)") == 0  # the kernel handles messages in order: none came
    kernel.run("w._query_request = answer")


# ---- linking -------------------------------------------------------------------------------------


def test_linked_with_an_attention_explorer_both_ways(kernel):
    kernel.run("sel = cw.Selection()")
    ae = kernel.run(f"a = cw.AttentionExplorer(model, {TEXT!r}, selection=sel)\na").output.locator(".cw-attention-explorer")
    expect(ae).to_have_attribute("data-ready", "true")
    ov = show(kernel, "o = cw.OVBrowser(model, selection=sel)\no")
    cell(ov, 1, 2).click()
    expect(ae.locator(".cw-ae-head")).to_have_attribute("data-layer", "1")
    expect(ae.locator(".cw-ae-head")).to_have_attribute("data-head", "2")
    ae.get_by_role("button", name="layer 0 head 3", exact=True).click()
    expect_head(ov, 0, 3)
    assert py(kernel, "state(o)")["head"] == 3 and py(kernel, "state(a)")["head"] == 3


def test_light_and_dark_screenshots(kernel, view, lab_page, dark_theme):
    kernel.run("w.select(1, 3)")
    expect_head(view, 1, 3)
    with dark_theme(view), tall(lab_page):
        view.scroll_into_view_if_needed()  # before hovering: a later scroll moves the pointer off
        lab_page.mouse.move(0, 0)
        cell(view, 0, 1).hover()
        expect(lab_page.locator(".cw-tooltip:not([hidden])")).to_be_visible()
        kernel.screenshot("ov_browser-dark", view, lab_page.locator(".cw-tooltip:not([hidden])"))


# ---- static exports (no kernel, no network) ------------------------------------------------------


def test_static_export_keeps_grid_spectrum_and_default_answers_offline(kernel, open_export, tmp_path):
    path = tmp_path / "ov.html"
    code = f"s = cw.OVBrowser(model, layer=1, head=3)\ns.save_html({str(path)!r})"
    offline_page, view = open_export(kernel, code, path, ".cw-ov-browser")
    expect(view).to_have_attribute("data-spectra", "ready")
    expect_head(view, 1, 3)
    hint = tokens_panel(view).locator(".cw-ov-hint")
    expect(hint).to_contain_text("needs a running Python kernel")
    defaults = py(kernel, 'json.dumps([t.id for t in s.defaults.tokens])')
    assert [r["ids"] for r in rows(view)] == py(kernel, f"top('ov', 1, 3, {defaults})")["ids"]
    expect(view.get_by_role("textbox", name="Add a source token")).to_be_disabled()
    save_screenshot(offline_page, "ov_browser-static-export")
    cell(view, 0, 1).click()  # every head's spectrum is in the file
    expect_head(view, 0, 1)
    assert plotted(view)[0] == pytest.approx(py(kernel, "eigenvalues(0, 1)")[0], rel=1e-6)
    expect(tokens_panel(view)).to_have_attribute("data-state", "missing")
    expect(tokens_panel(view).locator(".cw-ov-status")).to_contain_text("needs a running Python kernel")
    assert offline_page.blocked == [] and offline_page.dialogs == []
