"""AttentionExplorer on a 16,384-token text in a real JupyterLab (issue 18, point 4): the
token strip draws only the tokens in sight and scrolls through a minimap, the heatmap zooms
into blocks the kernel computes at full resolution, a hovered weight always comes from
full-resolution data (never the pooled thumbnail), and a new text shows a progress bar.
A random model with n_ctx 16384 and tiny sizes (one layer of one head: the forward pass at 16k
tokens is the slow part)."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Locator, expect

from .notebook import Notebook, save_screenshot

N_TOKENS = 16384
ACTIVE = re.compile(r"\bcw-token-active\b")

SETUP = '''
import json
import circuitwidgets as cw
from transformers import AutoTokenizer

tok = AutoTokenizer.from_pretrained({tokenizer_dir!r})
cfg = dict(n_layers=1, d_model=16, d_head=8, n_heads=1, n_ctx={n}, d_vocab=tok.vocab_size,
           act_fn="gelu_new", d_mlp=32, normalization_type="LN", seed=0)
model = cw.build_model(cfg, None, tok)

def text_of(n):
    """A text of exactly n tokens with the BOS token."""
    ids = tok.encode("When Mary and John went to the store, John gave a drink to Mary. " * (n // 8))
    for cut in range(n - 1, 0, -1):
        text = tok.decode(ids[:cut])
        if model.to_tokens(text).shape[-1] == n:
            return text

w = cw.AttentionExplorer(model, text_of({n}))

def weight(q, k, layer=0, head=0):
    return w.store.patterns.block(layer, head, q, k).item()
print(w.store.seq_len)
'''


@pytest.fixture(scope="module")
def view(notebook: Notebook, tiny_tokenizer, lab_page) -> Locator:
    lab_page.set_viewport_size({"width": 1440, "height": 1000})
    cell = notebook.run(SETUP.format(tokenizer_dir=tiny_tokenizer.name_or_path, n=N_TOKENS), timeout=300)
    assert cell.text() == str(N_TOKENS)
    shown = notebook.run("w").output.locator(".cw-attention-explorer")
    expect(shown).to_have_attribute("data-ready", "true")
    expect(shown).to_have_attribute("data-token-count", str(N_TOKENS))
    return shown


def kernel_weight(nb: Notebook, q: int, k: int) -> float:
    return json.loads(nb.run(f"print(json.dumps(weight({q}, {k})))").text())


def close_to(shown: str, exact: float) -> bool:
    """A hover weight against the float32 one: float16 on the wire (relative 2**-11)."""
    return abs(float(shown) - exact) <= exact * 2**-11 + 1e-7


def cursor(plot: Locator) -> tuple[int, int]:
    """The (query, key) under the heatmap's cursor."""
    q, k = (int(v) for v in plot.get_attribute("data-cursor").split(","))
    return q, k


def test_the_strip_draws_only_what_is_in_sight_and_scrolls_by_the_minimap(view):
    strip = view.locator(".cw-ae-tokens .cw-token-strip")
    assert "cw-token-strip-long" in strip.get_attribute("class")
    assert "16384 tokens" in strip.get_attribute("aria-label")
    assert strip.locator(".cw-token").count() < 2000  # of 16,384
    scroller = strip.locator(".cw-token-scroll")
    scroller.evaluate("el => { el.scrollTop = el.scrollHeight / 2; }")
    expect(strip).to_have_attribute("data-drawn", re.compile(r"^[23]\d-[234]\d$"))  # chunks of 256 mid-text
    first, last = (int(v) for v in strip.get_attribute("data-drawn").split("-"))
    assert last - first < 8
    middle = strip.locator(f'.cw-token[data-index="{first * 256 + 300}"]')
    expect(middle).to_be_attached()
    assert strip.locator(".cw-token").count() < 2000
    # the minimap: its window is in the middle; a click near its bottom jumps to the end
    minimap = strip.locator(".cw-minimap")
    box = minimap.bounding_box()
    window_top = strip.locator(".cw-minimap-window").bounding_box()["y"] - box["y"]
    assert 0.35 < window_top / box["height"] < 0.6
    minimap.click(position={"x": box["width"] / 2, "y": box["height"] * 0.97})
    expect(strip.locator(f'.cw-token[data-index="{N_TOKENS - 1}"]')).to_be_attached()
    # keys still move the inspected token, scrolling it into sight (the pointer out of the way)
    view.page.mouse.move(0, 0)
    strip.focus()
    view.page.keyboard.press("End")
    expect(strip.locator(f'.cw-token[data-index="{N_TOKENS - 1}"]')).to_have_class(ACTIVE)
    view.page.keyboard.press("Home")
    expect(strip.locator('.cw-token[data-index="0"]')).to_have_class(ACTIVE)
    expect(strip.locator('.cw-token[data-index="0"]')).to_be_in_viewport()


def test_hover_values_come_from_full_resolution_data_zoomed_out_and_in(view, notebook):
    head = view.locator(".cw-ae-head")
    heatmap = head.locator(".cw-heatmap")
    expect(head).to_have_attribute("data-resolution", "blocks")
    expect(head).to_have_attribute("data-tile", "")  # zoomed out: the pooled thumbnail alone
    plot = head.locator(".cw-heatmap-plot")
    size = plot.bounding_box()["width"]
    # zoomed out, a cell is 1/30 of a pixel: its weight comes from the query's row, fetched
    plot.hover(position={"x": size * 0.25, "y": size * 0.75})
    expect(heatmap).to_have_attribute("data-hover-source", "row")
    q, k = cursor(plot)
    assert k < q and q > 10000
    assert close_to(heatmap.get_attribute("data-hover-weight"), kernel_weight(notebook, q, k))
    # zoom in with the keys until the view has fewer cells than pixels: a full-resolution block
    plot.focus()
    for _ in range(12):
        span = int(heatmap.get_attribute("data-span"))
        if span < size / 2:
            break
        view.page.keyboard.press("+")
        expect(heatmap).not_to_have_attribute("data-span", str(span))
    assert span < size / 2
    expect(head).not_to_have_attribute("data-tile", "")
    tile = head.get_attribute("data-tile")
    assert "@" in tile
    plot.hover(position={"x": size * 0.2, "y": size * 0.8})
    expect(heatmap).to_have_attribute("data-hover-source", "block")
    q, k = cursor(plot)
    assert close_to(heatmap.get_attribute("data-hover-weight"), kernel_weight(notebook, q, k))
    view.page.set_viewport_size({"width": 1440, "height": 1700})  # the whole view in one picture
    save_screenshot(view.page, "long_text-1440", view)
    view.page.set_viewport_size({"width": 1440, "height": 1000})


def test_a_dragged_box_zooms_and_a_new_text_shows_a_progress_bar(view, notebook):
    heatmap = view.locator(".cw-ae-head .cw-heatmap")
    plot = heatmap.locator(".cw-heatmap-plot")
    plot.focus()
    view.page.keyboard.press("0")
    expect(heatmap).to_have_attribute("data-span", str(N_TOKENS))
    box = plot.bounding_box()
    page = view.page
    page.keyboard.down("Shift")
    page.mouse.move(box["x"] + 100, box["y"] + 300)
    page.mouse.down()
    page.mouse.move(box["x"] + 140, box["y"] + 330, steps=4)
    page.mouse.move(box["x"] + 160, box["y"] + 340, steps=4)
    page.mouse.up()
    page.keyboard.up("Shift")
    expect(heatmap).not_to_have_attribute("data-span", str(N_TOKENS))
    span = int(heatmap.get_attribute("data-span"))
    assert span < N_TOKENS / 5
    row0, col0, _ = (int(v) for v in heatmap.get_attribute("data-view").split(","))
    assert abs(row0 - 300 / box["width"] * N_TOKENS) < N_TOKENS / 50
    assert abs(col0 - 100 / box["width"] * N_TOKENS) < N_TOKENS / 50
    # a new, shorter long text typed into the box: the bar follows the layers done
    view.evaluate(
        """el => { el.sawBar = [];
            new MutationObserver(() => { const bar = el.querySelector(".cw-ae-progress .cw-progress-bar");
                if (!bar.hidden) el.sawBar.push(bar.getAttribute("aria-valuenow")); })
            .observe(el.querySelector(".cw-ae-progress"), {attributes: true, subtree: true}); }"""
    )
    text = notebook.run("print(json.dumps(text_of(3000)))").text()
    area = view.locator("textarea").first
    area.fill(json.loads(text))
    area.press("Enter")
    expect(view).to_have_attribute("data-token-count", "3000", timeout=120_000)
    expect(view.locator(".cw-ae-progress")).to_be_hidden()
    saw = view.evaluate("el => el.sawBar")
    assert saw[0] == "0" and "100" in saw, saw  # the bar from none of the layers to all of them
