/**
 * CompositionGraph's graph: a node per head (layers as columns, heads down), an SVG path per
 * edge (width: the excess; colour: the kind), and the strongest pairs as a list of buttons.
 *
 * Nodes are one tab stop (the selected head; the keys of `nodeMove` move it, and the
 * selection follows the focus). Each node is `g.cw-cg-node[data-layer][data-head]` named
 * "layer L head H"; each edge `g.cw-cg-edge[data-pair="l1 h1 l2 h2"][data-kind][data-excess]`
 * (a wide transparent stroke to click on, the drawn one inside).
 */
import { createPanel, type Panel } from "../kit/panel";
import type { GraphNow } from "./shared";
import { edgePath, headName, KIND_TEXT, nodeMove, nodePosition, pairOf, type Edge, type Head } from "./state";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 760;

export interface GraphPanel {
  readonly panel: Panel;
  readonly svg: SVGSVGElement;
  /** Draw `edges` (strongest first) for the model's shape. */
  draw(edges: readonly Edge[]): void;
  /** Mark the selected head and pair. */
  mark(): void;
}

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

export function createGraphPanel(parent: HTMLElement, now: GraphNow): GraphPanel {
  const panel = createPanel(parent, { className: "cw-cg-graph", title: "Heads that compose" });
  const svg = el("svg", { class: "cw-cg-svg", role: "group", "aria-label": "Composition graph: layers left to right, heads down" });
  const edgeLayer = el("g", { class: "cw-cg-edges" });
  const nodeLayer = el("g", { class: "cw-cg-nodes" });
  svg.append(edgeLayer, nodeLayer);
  const list = document.createElement("ol");
  list.className = "cw-cg-list";
  list.setAttribute("aria-label", "Strongest pairs");
  panel.body.append(svg, list);

  let nodes: SVGGElement[] = [];
  let edgeEls: SVGGElement[] = [];
  let shape = "";
  const L = () => now.model.get("n_layers");
  const H = () => now.model.get("n_heads");
  const height = () => Math.max(120, 36 + (H() - 1) * Math.max(14, Math.min(34, 420 / H())));
  const pos = (h: Head) => nodePosition(h, L(), H(), WIDTH, height());

  function buildNodes() {
    const key = `${L()}x${H()}`;
    if (key === shape) return;
    shape = key;
    svg.setAttribute("viewBox", `0 0 ${WIDTH} ${height() + 22}`);
    svg.setAttribute("width", String(WIDTH));
    svg.setAttribute("height", String(height() + 22));
    const r = Math.max(4, Math.min(9, 160 / H()));
    nodes = [];
    const labels: SVGTextElement[] = [];
    for (let layer = 0; layer < L(); layer++) {
      const label = el("text", { class: "cw-cg-layer", x: String(pos({ layer, head: 0 }).x), y: String(height() + 16), "text-anchor": "middle" });
      label.textContent = `L${layer}`;
      labels.push(label);
      for (let head = 0; head < H(); head++) {
        const { x, y } = pos({ layer, head });
        if (layer === 0 && H() <= 32) { // the heads named once, left of the first column
          const name = el("text", { class: "cw-cg-layer", x: String(x - r - 6), y: String(y + 4), "text-anchor": "end" });
          name.textContent = `H${head}`;
          labels.push(name);
        }
        const g = el("g", {
          class: "cw-cg-node", role: "button", tabindex: "-1", "aria-label": `layer ${layer} head ${head}`,
          "data-layer": String(layer), "data-head": String(head), "data-lm-suppress-shortcuts": "true",
        });
        g.append(el("circle", { cx: String(x), cy: String(y), r: String(r) }));
        g.addEventListener("click", () => now.pickHead({ layer, head }));
        g.addEventListener("mouseenter", () => now.tooltip.show(g, { title: `layer ${layer} head ${head}`, rows: [], note: "click to select it" }));
        g.addEventListener("mouseleave", () => now.tooltip.hide());
        nodes.push(g);
      }
    }
    nodeLayer.replaceChildren(...nodes, ...labels);
  }

  nodeLayer.addEventListener("keydown", (e) => {
    const next = nodeMove(e.key, now.selected(), L(), H(), e.ctrlKey || e.metaKey);
    if (next === null) return;
    e.preventDefault();
    e.stopPropagation();
    now.pickHead(next);
    nodes[next.layer * H() + next.head]?.focus();
  });

  function edgeRow(edge: Edge): HTMLLIElement {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "cw-cg-pair";
    b.dataset.pair = pairOf(edge).join(" ");
    b.dataset.kind = edge.kind;
    b.textContent = `${headName(edge.writer)} → ${headName(edge.reader)} · ${edge.kind} +${edge.excess.toFixed(3)}`;
    b.addEventListener("click", () => now.pickEdge(edge));
    li.append(b);
    return li;
  }

  function draw(edges: readonly Edge[]) {
    buildNodes();
    const limit = now.limit();
    // weakest first, so the strongest are drawn on top (and take the clicks)
    edgeEls = [...edges].reverse().map((edge) => {
      const d = edgePath(pos(edge.writer), pos(edge.reader));
      const g = el("g", {
        class: "cw-cg-edge", "data-pair": pairOf(edge).join(" "), "data-kind": edge.kind, "data-excess": String(edge.excess),
      });
      g.append(el("path", { class: "cw-cg-hit", d }), el("path", {
        class: `cw-cg-line cw-cg-${edge.kind}`, d, "stroke-width": (1 + 5 * Math.max(0, edge.excess) / limit).toFixed(2),
      }));
      g.addEventListener("click", () => now.pickEdge(edge));
      g.addEventListener("mouseenter", () => now.tooltip.show(g, {
        title: `${headName(edge.writer)} → ${headName(edge.reader)}`,
        rows: [["kind", edge.kind], ["score − baseline", edge.excess.toFixed(4)], ["score", (edge.excess + now.model.get("baseline")).toFixed(4)]],
        note: `${KIND_TEXT[edge.kind]}; click to select the pair`,
      }));
      g.addEventListener("mouseleave", () => now.tooltip.hide());
      return g;
    });
    edgeLayer.replaceChildren(...edgeEls);
    list.replaceChildren(...edges.slice(0, 10).map(edgeRow));
    mark();
  }

  function mark() {
    const sel = now.selected();
    const pair = now.pair();
    const inPair = (h: Head) => pair !== null && ((h.layer === pair.writer.layer && h.head === pair.writer.head) || (h.layer === pair.reader.layer && h.head === pair.reader.head));
    nodes.forEach((g, i) => {
      const h = { layer: Math.floor(i / H()), head: i % H() };
      const selected = h.layer === sel.layer && h.head === sel.head;
      g.classList.toggle("cw-cg-selected", selected);
      g.classList.toggle("cw-cg-in-pair", inPair(h));
      g.setAttribute("tabindex", selected ? "0" : "-1");
      g.setAttribute("aria-pressed", String(selected || inPair(h)));
    });
    const key = pair ? `${pair.writer.layer} ${pair.writer.head} ${pair.reader.layer} ${pair.reader.head}` : null;
    for (const g of edgeEls) {
      const [l1, h1, l2, h2] = (g.dataset.pair ?? "").split(" ").map(Number);
      const near = (l1 === sel.layer && h1 === sel.head) || (l2 === sel.layer && h2 === sel.head);
      g.classList.toggle("cw-cg-near", near);
      g.classList.toggle("cw-cg-picked", g.dataset.pair === key);
    }
    for (const b of list.querySelectorAll<HTMLButtonElement>(".cw-cg-pair")) b.setAttribute("aria-pressed", String(b.dataset.pair === key));
  }

  return { panel, svg, draw, mark };
}
