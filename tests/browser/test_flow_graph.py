"""FlowGraph in a real JupyterLab, driven through Chromium on the pocket model small-4l (4
layers with MLPs) and a text said twice: click a head node and read the selection in Python
and in a linked AttentionExplorer; click a memory value and read the locked key; move the
threshold and count the drawn edges against analysis.flow; hover a node and read its card;
hover a norm node and read its filter; find the knowledge neurons and follow a row to its
node and back; click a token to explain another position; collapse a layer; use the keys; bad
input."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Locator, expect

from .notebook import Notebook
from .views import card

TEXT = " alpha = beta(gamma, delta) + omega[kappa]"
HOSTILE = "<img src=x onerror=alert(1)> and <script>alert(1)</script>"

SETUP = f'''
import json
import circuitwidgets as cw
model = cw.load_pocket_model("small-4l")
TEXT = {TEXT!r} * 2
sel = cw.Selection()

def state(w):
    return json.dumps(dict(layer=w.layer, head=w.head, position=w.position, threshold=w.threshold,
                           error=w.error, sel=[sel.layer, sel.head, sel.query, sel.key]))

def drawn(w, threshold):
    """The node ids and edges the browser should draw at ``threshold`` (every layer open)."""
    g = w.result
    writers = [abs(n.contribution) for n in g.nodes if n.contribution is not None and n.kind != "output"]
    cut = threshold * max(writers)
    always = {{"resid_pre", "ln", "resid_mid", "resid_post", "output", "embed", "attn_out", "mlp_out"}}
    keep = {{n.id for n in g.nodes if n.kind in always or cut == 0 or not abs(n.contribution) < cut}}
    keep = {{i for i in keep if g.node(i).kind != "memory" or i.split("@")[0] in keep}}
    return json.dumps(dict(nodes=len(keep), edges=sum(e.source in keep and e.target in keep for e in g.edges)))
print(model.cfg.n_layers)
'''


@pytest.fixture(scope="module")
def kernel(notebook: Notebook, lab_page) -> Notebook:
    lab_page.set_viewport_size({"width": 1440, "height": 1100})
    assert notebook.run(SETUP).text() == "4"
    return notebook


def py(nb: Notebook) -> dict:
    return json.loads(nb.run("print(state(w))").text())


@pytest.fixture(scope="module")
def views(kernel: Notebook) -> tuple[Locator, Locator]:
    out = kernel.run(
        "w = cw.FlowGraph(model, TEXT, position=30, selection=sel)\n"
        "a = cw.AttentionExplorer(model, TEXT, selection=sel)\n"
        "from IPython.display import display\ndisplay(w, a)"
    ).output
    graph, explorer = out.locator(".cw-flow-graph"), out.locator(".cw-attention-explorer")
    expect(graph).to_have_attribute("data-ready", "true")
    expect(explorer).to_have_attribute("data-ready", "true")
    return graph, explorer


def node(view: Locator, node_id: str) -> Locator:
    return view.locator(f'.cw-fg-node[data-id="{node_id}"]')


def test_draws_the_graph_analysis_flow_computed(kernel, views):
    graph, _ = views
    expect(graph).to_have_attribute("data-position", "30")
    svg = graph.locator(".cw-fg-graph")
    want = json.loads(kernel.run("print(drawn(w, 0.0))").text())
    expect(svg).to_have_attribute("data-nodes", str(want["nodes"]))
    expect(svg).to_have_attribute("data-edges", str(want["edges"]))
    ids = json.loads(kernel.run("print(json.dumps({n.id: [n.target_rank, n.contribution] for n in w.result.nodes}))").text())
    shown = graph.locator(".cw-fg-node").evaluate_all(
        "gs => gs.map(g => [g.dataset.id, Number(g.dataset.rank), g.dataset.contribution === undefined ? null : Number(g.dataset.contribution)])"
    )
    assert {i: r for i, r, _ in shown} == {i: v[0] for i, v in ids.items()}
    for i, _, c in shown:
        assert c == pytest.approx(ids[i][1], rel=1e-5, abs=1e-6) if ids[i][1] is not None else c is None
    kernel.screenshot("flow_graph-light", graph)


def test_clicking_a_head_selects_it_in_python_and_the_explorer(kernel, views):
    graph, explorer = views
    top = json.loads(kernel.run("print(json.dumps([(h.layer, h.head) for h in w.result.contributors() if h.kind == 'head'][0]))").text())
    head = node(graph, f"L{top[0]}H{top[1]}")
    head.click()
    expect(head).to_have_attribute("aria-pressed", "true")
    ae = explorer.locator(".cw-ae-head")
    expect(ae).to_have_attribute("data-layer", str(top[0]))
    expect(ae).to_have_attribute("data-head", str(top[1]))
    state = py(kernel)
    assert [state["layer"], state["head"]] == top and state["sel"][:2] == top
    # a memory value: its head, with the query and key locked on the position and the source
    source = json.loads(kernel.run(f"print(w.result.memory_values('L{top[0]}H{top[1]}')[0].source)").text())
    node(graph, f"L{top[0]}H{top[1]}@{source}").click()
    expect(explorer).to_have_attribute("data-key", str(source))
    expect(explorer).to_have_attribute("data-query", "30")
    assert py(kernel)["sel"] == [*top, 30, source]


def test_the_threshold_prunes_in_the_browser(kernel, views):
    graph, _ = views
    svg = graph.locator(".cw-fg-graph")
    slider = graph.get_by_role("slider")
    counts = []
    for presses in (2, 4):  # 10% then 30% of the largest contribution
        slider.focus()  # (running a cell took the focus)
        for _ in range(presses):
            graph.page.keyboard.press("ArrowRight")
        threshold = 0.05 * sum((2, 4)[: (2, 4).index(presses) + 1])
        expect(graph).to_have_attribute("data-threshold", str(round(threshold, 2)))
        want = json.loads(kernel.run(f"print(drawn(w, {threshold:.2f}))").text())
        expect(svg).to_have_attribute("data-edges", str(want["edges"]))
        counts.append(want["edges"])
    assert counts[0] > counts[1]
    assert py(kernel)["threshold"] == pytest.approx(0.3)
    kernel.run("w.threshold = 0.0")
    expect(graph).to_have_attribute("data-threshold", "0")


def test_hovering_a_node_shows_its_top_tokens_and_the_target(kernel, views):
    graph, _ = views
    n = json.loads(kernel.run(
        "h = [h for h in w.result.contributors() if h.kind == 'head'][0]\n"
        "print(json.dumps(dict(id=h.id, rank=h.target_rank, top=w.result.token_strs[h.top_ids[0]], target=w.result.target_str)))"
    ).text())
    node(graph, n["id"]).hover()
    rows = card(graph.page)
    target = json.dumps(n["target"])
    assert rows[f"rank of {target}"] == str(n["rank"])
    assert rows["top 1"].startswith(json.dumps(n["top"]))
    tip = graph.page.locator(".cw-tooltip:not([hidden])").bounding_box()
    assert tip["x"] >= 0 and tip["x"] + tip["width"] <= 1440
    kernel.screenshot("flow_graph-card", graph, graph.page.locator(".cw-tooltip:not([hidden])"))


def test_hovering_a_norm_node_shows_what_it_raises_and_lowers(kernel, views):
    graph, _ = views
    f = json.loads(kernel.run(
        "f = w.result.filters['L1 ln2']\n"
        "s = lambda ids: [w.result.token_strs[int(i)] for i in ids]\n"
        "print(json.dumps(dict(raised=s(f.raised_ids), lowered=s(f.lowered_ids), control=s(f.control_raised_ids))))"
    ).text())
    ln = node(graph, "L1 ln2")
    expect(ln).to_have_attribute("data-norm", "ln2")
    ln.hover()
    rows = card(graph.page)
    assert rows["kind"] == "norm before the MLP (ln2)"
    for row, tokens in (("raises", f["raised"]), ("lowers", f["lowered"]), ("control raises", f["control"])):
        assert [t.rsplit(" ", 2)[0] for t in rows[row].split(", ")] == [json.dumps(t) for t in tokens], row
    assert rows["raises"].split(", ")[0].endswith(" pp") and "−" in rows["lowers"]
    tip = graph.page.locator(".cw-tooltip:not([hidden])")
    box = tip.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1440
    kernel.screenshot("flow_graph-norm-card", graph, tip)
    expect(graph.locator('.cw-fg-node[data-kind="ln"]')).to_have_count(
        int(kernel.run("print(len(w.result.filters))").text()))


def test_knowledge_neurons_are_found_and_linked_to_their_nodes(kernel, views):
    graph, _ = views
    rows = graph.locator(".cw-fg-kn-row")
    expect(rows).to_have_count(0)
    graph.get_by_role("button", name="Find knowledge neurons").click()
    expect(graph.locator(".cw-fg-kn-list")).to_have_attribute("data-count", "10", timeout=120_000)
    want = json.loads(kernel.run(
        "ids = {n.id for n in w.result.nodes}\n"
        "print(json.dumps([[f'L{l}N{n}', f'L{l}N{n}' in ids] for l, n in zip(w.knowledge.layers.tolist(), w.knowledge.neurons.tolist())]))"
    ).text())
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.id)") == [i for i, _ in want]
    for (neuron, drawn), status in zip(want, rows.evaluate_all("rs => rs.map(r => r.dataset.status)")):
        assert status == ("drawn" if drawn else "pruned"), neuron
    pruned = [i for i, d in want if not d]
    if pruned:
        expect(graph.locator(f'.cw-fg-kn-row[data-id="{pruned[0]}"] .cw-fg-kn-note')).to_have_text("not in the graph (pruned)")
    drawn = [i for i, d in want if d]
    assert drawn, "no knowledge neuron among the graph's neurons: widen the fixture's pruning"
    row = graph.locator(f'.cw-fg-kn-row[data-id="{drawn[0]}"]')
    row.hover()
    expect(node(graph, drawn[0])).to_have_class(re.compile(r"\bcw-fg-linked\b"))
    row.click()
    expect(graph).to_have_attribute("data-pinned", drawn[0])
    graph.locator(".cw-fg-kn-summary").hover()  # the pointer leaves the list: the pinned one stays
    expect(node(graph, drawn[0])).to_have_class(re.compile(r"\bcw-fg-linked\b"))
    expect(graph.locator(".cw-fg-linked")).to_have_count(1)
    kernel.screenshot("flow_graph-knowledge", graph)
    # and back: hovering another neuron node lights its row
    if len(drawn) > 1:
        node(graph, drawn[1]).hover()
        expect(graph.locator(f'.cw-fg-kn-row[data-id="{drawn[1]}"]')).to_have_class(re.compile(r"\bcw-fg-kn-linked\b"))
    row.click()  # unpin
    expect(graph).to_have_attribute("data-pinned", "")


def test_a_token_click_explains_that_position_and_a_layer_collapses(kernel, views):
    graph, _ = views
    graph.locator('.cw-token[data-index="12"]').click()
    expect(graph).to_have_attribute("data-position", "12")
    expect(graph.locator(".cw-fg-kn-row")).to_have_count(0)  # another prediction: the list goes
    assert py(kernel)["position"] == 12
    layer = graph.locator('.cw-fg-layer[data-layer="2"]')
    layer.click()
    expect(node(graph, "L2")).to_have_attribute("data-kind", "layer")
    expect(graph.locator('.cw-fg-node[data-layer="2"][data-kind="head"]')).to_have_count(0)
    node(graph, "L2").click()
    expect(node(graph, "L2")).to_have_count(0)
    # keys: focus a node, move right, open the card
    first = graph.locator(".cw-fg-node").first
    first.focus()
    graph.page.keyboard.press("ArrowRight")
    expect(graph.locator(".cw-fg-node:focus")).to_have_count(1)
    assert graph.locator(".cw-fg-node:focus").get_attribute("data-id") != first.get_attribute("data-id")
    expect(graph.page.locator(".cw-tooltip:not([hidden])")).to_be_visible()


def test_bad_input_keeps_the_last_graph(kernel, views):
    graph, _ = views
    out = kernel.run("try:\n    w.position = 999\nexcept Exception as e:\n    print(e)").text()
    assert "position 999 is out of range" in out
    kernel.run("w.text = ''")
    expect(graph).to_have_attribute("data-error", "true")
    expect(graph.locator(".cw-error-text")).to_contain_text("empty")
    expect(graph).to_have_attribute("data-position", "12")
    kernel.run("w.text = TEXT")
    expect(graph).to_have_attribute("data-error", "false")


def test_hostile_text_is_shown_as_text(kernel):
    view = kernel.run(f"h = cw.FlowGraph(model, {HOSTILE!r})\nh").output.locator(".cw-flow-graph")
    expect(view).to_have_attribute("data-ready", "true")
    assert view.locator("img, script, iframe").count() == 0
    expect(view.locator(".cw-token-strip")).to_contain_text("<img")


def test_static_export_prunes_and_links_offline(kernel, open_export, tmp_path):
    path = tmp_path / "flow.html"
    code = (
        "sel2 = cw.Selection()\n"
        "e1 = cw.FlowGraph(model, TEXT, position=30, selection=sel2)\n"
        "e2 = cw.AttentionExplorer(model, TEXT, selection=sel2)\n"
        f"cw.save_html([e1, e2], {str(path)!r})\n"
        "head = [h for h in e1.result.contributors() if h.kind == 'head'][0]\n"
        "print(head.layer, head.head)"
    )
    page, graph, explorer = open_export(kernel, code, path, ".cw-flow-graph", ".cw-attention-explorer")
    layer, head = kernel.run("print(head.layer, head.head)").text().split()
    node(graph, f"L{layer}H{head}").click()
    expect(explorer.locator(".cw-ae-head")).to_have_attribute("data-head", head)
    svg = graph.locator(".cw-fg-graph")
    before = int(svg.get_attribute("data-edges"))
    graph.get_by_role("slider").focus()
    page.keyboard.press("End")
    expect(graph).to_have_attribute("data-threshold", "1")
    assert int(svg.get_attribute("data-edges")) < before
    graph.locator('.cw-token[data-index="3"]').click()  # no kernel: the graph stays
    expect(graph).to_have_attribute("data-position", "30")
    assert page.blocked == [] and page.dialogs == []
