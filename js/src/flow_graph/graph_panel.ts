/**
 * FlowGraph's graph: an SVG of the shown nodes and edges (state.ts decides which and where).
 *
 * Every node is a `<g class="cw-fg-node">` with `data-id`, `data-kind`, `data-rank`,
 * `data-contribution` (and `data-layer`/`data-head`/`data-source`/`data-neuron` where it has
 * them); every edge a `<path class="cw-fg-edge">` with `data-source`, `data-target`,
 * `data-kind`, `data-score`. The nodes are one tab stop (the focused one): arrow keys move
 * (state.ts `neighbour`), Enter or Space clicks, Escape hides the card. A layer's title
 * collapses or expands it.
 */
import type { ColorScale } from "../kit/color_scale";
import { formatProbability } from "../kit/format";
import type { Tooltip, TooltipContent } from "../kit/tooltip";
import {
  clipToken, edgeWidth, largestScores, layout, neighbour, rankValue, shortName,
  type FlowNode, type Graph, type Layout, type NormFilter, type Shown, type TokenDelta,
} from "./state";

const SVG = "http://www.w3.org/2000/svg";
const RADIUS = 9;
/** Room for a node's two lines of text (the column is `GEOMETRY.column` wide). */
const LABEL_WIDTH = 72;

export interface GraphPanelOptions {
  tooltip: Tooltip;
  /** A node was clicked (or Enter pressed on it). */
  onActivate: (node: FlowNode) => void;
  /** A layer's title was clicked: collapse or expand it. */
  onToggleLayer: (layer: number) => void;
  /** The pointer (or focus) is on node `node`, or left the graph (`null`). */
  onHover?: (node: FlowNode | null) => void;
}

export interface DrawContext {
  graph: Graph;
  shown: Shown;
  tokens: readonly string[];
  vocab: ReadonlyMap<number, string>;
  dVocab: number;
  scale: ColorScale;
  collapsed: ReadonlySet<number>;
  selected: { layer: number | null; head: number | null };
}

export interface GraphPanel {
  readonly element: HTMLElement;
  readonly svg: SVGSVGElement;
  draw(context: DrawContext): void;
  /** Mark the selected head's node (no redraw). */
  markSelected(layer: number | null, head: number | null): void;
  /** Mark the nodes `ids` as linked to a hovered or picked knowledge neuron (no redraw). */
  markLinked(ids: ReadonlySet<string>): void;
  /** Scroll node `id` into view (if it is drawn). */
  reveal(id: string): void;
}

function svgEl<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "—");

/** The hover card of a node: what it is, its contribution, the target's probability and rank
 * in its projection, the entropy, and its top tokens. */
export function describeNode(n: FlowNode, ctx: Pick<DrawContext, "graph" | "vocab" | "tokens">): TooltipContent {
  const target = JSON.stringify(ctx.graph.targetStr);
  const rows: [string, string][] = [["kind", kindText(n)]];
  if (Number.isFinite(n.contribution)) rows.push([`contribution to ${target}`, `${fmt(n.contribution)} logits`]);
  if (n.kind === "memory") rows.push(["recalled token", `${n.source}: ${JSON.stringify(ctx.tokens[n.source as number] ?? "")}`]);
  rows.push([`P(${target})`, formatProbability(n.prob)], [`rank of ${target}`, Number.isFinite(n.rank) ? String(n.rank) : "—"]);
  rows.push(["entropy", `${fmt(n.entropy)} nats`]);
  n.top.forEach((t, i) => rows.push([`top ${i + 1}`, `${JSON.stringify(ctx.vocab.get(t.id) ?? `#${t.id}`)} ${formatProbability(t.prob)}`]));
  if (n.filter) rows.push(...filterRows(n.filter, ctx.vocab));
  const notes = [];
  if (n.kind === "layer") notes.push("the stream after this layer; click to expand the layer");
  if (n.kind === "head") notes.push("click to select this head");
  if (n.kind === "memory") notes.push("click to select the head with this key locked");
  if (n.alwaysOn) notes.push("always-on neuron: among the layer's most active on most tokens");
  if (n.filter) notes.push("raises/lowers: the tokens whose logit-lens probability this norm changes most here; control: the same for random vectors");
  return { title: n.label, rows, note: notes.join(" · ") || undefined };
}

const NORM_TEXT: Record<string, string> = {
  ln1: "norm before attention (ln1)", ln2: "norm before the MLP (ln2)", ln_final: "final norm",
};

function kindText(n: FlowNode): string {
  if (n.kind === "layer") return "layer (collapsed)";
  if (n.kind === "ln") return NORM_TEXT[n.norm ?? ""] ?? "norm";
  return n.kind.replace("_", " ");
}

/** A probability change in percentage points, signed: "+1.20 pp". */
export function formatDelta(delta: number): string {
  if (!Number.isFinite(delta)) return "—";
  return `${delta < 0 ? "−" : "+"}${(Math.abs(delta) * 100).toFixed(2)} pp`;
}

/** A norm node's card rows: the tokens it raises and lowers most, then the control's. */
export function filterRows(f: NormFilter, vocab: ReadonlyMap<number, string>): [string, string][] {
  const list = (tokens: readonly TokenDelta[]) =>
    tokens.map((t) => `${JSON.stringify(vocab.get(t.id) ?? `#${t.id}`)} ${formatDelta(t.delta)}`).join(", ");
  return [
    ["raises", list(f.raised)], ["lowers", list(f.lowered)],
    ["control raises", list(f.controlRaised)], ["control lowers", list(f.controlLowered)],
    ["raised by the control too", `${Math.round(f.overlap * 100)}%`],
  ];
}

function drawEdges(group: SVGGElement, ctx: DrawContext, lay: Layout) {
  const largest = largestScores(ctx.shown.edges);
  for (const e of ctx.shown.edges) {
    const a = lay.at.get(e.source);
    const b = lay.at.get(e.target);
    if (!a || !b) continue;
    const mid = (a.x + b.x) / 2;
    const path = svgEl("path", {
      class: `cw-fg-edge cw-fg-edge-${e.kind}`,
      d: `M${a.x + RADIUS},${a.y} C${mid},${a.y} ${mid},${b.y} ${b.x - RADIUS},${b.y}`,
      "stroke-width": edgeWidth(e.score, largest.get(e.kind) ?? 0).toFixed(2),
      "data-source": e.source, "data-target": e.target, "data-kind": e.kind, "data-score": String(e.score),
    });
    if (e.kind === "coefficient" && e.score < 0) path.classList.add("cw-fg-edge-negative");
    group.append(path);
  }
}

function drawNode(group: SVGGElement, n: FlowNode, ctx: DrawContext, x: number, y: number) {
  const g = svgEl("g", { class: `cw-fg-node cw-fg-kind-${n.kind}`, transform: `translate(${x},${y})`, tabindex: -1, role: "button" });
  const data: Record<string, number | string | null> = {
    id: n.id, kind: n.kind, rank: n.rank, prob: n.prob, contribution: n.contribution,
    layer: n.layer, head: n.head, source: n.source, neuron: n.neuron, norm: n.norm,
  };
  for (const [k, v] of Object.entries(data)) if (v !== null && !(typeof v === "number" && Number.isNaN(v))) g.dataset[k] = String(v);
  g.setAttribute("aria-label", `${n.label}: rank ${n.rank} of ${JSON.stringify(ctx.graph.targetStr)}`);
  const swatch = ctx.scale(rankValue(n.rank, ctx.dVocab));
  const shape = n.kind === "ln"
    ? svgEl("polygon", { points: `0,${-RADIUS} ${RADIUS},0 0,${RADIUS} ${-RADIUS},0` })
    : n.kind === "layer" || n.kind.startsWith("resid") || n.kind === "output"
      ? svgEl("rect", { x: -RADIUS, y: -RADIUS, width: 2 * RADIUS, height: 2 * RADIUS, rx: 3 })
      : svgEl("circle", { r: RADIUS });
  shape.setAttribute("class", "cw-fg-shape");
  shape.setAttribute("fill", swatch ? swatch.background : "var(--cw-surface, #eee)");
  const name = svgEl("text", { class: "cw-fg-name", x: RADIUS + 3, y: -2 });
  name.textContent = shortName(n, ctx.tokens);
  const top = svgEl("text", { class: "cw-fg-top", x: RADIUS + 3, y: 9 });
  top.textContent = n.top[0] ? clipToken(ctx.vocab.get(n.top[0].id) ?? `#${n.top[0].id}`, 12) : "";
  // The whole node answers the pointer: its shape and its two lines of text.
  const hit = svgEl("rect", { class: "cw-fg-hit", x: -RADIUS - 2, y: -RADIUS - 2, width: 2 * RADIUS + LABEL_WIDTH, height: 2 * RADIUS + 4 });
  g.append(hit, shape, name, top);
  if (n.alwaysOn) {
    g.classList.add("cw-fg-always-on");
    g.append(svgEl("circle", { class: "cw-fg-ring", r: RADIUS + 3 }));
  }
  group.append(g);
}

function drawLayerTitles(group: SVGGElement, ctx: DrawContext, lay: Layout) {
  for (const { layer, left, right } of lay.layers) {
    const open = !ctx.collapsed.has(layer);
    const g = svgEl("g", { class: "cw-fg-layer", tabindex: 0, role: "button", "data-layer": layer, "aria-expanded": String(open) });
    g.setAttribute("aria-label", `${open ? "collapse" : "expand"} layer ${layer}`);
    g.append(svgEl("rect", { class: "cw-fg-layer-band", x: left + 2, y: 6, width: right - left - 4, height: lay.height - 12, rx: 6 }));
    const title = svgEl("text", { class: "cw-fg-layer-title", x: (left + right) / 2, y: 24, "text-anchor": "middle" });
    title.textContent = `${open ? "▾" : "▸"} layer ${layer}`;
    g.append(title);
    group.append(g);
  }
}

export function createGraphPanel(parent: HTMLElement, options: GraphPanelOptions, signal: AbortSignal): GraphPanel {
  const element = document.createElement("div");
  element.className = "cw-fg-scroll";
  const svg = svgEl("svg", { class: "cw-fg-graph", role: "group", "aria-label": "flow graph" });
  svg.setAttribute("data-lm-suppress-shortcuts", "true");
  element.append(svg);
  parent.append(element);
  let ctx: DrawContext | null = null;
  let lay: Layout | null = null;
  let focused: string | null = null;
  const nodeById = new Map<string, FlowNode>();

  const nodeEl = (id: string) => svg.querySelector<SVGGElement>(`.cw-fg-node[data-id="${CSS.escape(id)}"]`);
  let linked: ReadonlySet<string> = new Set();
  const show = (g: SVGGElement) => {
    const n = nodeById.get(g.dataset.id ?? "");
    if (n && ctx) options.tooltip.show(g, describeNode(n, ctx));
    if (n) options.onHover?.(n);
  };
  const focus = (id: string) => {
    const g = nodeEl(id);
    if (!g) return;
    if (focused) nodeEl(focused)?.setAttribute("tabindex", "-1");
    focused = id;
    g.setAttribute("tabindex", "0");
    g.focus();
    show(g);
  };
  const nodeOf = (t: EventTarget | null) => (t instanceof Element ? t.closest<SVGGElement>(".cw-fg-node") : null);
  const layerOf = (t: EventTarget | null) => (t instanceof Element ? t.closest<SVGGElement>(".cw-fg-layer") : null);

  svg.addEventListener("pointerover", (e) => {
    const g = nodeOf(e.target);
    if (g) show(g);
  }, { signal });
  svg.addEventListener("pointerleave", () => {
    options.tooltip.hide();
    options.onHover?.(null);
  }, { signal });
  svg.addEventListener("click", (e) => {
    const g = nodeOf(e.target);
    const n = g ? nodeById.get(g.dataset.id ?? "") : undefined;
    if (n) options.onActivate(n);
    const band = layerOf(e.target);
    if (!g && band) options.onToggleLayer(Number(band.dataset.layer));
  }, { signal });
  svg.addEventListener("keydown", (e) => {
    const band = layerOf(e.target);
    if (band && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();
      options.onToggleLayer(Number(band.dataset.layer));
      return;
    }
    const g = nodeOf(e.target);
    if (!g || !lay) return;
    const id = g.dataset.id ?? "";
    if (e.key === "Enter" || e.key === " ") {
      const n = nodeById.get(id);
      if (n) options.onActivate(n);
    } else if (e.key === "Escape") options.tooltip.hide();
    else {
      const next = neighbour(lay, id, e.key);
      if (next === null) return;
      focus(next);
    }
    e.preventDefault();
    e.stopPropagation();
  }, { signal });
  svg.addEventListener("focusout", (e) => {
    if (!(e.relatedTarget instanceof Node && svg.contains(e.relatedTarget))) options.tooltip.hide();
  }, { signal });

  function draw(next: DrawContext) {
    ctx = next;
    lay = layout(next.shown, next.graph);
    nodeById.clear();
    for (const n of next.shown.nodes) nodeById.set(n.id, n);
    svg.setAttribute("viewBox", `0 0 ${lay.width} ${lay.height}`);
    svg.setAttribute("width", String(lay.width));
    svg.setAttribute("height", String(lay.height));
    const titles = svgEl("g", { class: "cw-fg-layers" });
    const edges = svgEl("g", { class: "cw-fg-edges" });
    const nodes = svgEl("g", { class: "cw-fg-nodes" });
    drawLayerTitles(titles, next, lay);
    drawEdges(edges, next, lay);
    for (const n of next.shown.nodes) {
      const p = lay.at.get(n.id);
      if (p) drawNode(nodes, n, next, p.x, p.y);
    }
    svg.replaceChildren(titles, edges, nodes);
    svg.dataset.nodes = String(next.shown.nodes.length);
    svg.dataset.edges = String(edges.childElementCount);
    const keep = focused && nodeById.has(focused) ? focused : next.shown.nodes[0]?.id;
    focused = keep ?? null;
    if (keep) nodeEl(keep)?.setAttribute("tabindex", "0");
    markSelected(next.selected.layer, next.selected.head);
    markLinked(linked);
  }

  function markLinked(ids: ReadonlySet<string>) {
    linked = ids;
    for (const g of svg.querySelectorAll<SVGGElement>(".cw-fg-node")) g.classList.toggle("cw-fg-linked", ids.has(g.dataset.id ?? ""));
  }

  function reveal(id: string) {
    nodeEl(id)?.scrollIntoView({ block: "nearest", inline: "center" });
  }

  function markSelected(layer: number | null, head: number | null) {
    for (const g of svg.querySelectorAll<SVGGElement>(".cw-fg-node[data-head]")) {
      const on = g.dataset.kind === "head" && Number(g.dataset.layer) === layer && Number(g.dataset.head) === head;
      g.classList.toggle("cw-fg-selected", on);
      g.setAttribute("aria-pressed", String(on));
    }
  }

  return { element, svg, draw, markSelected, markLinked, reveal };
}
