"""PathExplorer in a real JupyterLab and in a static export, driven through Chromium on the
pocket model attn-only-2l: the bars against circuitwidgets.analysis, a click on a pair's bar
moving Python's selection and a linked AttentionExplorer, a token click re-expanding at that
position, the reading toggle, keys, bad input, markup in the text, and a screenshot at 1440 px."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Locator, expect

from .notebook import Notebook, save_screenshot
from .views import expect_head

TEXT = "def area(w, h): return w * h\ndef area(w, h): return w * h"
SECOND_W = 23  # the second " w": next comes " *"
HOSTILE = '<img src=x onerror=alert(1)> <script>alert(2)</script>'

SETUP = '''
import json
import circuitwidgets as cw
model = cw.load_pocket_model("attn-only-2l")

def state(w):
    return json.dumps(dict(position=w.position, layer=w.layer, head=w.head, mode=w.mode,
                           target=w.target, target_error=w.target_error, error=w.error,
                           sel=[w.selection.position, w.selection.layer, w.selection.head]))

def terms(w, position, attention="frozen"):
    """The analysis's terms at position, by label."""
    labels, values = cw.analysis.path_expansion(model, w.text, position=position, attention=attention).terms()
    return json.dumps(dict(zip(labels, values.tolist())))
print(model.cfg.n_layers)
'''


@pytest.fixture(scope="module")
def kernel(notebook: Notebook, lab_page) -> Notebook:
    lab_page.set_viewport_size({"width": 1440, "height": 1100})
    assert notebook.run(SETUP).text() == "2"
    return notebook


def py(nb: Notebook, widget: str = "w") -> dict:
    return json.loads(nb.run(f"print(state({widget}))").text())


def drawn(view: Locator) -> dict[str, float]:
    """The bars on screen that are one term each (label -> value)."""
    bars = view.locator(".cw-px-bar:not([data-kind=rest]):not([data-kind=total])")
    labels = bars.locator(".cw-px-bar-label").all_inner_texts()
    values = bars.evaluate_all("bs => bs.map(b => Number(b.dataset.value))")
    return dict(zip(labels, values))


def expect_position(view: Locator, position: int, mode: str = "frozen") -> None:
    expect(view).to_have_attribute("data-position", str(position))
    expect(view).to_have_attribute("data-mode", mode)


@pytest.fixture(scope="module")
def view(kernel: Notebook) -> Locator:
    code = (f"sel = cw.Selection()\nw = cw.PathExplorer(model, {TEXT!r}, position={SECOND_W}, selection=sel)\n"
            f"a = cw.AttentionExplorer(model, {TEXT!r}, selection=sel)\nfrom ipywidgets import VBox\nVBox([w, a])")
    root = kernel.run(code).output.locator(".cw-path-explorer")
    expect(root).to_have_attribute("data-ready", "true")
    expect_position(root, SECOND_W)
    return root


def test_the_bars_are_the_analysis_terms_and_a_pair_click_selects_its_second_head(kernel, view, lab_page):
    expected = json.loads(kernel.run(f"print(terms(w, {SECOND_W}))").text())
    shown = drawn(view)
    assert len(shown) == 12
    for label, value in shown.items():
        assert value == pytest.approx(expected[label], rel=1e-5, abs=1e-6), label
    total = float(view.locator(".cw-px-bar[data-kind=total]").get_attribute("data-value"))
    assert total == pytest.approx(sum(expected.values()), rel=1e-4)
    expect(view.locator(".cw-px-reading")).to_contain_text("With attention frozen")
    expect(view.locator(".cw-px-reading")).to_contain_text("' *' after ' w' (position 23)")

    pair = view.locator(".cw-px-bar[data-kind=pair]").first
    expect(pair.locator(".cw-px-bar-label")).to_have_text("L0H0 → L1H1")
    pair.hover()
    tip = lab_page.locator(".cw-tooltip:not([hidden])")
    expect(tip).to_contain_text("pushes up most")
    expect(tip).to_contain_text("V-composition")
    save_screenshot(lab_page, "path_explorer-1440", view, tip)
    pair.click()
    expect(pair).to_have_attribute("aria-pressed", "true")
    assert py(kernel)["sel"] == [SECOND_W, 1, 1]
    explorer = view.page.locator(".cw-attention-explorer")
    expect_head(explorer, 1, 1)


def test_a_token_click_expands_there_and_the_toggle_switches_the_reading(kernel, view):
    view.locator(f'.cw-token[data-index="{SECOND_W - 1}"]').click()
    expect_position(view, SECOND_W - 1)
    assert py(kernel)["position"] == SECOND_W - 1
    expected = json.loads(kernel.run(f"print(terms(w, {SECOND_W - 1}))").text())
    assert all(v == pytest.approx(expected[k], rel=1e-5, abs=1e-6) for k, v in drawn(view).items())

    view.get_by_role("button", name="weights only").click()
    expect_position(view, SECOND_W - 1, "weights")
    assert py(kernel)["mode"] == "weights"
    expected = json.loads(kernel.run(f"print(terms(w, {SECOND_W - 1}, 'uniform'))").text())
    assert all(v == pytest.approx(expected[k], rel=1e-5, abs=1e-6) for k, v in drawn(view).items())
    expect(view.locator(".cw-px-reading")).to_contain_text("Weights only")
    view.get_by_role("button", name="frozen attention").click()
    expect_position(view, SECOND_W - 1)

    strip = view.locator(".cw-token-strip")  # keys: the strip, then the bars
    strip.focus()
    strip.press("End")
    strip.press("Enter")
    expect_position(view, SECOND_W + 2)
    first = view.locator(".cw-px-bar").first
    first.focus()
    first.press("ArrowDown")
    expect(view.locator(".cw-px-bar").nth(1)).to_be_focused()
    first.press("End")
    expect(view.locator(".cw-px-bar[data-kind=total]")).to_be_focused()


def test_bad_input_shows_why_and_keeps_the_drawing(kernel, view):
    kernel.run(f"w.position = {SECOND_W}")
    expect_position(view, SECOND_W)
    before = drawn(view)
    box = view.get_by_role("textbox", name="Target token")
    box.fill(" return a")
    box.press("Enter")
    expect(view.locator(".cw-px-target-error")).to_contain_text("not a single token")
    assert py(kernel)["target"] is None and drawn(view) == before
    kernel.run("sel.position = 40")  # a position this text does not have (a longer linked text)
    expect(view.locator(".cw-error")).to_contain_text("position 40 is out of range; this text has 26 tokens")
    assert drawn(view) == before
    box.fill(" h")
    box.press("Enter")
    expect(view.locator(".cw-px-target-error")).to_be_empty()
    kernel.run(f"sel.position = {SECOND_W}")
    expect(view.locator(".cw-px-reading")).to_contain_text("the logit of ' h'")
    assert py(kernel)["target"] == " h"


def test_markup_in_the_text_is_text_and_a_static_export_toggles_offline(kernel, lab_page, open_static_export, tmp_path):
    hostile = kernel.run(f"h = cw.PathExplorer(model, {HOSTILE!r})\nh").output.locator(".cw-path-explorer")
    expect(hostile).to_have_attribute("data-ready", "true")
    assert hostile.locator("img, script").count() == 0 and lab_page.dialogs == []
    path = tmp_path / "paths.html"
    kernel.run(f"w.save_html({str(path)!r})")
    page = open_static_export(path)
    root = page.locator(".cw-path-explorer")
    expect(root).to_have_attribute("data-ready", "true")
    root.get_by_role("button", name="weights only").click()
    expect(root).to_have_attribute("data-mode", "weights")
    expect(root.locator(".cw-px-reading")).to_contain_text("Weights only")
    assert page.blocked == []
