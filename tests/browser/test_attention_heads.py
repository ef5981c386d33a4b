"""``cw.attention_heads`` (issue 22 point 5) in a real JupyterLab and in its static export:
a 1024-token random causal pattern, no model behind it, drawn, clicked, hovered and linked to
an AttentionExplorer of the pocket model; the export opens offline."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Locator, expect

from .notebook import Notebook, save_screenshot
from .views import card, expect_head, head_button, shown

SEQ = 1024
SETUP = f'''
import json
import torch
import circuitwidgets as cw
g = torch.Generator().manual_seed(0)
mask = torch.ones({SEQ}, {SEQ}, dtype=torch.bool).triu(1)
attention = torch.softmax((torch.randn(2, 4, {SEQ}, {SEQ}, generator=g) * 4).masked_fill(mask, -torch.inf), dim=-1)
tokens = [f" w{{i}}" for i in range({SEQ})]
w = cw.attention_heads(attention, tokens)
pocket = cw.AttentionExplorer(cw.load_pocket_model(), "a b c d a b c d", selection=w.selection)
print(json.dumps([w.n_layers, w.n_heads, len(w.tokens)]))
'''


@pytest.fixture(scope="module")
def kernel(notebook: Notebook, lab_page) -> Notebook:
    lab_page.set_viewport_size({"width": 1440, "height": 1100})
    assert json.loads(notebook.run(SETUP, timeout=240).text()) == [2, 4, SEQ]
    return notebook


@pytest.fixture(scope="module")
def view(kernel: Notebook) -> Locator:
    return shown(kernel.run("w").output, "AttentionExplorer")


@pytest.fixture(scope="module")
def linked(kernel: Notebook, view) -> Locator:
    return shown(kernel.run("pocket").output, "AttentionExplorer")


def python_weight(nb: Notebook, layer: int, head: int, q: int, k: int) -> float:
    return float(nb.run(f"print(float(attention[{layer}, {head}, {q}, {k}]))").text())


def hover_and_read(view: Locator, layer: int, head: int, nb: Notebook) -> None:
    """Hover a cell of the drawn head; the card's weight is the array's (float16, 4 decimals)."""
    plot = view.locator(".cw-heatmap-plot")
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    plot.hover(position={"x": box["width"] * 0.30, "y": box["height"] * 0.62})
    rows = card(view.page)
    q, k = int(rows["query"]), int(rows["key"])
    assert k <= q, rows
    expected = python_weight(nb, layer, head, q, k)
    assert float(rows["weight"]) == pytest.approx(expected, abs=expected * 2**-11 + 5e-5 + 1e-9)


def test_draws_the_arrays_with_no_model(kernel, view):
    expect(view).to_have_attribute("data-token-count", str(SEQ))
    expect(view.locator(".cw-ae-thumb")).to_have_count(8)
    expect(view.locator(".cw-ae-head")).to_have_attribute("data-resolution", "full")
    expect(view.locator(".cw-ae-model-free")).to_contain_text("no model behind this view")
    expect(view.locator("textarea")).to_have_count(0)           # no text to run
    expect(view.locator(".cw-ablation")).to_have_count(0)
    expect(view.locator(".cw-meta")).to_contain_text("from arrays")
    path = kernel.screenshot("attention_heads-1440", view)
    assert path.exists()


def test_a_click_fetches_the_head_and_moves_the_linked_view(kernel, view, linked):
    head_button(view, 1, 2).click()
    expect_head(view, 1, 2)
    expect(view.locator(".cw-ae-head")).to_have_attribute("data-resolution", "full", timeout=30_000)  # asked of the kernel
    expect_head(linked, 1, 2)                                      # the pocket model's explorer follows
    assert json.loads(kernel.run("print(json.dumps([w.layer, w.head, pocket.layer, pocket.head]))").text()) == [1, 2, 1, 2]
    hover_and_read(view, 1, 2, kernel)
    head_button(view, 1, 2).press("ArrowRight")                    # the grid keys
    expect_head(view, 1, 3)
    expect_head(linked, 1, 3)
    head_button(linked, 0, 1).click()                             # and back the other way
    expect_head(view, 0, 1)


def test_static_export_opens_offline(kernel, view, open_export, tmp_path):
    path = tmp_path / "heads.html"
    code = f"w.select(0, 3)\nw.save_html({str(path)!r})"   # 8 heads x 1024² x 2 B > 8 MiB: the selected one in full
    page, exported = open_export(kernel, code, path, ".cw-attention-explorer")
    expect_head(exported, 0, 3)
    expect(exported.locator(".cw-ae-head")).to_have_attribute("data-resolution", "full")
    expect(exported.locator(".cw-ae-model-free")).to_be_visible()
    hover_and_read(exported, 0, 3, kernel)
    head_button(exported, 1, 0).click()
    expect_head(exported, 1, 0)
    expect(exported.locator(".cw-ae-head")).to_have_attribute("data-resolution", "preview")
    save_screenshot(page, "attention_heads-static-export")
    assert page.blocked == [] and page.dialogs == []
