"""LogitLens in a real JupyterLab and in a static export, driven through Chromium: the slider
(mouse and keyboard), hovering and clicking positions and grid cells, head bars linked to an
AttentionExplorer, new texts and bad targets, checked against what Python sees and against
circuitwidgets.analysis."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Locator, expect

from .notebook import Notebook, save_screenshot
from .views import card

#: A repeated code line: the pocket model is confident of the last next token (" b").
TEXT = "def add(a, b):\n    return a + b\ndef add(a, b):\n    return a +"
OTHER = "The cat sat on the mat. The cat sat on the"
HEADER_HEIGHT, ROW_HEIGHT = 20, 22  # js/src/logit_lens/grid.ts

SETUP = '''
import json
import circuitwidgets as cw
model = cw.load_pocket_model("small-4l")

def state(w):
    """What Python sees of a logit lens."""
    return json.dumps(dict(lens_layer=w.lens_layer, position=w.position, layer=w.layer, head=w.head,
                           target=w.target, target_error=w.target_error, error=w.error, text=w.text,
                           tokens=w.tokens, sel=[w.selection.lens_layer, w.selection.position]))

def top1(w, r):
    """The analysis's top-1 token ids and probabilities at readout r, for every position."""
    lens = cw.analysis.logit_lens(model, w.text, k=1)
    return json.dumps(dict(ids=lens.top_ids[r, :, 0].tolist(), probs=lens.top_probs[r, :, 0].tolist()))
print(model.cfg.n_layers)
'''


@pytest.fixture(scope="module")
def kernel(notebook: Notebook) -> Notebook:
    assert notebook.run(SETUP).text() == "4"
    return notebook


def py(nb: Notebook, widget: str = "w") -> dict:
    return json.loads(nb.run(f"print(state({widget}))").text())


def show(nb: Notebook, code: str) -> Locator:
    view = nb.run(code).output.locator(".cw-logit-lens")
    expect(view).to_have_attribute("data-ready", "true")
    return view


def slider(view: Locator) -> Locator:
    return view.get_by_role("slider", name="Logit lens readout")


def expect_row_matches_analysis(kernel: Notebook, view: Locator, r: int) -> None:
    """The row of guesses shows the analysis's top-1 token and probability at readout r."""
    expected = json.loads(kernel.run(f"print(top1(w, {r}))").text())
    cells = view.locator(".cw-ll-pred")
    expect(cells).to_have_count(len(expected["ids"]))
    expect(view).to_have_attribute("data-lens-layer", str(r))
    got_ids = cells.evaluate_all("cs => cs.map(c => Number(c.dataset.token))")
    got_probs = cells.evaluate_all("cs => cs.map(c => Number(c.dataset.prob))")
    assert got_ids == expected["ids"]
    assert got_probs == pytest.approx(expected["probs"], abs=1e-6)
    # every guess is shown as its token's text, never as a bare id ("#447": a string missing)
    assert not [t for t in cells.locator(".cw-ll-pred-out").all_inner_texts() if re.fullmatch(r"#\d+", t)]


@pytest.fixture(scope="module")
def view(kernel: Notebook) -> Locator:
    return show(kernel, f"w = cw.LogitLens(model, {TEXT!r})\nw")


def test_renders_the_final_readout_with_an_announced_slider(kernel, view):
    state = py(kernel)
    assert state["lens_layer"] == 4 and state["position"] == len(state["tokens"]) - 1
    handle = slider(view)
    expect(handle).to_have_attribute("aria-valuenow", "4")
    expect(handle).to_have_attribute("aria-valuemin", "0")
    expect(handle).to_have_attribute("aria-valuemax", "4")
    expect(handle).to_have_attribute("aria-valuetext", "after layer 3: the final output (readout 4 of 4)")
    expect_row_matches_analysis(kernel, view, 4)
    # the model is confident of " b" at the end, and right (✓) where the code repeats
    last = view.locator(".cw-ll-pred").last
    expect(last.locator(".cw-ll-pred-out")).to_have_text("·b")
    assert view.locator('.cw-ll-pred[data-hit="true"]').count() >= 8
    expect(view.locator(".cw-ll-bar").first).to_be_visible()
    view.page.mouse.move(0, 0)
    kernel.screenshot("logit_lens-light", view)
    kernel.screenshot("logit_lens-readout-light", view.locator(".cw-ll-lens"))


def test_slider_moves_lens_layer_in_python_and_the_row_follows(kernel, view):
    view.locator(".cw-slider-stop", has_text="+L0").click()
    expect(slider(view)).to_have_attribute("aria-valuenow", "1")
    state = py(kernel)
    assert state["lens_layer"] == 1 and state["sel"][0] == 1
    expect_row_matches_analysis(kernel, view, 1)
    # drag along the track to the embeddings
    track = view.locator(".cw-slider-track")
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    view.page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    view.page.mouse.down()
    view.page.mouse.move(box["x"] + 1, box["y"] + box["height"] / 2, steps=4)
    view.page.mouse.up()
    expect(slider(view)).to_have_attribute("aria-valuenow", "0")
    assert py(kernel)["lens_layer"] == 0
    expect_row_matches_analysis(kernel, view, 0)


def test_keyboard_on_the_slider(kernel, view):
    handle = slider(view)
    handle.focus()
    handle.press("End")
    expect(handle).to_have_attribute("aria-valuenow", "4")
    handle.press("Home")
    expect(handle).to_have_attribute("aria-valuenow", "0")
    expect(handle).to_have_attribute("aria-valuetext", "the embeddings, before layer 0 (readout 0 of 4)")
    handle.press("ArrowRight")
    handle.press("ArrowRight")
    expect(handle).to_have_attribute("aria-valuenow", "2")
    expect(handle).to_be_focused()
    assert py(kernel)["lens_layer"] == 2
    expect_row_matches_analysis(kernel, view, 2)
    handle.press("ArrowLeft")
    expect(handle).to_have_attribute("aria-valuenow", "1")


def test_python_sets_layer_and_position(kernel, view):
    kernel.run("w.lens_layer = 3\nw.position = 5")
    expect(slider(view)).to_have_attribute("aria-valuenow", "3")
    expect(view).to_have_attribute("data-position", "5")
    expect(view.locator('.cw-ll-pred[data-index="5"]')).to_have_attribute("aria-selected", "true")
    expect(view.locator(".cw-ll-who")).to_have_attribute("data-position", "5")
    expect(view.locator(".cw-ll-who")).to_have_attribute("data-state", "ready")  # asked for on demand


def test_hover_a_position_shows_its_top_k(kernel, view):
    kernel.run("w.lens_layer = 4")
    cell = view.locator('.cw-ll-pred[data-index="7"]')
    cell.hover()
    shown = card(view.page)
    assert len(shown) == 10  # k
    first_label, first_prob = next(iter(shown.items()))
    assert first_label.startswith("1. ")
    assert float(first_prob) == pytest.approx(float(cell.get_attribute("data-prob")), abs=1e-4)
    view.page.mouse.move(0, 0)


def test_clicking_a_grid_cell_sets_layer_and_position(kernel, view):
    plot = view.locator(".cw-ll-grid-plot")
    plot.scroll_into_view_if_needed()
    col_width = float(view.locator(".cw-ll-grid").get_attribute("data-col-width"))
    r, p = 2, 9
    plot.click(position={"x": (p + 0.5) * col_width, "y": HEADER_HEIGHT + (r + 0.5) * ROW_HEIGHT})
    expect(slider(view)).to_have_attribute("aria-valuenow", str(r))
    expect(view).to_have_attribute("data-position", str(p))
    state = py(kernel)
    assert (state["lens_layer"], state["position"]) == (r, p)
    for mode in ("target probability", "target rank", "KL to final", "top-1 probability"):
        view.get_by_role("button", name=mode, exact=True).click()
        expect(view.get_by_role("button", name=mode, exact=True)).to_have_attribute("aria-pressed", "true")
    view.get_by_role("button", name="target rank", exact=True).click()
    kernel.screenshot("logit_lens-grid-rank", view.locator(".cw-ll-grid-panel"))
    view.get_by_role("button", name="top-1 probability", exact=True).click()


def test_bad_target_shows_an_inline_message_and_a_good_one_is_followed(kernel, view):
    kernel.run(f"w.position = {len(py(kernel)['tokens']) - 1}")
    box = view.get_by_role("textbox", name="Target token")
    box.fill("Mary and John")
    box.press("Enter")
    message = view.locator(".cw-ll-target-error")
    expect(message).to_be_visible()
    expect(message).to_contain_text("'Mary and John' is")
    expect(message).to_contain_text("not a single token")
    expect(box).to_have_value("Mary and John")  # what the user typed stays
    assert py(kernel)["target_error"].startswith("'Mary and John' is")
    kernel.screenshot("logit_lens-bad-target", view.locator(".cw-ll-target"))
    box.fill(" a")
    box.press("Enter")
    expect(message).to_be_hidden()
    target = view.locator(".cw-ll-target")
    expect(target).to_have_attribute("data-picked", "true")
    expect(view.locator(".cw-ll-who")).to_have_attribute("data-state", "ready")
    assert py(kernel)["target"] == " a"
    expected = json.loads(kernel.run(
        "t = cw.analysis.logit_lens(model, w.text, k=1, target=' a', positions=[w.position])\n"
        "print(json.dumps(dict(p=float(t.target_probs[w.lens_layer, 0]), rank=int(t.target_ranks[w.lens_layer, 0]))))"
    ).text())
    expect(target).to_have_attribute("data-rank", str(expected["rank"]))
    assert float(target.get_attribute("data-prob")) == pytest.approx(expected["p"], rel=1e-5)
    view.get_by_role("button", name="Final prediction").click()
    expect(target).to_have_attribute("data-picked", "false")
    assert py(kernel)["target"] is None


def test_a_new_text_reruns(kernel, view):
    box = view.locator("textarea")
    box.fill(OTHER)
    box.press("Enter")
    expect(view.locator(".cw-ll-pred-in").last).to_have_text("·the")
    state = py(kernel)
    assert state["text"] == OTHER
    expect(view).to_have_attribute("data-token-count", str(len(state["tokens"])))
    expect_row_matches_analysis(kernel, view, state["lens_layer"])
    kernel.run("w.text = 'x ' * 1000")
    expect(view.locator(".cw-error")).to_contain_text("context is")
    expect(view.locator("textarea")).to_have_value("x " * 1000)
    expect(view).to_have_attribute("data-token-count", str(len(state["tokens"])))  # last good view
    kernel.run(f"w.text = {TEXT!r}")
    expect(view.locator(".cw-error")).to_be_hidden()


def test_clicking_a_head_bar_selects_it_in_a_linked_attention_explorer(kernel):
    kernel.run("sel = cw.Selection()")
    lens = show(kernel, f"a = cw.LogitLens(model, {TEXT!r}, selection=sel)\na")
    explorer = kernel.run(f"b = cw.AttentionExplorer(model, {TEXT!r}, selection=sel)\nb").output.locator(".cw-attention-explorer")
    expect(explorer).to_have_attribute("data-ready", "true")
    bar = lens.locator(".cw-ll-bar-head").first
    layer, head = int(bar.get_attribute("data-layer")), int(bar.get_attribute("data-head"))
    bar.hover()
    shown = card(lens.page)
    assert "adds to the target's logit" in shown and len(shown) == 1 + 8  # + the head's top tokens
    bar.click()
    expect(bar).to_have_attribute("aria-pressed", "true")
    head_view = explorer.locator(".cw-ae-head")
    expect(head_view).to_have_attribute("data-layer", str(layer))
    expect(head_view).to_have_attribute("data-head", str(head))
    state = py(kernel, "a")
    assert (state["layer"], state["head"]) == (layer, head)
    assert json.loads(kernel.run("print(json.dumps([b.layer, b.head]))").text()) == [layer, head]
    lens.page.mouse.move(0, 0)
    kernel.screenshot("logit_lens-who-wrote-it", lens.locator(".cw-ll-lower"))


def test_paging_to_a_window_not_computed_yet_shows_it_pending_then_fills_it(kernel):
    """A long text is shown a page at a time; the kernel computes the page shown, then its
    neighbours. Pages of 8 on the pocket model stand in for pages of 32 on GPT-2 at 512
    tokens; each page is slowed down in the kernel, as a big model's would be, so the pending
    state can be seen."""
    view = show(kernel, f"pg = cw.LogitLens(model, {TEXT!r}, page_size=8)\npg")
    n = len(py(kernel, "pg")["tokens"])
    last = (n - 1) // 8
    expect(view).to_have_attribute("data-page", str(last))
    expect(view).to_have_attribute("data-page-state", "ready")
    expect(view.locator(".cw-ll-pred")).to_have_count(n - 8 * last)
    expect(view.locator(".cw-ll-pager-label").first).to_have_text(f"positions {8 * last}–{n - 1} of {n}")
    # the page before is fetched in the background; the others are not computed
    expect(view).to_have_attribute("data-ready-count", str(n - 8 * (last - 1)))
    computed = json.loads(kernel.run("print(json.dumps(pg.computed_positions))").text())
    assert computed == list(range(8 * (last - 1), n))
    kernel.run("import time\n_page = pg._page\npg._page = lambda i: (time.sleep(2), _page(i))[1]")
    earlier = view.get_by_role("button", name="Earlier positions").first
    earlier.click()  # to the page fetched in the background: drawn at once
    expect(view).to_have_attribute("data-page", str(last - 1))
    expect(view).to_have_attribute("data-page-state", "ready")
    earlier.click()  # to a page not computed: pending, then filled
    p = last - 2
    expect(view).to_have_attribute("data-page", str(p))
    expect(view).to_have_attribute("data-page-state", "pending")
    expect(view.locator('.cw-ll-pred[data-pending="true"]')).to_have_count(8)
    expect(view.locator(".cw-ll-pred-out").first).to_have_text("…")
    expect(view.locator(".cw-ll-grid")).to_have_attribute("data-pending", "8")
    expect(view.locator(".cw-ll-pager-label").first).to_contain_text("computing…")
    view.page.mouse.move(0, 0)
    kernel.screenshot("logit_lens-page-pending", view.locator(".cw-ll-lens"), view.locator(".cw-ll-grid-panel"))
    expect(view).to_have_attribute("data-page-state", "ready", timeout=60_000)
    expect(view.locator('.cw-ll-pred[data-pending="true"]')).to_have_count(0)
    expect(view.locator(".cw-ll-grid")).to_have_attribute("data-pending", "0")
    r = py(kernel, "pg")["lens_layer"]
    expected = json.loads(kernel.run(f"print(top1(pg, {r}))").text())
    cells = view.locator(".cw-ll-pred")
    assert cells.evaluate_all("cs => cs.map(c => Number(c.dataset.index))") == list(range(8 * p, 8 * p + 8))
    assert cells.evaluate_all("cs => cs.map(c => Number(c.dataset.token))") == expected["ids"][8 * p: 8 * p + 8]
    got = cells.evaluate_all("cs => cs.map(c => Number(c.dataset.prob))")
    assert got == pytest.approx(expected["probs"][8 * p: 8 * p + 8], abs=1e-6)
    cells.nth(3).click()  # a position on the filled page: the selection, target and bars follow
    expect(view).to_have_attribute("data-position", str(8 * p + 3))
    expect(view.locator(".cw-ll-target")).to_have_attribute("data-state", "ready")
    expect(view.locator(".cw-ll-who")).to_have_attribute("data-state", "ready")
    assert py(kernel, "pg")["position"] == 8 * p + 3
    kernel.screenshot("logit_lens-page-filled", view.locator(".cw-ll-lens"), view.locator(".cw-ll-grid-panel"))


def test_dark_screenshot(kernel, view, lab_page, dark_theme):
    kernel.run("w.lens_layer = 2")
    with dark_theme(view):
        view.locator('.cw-ll-pred[data-index="12"]').hover()
        kernel.screenshot("logit_lens-dark", view, lab_page.locator(".cw-tooltip:not([hidden])"))


def test_k_set_from_python_then_a_new_text_draws_the_right_guesses(kernel):
    """Issue #17: ``ll.k = 20`` then a new text drew every final guess as <|endoftext|> (rows
    shifted); ``k = 0`` or ``-1`` broke the page ("offset is out of bounds"). Now a new k
    recomputes the page, and a bad one is refused in the kernel with the view untouched."""
    lens = show(kernel, f"w2 = cw.LogitLens(model, {TEXT!r})\nw2")
    errors = len(lens.page.errors)
    kernel.run(f"w2.k = 20\nw2.text = {OTHER!r}")
    expected = json.loads(kernel.run("print(top1(w2, 4))").text())
    cells = lens.locator(".cw-ll-pred")
    expect(cells).to_have_count(len(expected["ids"]))
    assert cells.evaluate_all("cs => cs.map(c => Number(c.dataset.token))") == expected["ids"]
    assert cells.evaluate_all("cs => cs.map(c => Number(c.dataset.prob))") == pytest.approx(expected["probs"], abs=1e-6)
    cells.nth(5).hover()
    assert len(card(lens.page)) == 20
    lens.page.mouse.move(0, 0)
    for bad in ("0", "-1", "10**9"):
        refused = kernel.run(f"w2.k = {bad}", allow_stderr=True)
        assert "is out of range; it must be in [1, 50]" in refused.errors()
    assert json.loads(kernel.run("print(json.dumps([w2.k, w2.text]))").text()) == [20, OTHER]
    cells.nth(5).hover()
    assert len(card(lens.page)) == 20
    lens.page.mouse.move(0, 0)
    assert lens.page.errors[errors:] == []


# ---- static export (no kernel, no network) ------------------------------------------------------


def test_static_export_moves_the_slider_and_pages_offline(kernel, open_export, tmp_path):
    """An export holds every page (computed when saved), so paging needs no kernel."""
    path = tmp_path / "lens.html"
    code = f"s = cw.LogitLens(model, {TEXT!r}, page_size=8)\ns.position = 10\ns.save_html({str(path)!r})"
    offline_page, view = open_export(kernel, code, path, ".cw-logit-lens")
    expect(view).to_have_attribute("data-page", "1")
    expect(view.locator(".cw-ll-who")).to_have_attribute("data-state", "ready")  # the one on screen
    handle = slider(view)
    handle.focus()
    handle.press("Home")
    expect(handle).to_have_attribute("aria-valuenow", "0")
    expected = json.loads(kernel.run("print(top1(s, 0))").text())
    cells = view.locator(".cw-ll-pred")
    assert cells.evaluate_all("cs => cs.map(c => Number(c.dataset.token))") == expected["ids"][8:16]
    view.get_by_role("button", name="Earlier positions").first.click()
    expect(view).to_have_attribute("data-page", "0")
    expect(view).to_have_attribute("data-page-state", "ready")  # embedded: nothing to wait for
    assert cells.evaluate_all("cs => cs.map(c => Number(c.dataset.token))") == expected["ids"][0:8]
    view.locator('.cw-ll-pred[data-index="3"]').click()
    expect(view).to_have_attribute("data-position", "3")
    expect(view.locator(".cw-ll-who")).to_have_attribute("data-state", "missing")
    expect(view.locator(".cw-ll-who .cw-ll-note")).to_contain_text("need a running Python kernel")
    expect(view.get_by_role("textbox", name="Target token")).to_have_attribute("readonly", "")
    save_screenshot(offline_page, "logit_lens-static-export")
    assert offline_page.blocked == [] and offline_page.dialogs == []
