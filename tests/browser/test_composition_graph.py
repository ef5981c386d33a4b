"""CompositionGraph in a real JupyterLab, driven through Chromium on the pocket model
attn-only-2l: click a head and an edge and read the selection in Python and in a linked
AttentionExplorer (an edge: both heads in the shared selection, the explorer draws the two
patterns side by side; a head: one again), move the threshold and count the edges against
HeadComposition.edges, switch the kind and the tab; the numbers on the page are
analysis.head_composition's."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Locator, expect

from .notebook import Notebook
from .views import expect_head, shown

SETUP = '''
import json
import circuitwidgets as cw
model = cw.load_pocket_model("attn-only-2l")
w = cw.CompositionGraph(model)
ae = cw.AttentionExplorer(model, "a b c d a b c d", selection=w.selection)

def state():
    return json.dumps(dict(layer=w.layer, head=w.head, kind=w.kind, threshold=w.threshold, pair=w.pair,
                           sel=[w.selection.layer, w.selection.head], ae=[ae.layer, ae.head],
                           sel_pair=w.selection.pair, ae_pair=ae.pair,
                           edges=[[e.writer_layer, e.writer_head, e.reader_layer, e.reader_head, e.kind, e.excess] for e in w.edges()]))
print(len(w.edges()))
'''


@pytest.fixture(scope="module")
def kernel(notebook: Notebook, lab_page) -> Notebook:
    lab_page.set_viewport_size({"width": 1440, "height": 1100})
    assert int(notebook.run(SETUP).text()) > 0
    return notebook


def py(nb: Notebook) -> dict:
    return json.loads(nb.run("print(state())").text())


@pytest.fixture(scope="module")
def view(kernel: Notebook) -> Locator:
    root = kernel.run("w").output.locator(".cw-composition-graph")
    expect(root).to_have_attribute("data-ready", "true")
    return root


@pytest.fixture(scope="module")
def explorer(kernel: Notebook, view) -> Locator:
    return shown(kernel.run("ae").output, "AttentionExplorer")


def drawn_edges(view: Locator) -> list[list]:
    """The edges on the page, strongest first (they are drawn weakest first)."""
    edges = view.locator("g.cw-cg-edge").evaluate_all(
        "gs => gs.map(g => [...g.dataset.pair.split(' ').map(Number), g.dataset.kind, Number(g.dataset.excess)])"
    )
    return edges[::-1]


def test_draws_every_head_and_the_edges_python_computes(kernel, view):
    state = py(kernel)
    expect(view.locator("g.cw-cg-node")).to_have_count(8)
    expect(view).to_have_attribute("data-edges", str(len(state["edges"])))
    page_edges = drawn_edges(view)
    assert [e[:5] for e in page_edges] == [e[:5] for e in state["edges"]]
    for ours, theirs in zip(page_edges, state["edges"]):
        assert ours[5] == pytest.approx(theirs[5], rel=1e-6)  # float32 on the wire
    baseline = json.loads(kernel.run("print(json.dumps([w.baseline, w.baseline_std]))").text())
    expect(view.locator(".cw-cg-summary")).to_contain_text(f"{baseline[0]:.3f} ± {baseline[1]:.3f}")
    expect(view.locator(".cw-cg-approximation")).to_be_hidden()  # learned positions: exact
    path = kernel.screenshot("composition_graph-1440", view)
    assert path.exists()


def test_clicking_a_head_selects_it_in_python_and_the_linked_explorer(kernel, view, explorer):
    view.get_by_role("button", name="layer 0 head 2", exact=True).click()
    expect_head(explorer, 0, 2)
    state = py(kernel)
    assert (state["layer"], state["head"]) == (0, 2) and state["sel"] == [0, 2] and state["ae"] == [0, 2]
    expect(view.locator('g.cw-cg-node[data-layer="0"][data-head="2"]')).to_have_class("cw-cg-node cw-cg-selected")


def test_clicking_an_edge_selects_the_pair(kernel, view, explorer):
    strongest = view.locator("g.cw-cg-edge").last  # drawn last: on top
    pair = [int(v) for v in strongest.get_attribute("data-pair").split()]
    view.locator(".cw-cg-svg").scroll_into_view_if_needed()
    point = strongest.locator(".cw-cg-line").evaluate(
        """p => { const q = p.getPointAtLength(p.getTotalLength() / 2).matrixTransform(p.getScreenCTM());
                  return [q.x, q.y]; }"""
    )
    view.page.mouse.click(point[0], point[1])
    expect(strongest).to_have_class("cw-cg-edge cw-cg-near cw-cg-picked")
    state = py(kernel)
    assert state["pair"] == pair == [0, 1, 1, 3]  # the previous-token head into the induction head
    assert state["sel_pair"] == state["ae_pair"] == pair  # both heads, in the shared selection
    assert state["sel"] == [1, 3] and state["ae"] == [1, 3]  # the reading head is the selected one
    expect_head(explorer, 1, 3)
    for layer, head in ((0, 1), (1, 3)):
        expect(view.locator(f'g.cw-cg-node[data-layer="{layer}"][data-head="{head}"]')).to_have_attribute("aria-pressed", "true")
    # the linked explorer draws the writer's pattern beside the reader's, both in full
    expect(explorer).to_have_attribute("data-pair", "0 1 1 3")
    writer = explorer.locator(".cw-ae-pair")
    expect(writer).to_be_visible()
    for panel, (layer, head) in ((writer, (0, 1)), (explorer.locator(".cw-ae-head"), (1, 3))):
        expect(panel).to_have_attribute("data-layer", str(layer))
        expect(panel).to_have_attribute("data-head", str(head))
        expect(panel).to_have_attribute("data-resolution", "full")
    expect(writer).to_contain_text("Layer 0 · Head 1 · writes")
    expect(explorer.locator(".cw-ae-head")).to_contain_text("Layer 1 · Head 3 · reads")
    expect(explorer.get_by_role("button", name="layer 0 head 1", exact=True)).to_have_attribute("data-second", "true")
    side_by_side = [writer.bounding_box(), explorer.locator(".cw-ae-head").bounding_box()]
    assert side_by_side[0]["x"] + side_by_side[0]["width"] <= side_by_side[1]["x"] + 1  # writer left of reader
    assert abs(side_by_side[0]["y"] - side_by_side[1]["y"]) < 4  # on one row at 1440 px
    # hover a cell of the writer: both heads' weights, the numbers Python has
    query, key = 5, 4  # "a b c d a b c d": query " a" (second copy), key " d" before it
    weights = json.loads(kernel.run(f"print(json.dumps([ae.pattern(0, 1)[{query}, {key}].item(), ae.pattern(1, 3)[{query}, {key}].item()]))").text())
    plot = writer.locator(".cw-heatmap-plot")
    plot.scroll_into_view_if_needed()
    cell = plot.bounding_box()["width"] / int(explorer.get_attribute("data-token-count"))
    plot.hover(position={"x": (key + 0.5) * cell, "y": (query + 0.5) * cell})
    tip = explorer.page.locator(".cw-tooltip:not([hidden])")
    expect(tip).to_contain_text("L0H1 (writes)")
    expect(tip).to_contain_text("L1H3 (reads)")
    expect(writer.locator(".cw-heatmap")).to_have_attribute("data-hover-weight", re.compile(r"."))
    assert float(writer.locator(".cw-heatmap").get_attribute("data-hover-weight")) == pytest.approx(weights[0], abs=1e-3)
    assert float(explorer.locator(".cw-ae-head .cw-heatmap").get_attribute("data-hover-weight")) == pytest.approx(weights[1], abs=1e-3)
    shot = kernel.screenshot("composition_graph-pair-attention-1440", explorer, tip)
    assert shot.exists()
    # a single head (a node click) clears the pair everywhere: one pattern again
    explorer.page.mouse.move(0, 0)
    view.get_by_role("button", name="layer 0 head 1", exact=True).click()
    expect(explorer).to_have_attribute("data-pair", "")
    expect(writer).to_have_count(0)  # removed: the explorer holds one heatmap again
    expect_head(explorer, 0, 1)
    state = py(kernel)
    assert state["sel_pair"] == state["ae_pair"] == state["pair"] == [] and state["sel"] == [0, 1]
    expect(explorer.locator('.cw-head-grid-cell[data-second="true"]')).to_have_count(0)


def test_moving_the_threshold_prunes_the_edges(kernel, view):
    slider = view.get_by_role("slider", name="Threshold on score − baseline")
    counts = []
    for key in ("Home", "ArrowRight", "ArrowRight", "End"):
        slider.press(key)  # focuses it first (running a cell moves the focus to the notebook)
        threshold = float(slider.get_attribute("aria-valuetext").split()[-1])
        state = py(kernel)
        assert state["threshold"] == pytest.approx(threshold)
        expect(view).to_have_attribute("data-edges", str(len(state["edges"])))
        assert view.locator("g.cw-cg-edge").count() == len(state["edges"])
        counts.append(len(state["edges"]))
    assert counts[0] > counts[-1] and counts[-1] == 0 and counts == sorted(counts, reverse=True)


def test_the_kind_switch_and_the_matrix_tab(kernel, view):
    kernel.run("w.threshold = 0.0")
    view.get_by_role("button", name="all").click()
    expect(view).to_have_attribute("data-kind", "all")
    state = py(kernel)
    assert state["kind"] == "all" and {e[4] for e in state["edges"]} <= {"Q", "K", "V"}
    expect(view).to_have_attribute("data-edges", str(len(state["edges"])))
    view.get_by_role("tab", name="Matrix").click()
    expect(view).to_have_attribute("data-tab", "matrix")
    expect(view.locator(".cw-cg-matrix canvas").first).to_be_visible()
    kernel.screenshot("composition_graph-matrix-1440", view)
    view.get_by_role("tab", name="Graph").click()
    # keyboard on the nodes: the selection follows the focus
    kernel.run("w.select(1, 3)")
    expect(view.get_by_role("button", name="layer 1 head 3", exact=True)).to_have_attribute("tabindex", "0")
    view.get_by_role("button", name="layer 1 head 3", exact=True).press("ArrowLeft")
    expect(view.get_by_role("button", name="layer 0 head 3", exact=True)).to_be_focused()
    assert py(kernel)["sel"] == [0, 3]
