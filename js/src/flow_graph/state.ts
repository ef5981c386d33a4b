/**
 * FlowGraph's pure logic: which nodes and edges are shown (the threshold, collapsed layers),
 * where they go (columns left to right, rows around the residual stream's spine), how wide an
 * edge is, how a node is coloured and named, and where the arrow keys move. No DOM here:
 * unit-tested in js/tests/flow_graph.test.ts.
 */

export type NodeKind =
  | "embed" | "resid_pre" | "ln" | "head" | "memory" | "attn_bias" | "attn_out" | "resid_mid"
  | "neuron" | "mlp_bias" | "mlp_out" | "resid_post" | "output" | "layer";
export type EdgeKind = "attention" | "coefficient" | "writes" | "norm";

/** Kinds read as the logit lens of a residual stream (no contribution of their own); a norm
 * node ("ln") reads its norm's output that way. */
export const STREAM_KINDS: ReadonlySet<NodeKind> = new Set(["resid_pre", "ln", "resid_mid", "resid_post", "output"]);

/** A token and how much a norm changes its probability (after − before). */
export interface TokenDelta {
  id: number;
  delta: number;
}

/** What a norm does to the word reading (Python's `NormFilter`): the tokens it raises and
 * lowers most, the same for random vectors (the control), and the share of `raised` the
 * control raises too. */
export interface NormFilter {
  raised: TokenDelta[];
  lowered: TokenDelta[];
  controlRaised: TokenDelta[];
  controlLowered: TokenDelta[];
  overlap: number;
}

export interface TopToken {
  id: number;
  prob: number;
}

export interface FlowNode {
  /** Index in the graph's nodes (-1 for a collapsed layer's node, made here). */
  index: number;
  id: string;
  kind: NodeKind;
  label: string;
  layer: number | null;
  head: number | null;
  source: number | null;
  neuron: number | null;
  /** Direct contribution to the target's logit (NaN for a stream node). */
  contribution: number;
  prob: number;
  rank: number;
  entropy: number;
  top: TopToken[];
  alwaysOn: boolean;
  /** A norm node's norm ("ln1", "ln2", "ln_final") and filter; null for other nodes. */
  norm: string | null;
  filter: NormFilter | null;
}

export interface FlowEdge {
  source: number;
  target: number;
  kind: EdgeKind;
  score: number;
  contribution: number;
}

export interface Graph {
  nodes: FlowNode[];
  edges: FlowEdge[];
  position: number;
  target: number;
  targetStr: string;
  logit: number;
  layers: [number, number];
}

/** A node on screen: a node of the graph, or a collapsed layer's node. */
export interface ShownEdge {
  source: string;
  target: string;
  kind: EdgeKind;
  score: number;
}

export interface Shown {
  nodes: FlowNode[];
  edges: ShownEdge[];
}

/** One knowledge neuron of the list (Python's `KnowledgeNeurons`, highest first). */
export interface KnowledgeRow {
  id: string;
  layer: number;
  neuron: number;
  score: number;
  activation: number;
  /** The tokens its value vector promotes most. */
  top: number[];
}

export interface Knowledge {
  position: number;
  target: number;
  targetStr: string;
  steps: number;
  rows: KnowledgeRow[];
}

/** Where a knowledge neuron is: drawn, in the graph but hidden (the threshold, a collapsed
 * layer), or left out by the graph's pruning. */
export type KnowledgeStatus = "drawn" | "hidden" | "pruned";

export function knowledgeStatus(id: string, graph: Graph, shown: Shown): KnowledgeStatus {
  if (shown.nodes.some((n) => n.id === id)) return "drawn";
  return graph.nodes.some((n) => n.id === id) ? "hidden" : "pruned";
}

/** The largest |contribution| of the graph's writers (0 when none has one). */
export function largestContribution(graph: Graph): number {
  let max = 0;
  for (const n of graph.nodes) if (Number.isFinite(n.contribution) && !STREAM_KINDS.has(n.kind)) max = Math.max(max, Math.abs(n.contribution));
  return max;
}

/** The node standing for collapsed layer `layer`: its attention and MLP outputs' contributions
 * summed; its colour, rank and top tokens those of the stream after it. */
export function layerNode(graph: Graph, layer: number): FlowNode {
  let contribution = 0;
  let after: FlowNode | undefined;
  for (const n of graph.nodes) {
    if (n.layer !== layer) continue;
    if (n.kind === "attn_out" || n.kind === "mlp_out") contribution += n.contribution;
    if (n.kind === "resid_post") after = n;
  }
  return {
    index: -1, id: `L${layer}`, kind: "layer", label: `layer ${layer}`, layer, head: null, source: null, neuron: null,
    contribution, prob: after?.prob ?? NaN, rank: after?.rank ?? NaN, entropy: after?.entropy ?? NaN,
    top: after?.top ?? [], alwaysOn: false, norm: null, filter: null,
  };
}

/** Whether node `n` lives inside its layer (collapsing the layer hides it): everything of a
 * layer but the stream after it (and the stream before the first layer drawn). */
function inside(n: FlowNode): boolean {
  return n.layer !== null && n.kind !== "resid_post" && n.kind !== "resid_pre";
}

/** Kinds always drawn, whatever the threshold: the streams and the sums written into them. */
const STRUCTURE: ReadonlySet<NodeKind> = new Set([...STREAM_KINDS, "embed", "attn_out", "mlp_out"]);

/**
 * What is drawn: stream nodes, the embedding and the attention and MLP outputs always; a writer when its |contribution| is at least `threshold`
 * (0..1) of the largest, and a memory value only with its head; a collapsed layer as one node
 * (`layerNode`) with the edges into and out of it merged (the widest kept). An edge is drawn
 * when both its ends are.
 */
export function visible(graph: Graph, threshold: number, collapsed: ReadonlySet<number>): Shown {
  const cut = threshold * largestContribution(graph);
  const keyOf = new Map<number, string>();
  const nodes: FlowNode[] = [];
  const layerShown = new Set<number>();
  const passes = (n: FlowNode) => STRUCTURE.has(n.kind) || !(Math.abs(n.contribution) < cut) || cut === 0;
  const headKey = new Map<string, boolean>();
  for (const n of graph.nodes) if (n.kind === "head") headKey.set(`${n.layer}.${n.head}`, passes(n));
  for (const n of graph.nodes) {
    if (inside(n) && collapsed.has(n.layer as number)) {
      keyOf.set(n.index, `L${n.layer}`);
      if (!layerShown.has(n.layer as number)) {
        layerShown.add(n.layer as number);
        nodes.push(layerNode(graph, n.layer as number));
      }
      continue;
    }
    if (!passes(n)) continue;
    if (n.kind === "memory" && !headKey.get(`${n.layer}.${n.head}`)) continue;
    keyOf.set(n.index, n.id);
    nodes.push(n);
  }
  const merged = new Map<string, ShownEdge>();
  for (const e of graph.edges) {
    const source = keyOf.get(e.source);
    const target = keyOf.get(e.target);
    if (source === undefined || target === undefined || source === target) continue;
    const key = `${source}\u0000${target}`;
    const had = merged.get(key);
    if (!had || Math.abs(e.score) > Math.abs(had.score)) merged.set(key, { source, target, kind: e.kind, score: e.score });
  }
  return { nodes, edges: [...merged.values()] };
}

/** A node's slot inside its layer, left to right (the stream before a layer is slot -1 of it). */
const SLOT: Record<NodeKind, number> = {
  embed: -2, resid_pre: -1, ln: -0.5, memory: 0, head: 1, attn_bias: 2, attn_out: 2, resid_mid: 3,
  neuron: 4, mlp_bias: 5, mlp_out: 5, layer: 2, resid_post: 6, output: 0,
};
/** Kinds drawn on the spine (the residual stream's row). */
const SPINE: ReadonlySet<NodeKind> = new Set(["embed", "resid_pre", "ln", "resid_mid", "resid_post", "output", "attn_out", "mlp_out", "layer"]);

export interface Placed {
  x: number;
  y: number;
  column: number;
}

export interface Layout {
  at: Map<string, Placed>;
  width: number;
  height: number;
  spine: number;
  /** Each layer drawn: the x range of its columns. */
  layers: { layer: number; left: number; right: number }[];
  /** Node ids by column, top to bottom (for the arrow keys). */
  columns: string[][];
}

export const GEOMETRY = { column: 104, row: 30, margin: 28, top: 40 } as const;

/** The order inside a column, top to bottom (spine first; memory values grouped by head). */
function rowOrder(a: FlowNode, b: FlowNode): number {
  const spine = Number(SPINE.has(b.kind)) - Number(SPINE.has(a.kind));
  if (spine !== 0) return spine;
  return (a.head ?? -1) - (b.head ?? -1) || (a.source ?? -1) - (b.source ?? -1) || (a.neuron ?? -1) - (b.neuron ?? -1) || a.index - b.index;
}

/** Where each shown node goes: a column per (layer, slot) in use, in forward order; in each
 * column the spine node (if any) on the spine and the others below it, or, in a column
 * without one (heads, memory values, neurons), centred on the spine. */
export function layout(shown: Shown, graph: Graph): Layout {
  const [start, stop] = graph.layers;
  // ln1 sits between the stream and the heads (SLOT), ln2 between the middle stream and the
  // neurons, the final norm between the last stream and the output.
  const keyOf = (n: FlowNode) => {
    if (n.kind === "output") return stop * 10;
    if (n.kind === "ln" && n.layer === null) return stop * 10 - 1;
    const slot = n.kind === "ln" && n.norm === "ln2" ? 3.5 : SLOT[n.kind];
    return (n.layer ?? start) * 10 + slot + 2;
  };
  const keys = [...new Set(shown.nodes.map(keyOf))].sort((a, b) => a - b);
  const column = new Map(keys.map((k, i) => [k, i]));
  const byColumn: FlowNode[][] = keys.map(() => []);
  for (const n of shown.nodes) byColumn[column.get(keyOf(n)) as number]?.push(n);
  let above = 0;
  let below = 0;
  for (const col of byColumn) {
    col.sort(rowOrder);
    if (col.some((n) => SPINE.has(n.kind))) below = Math.max(below, col.length - 1);
    else {
      above = Math.max(above, (col.length - 1) / 2);
      below = Math.max(below, (col.length - 1) / 2);
    }
  }
  const { column: cw, row, margin, top } = GEOMETRY;
  const spine = top + margin + above * row;
  const at = new Map<string, Placed>();
  byColumn.forEach((col, c) => {
    const hasSpine = col.some((n) => SPINE.has(n.kind));
    col.forEach((n, i) => {
      const offset = hasSpine ? i : i - (col.length - 1) / 2;
      at.set(n.id, { x: margin + c * cw + cw / 2, y: spine + offset * row, column: c });
    });
  });
  const spans = new Map<number, { left: number; right: number }>();
  for (const n of shown.nodes) {
    if (n.layer === null || n.kind === "resid_pre" || n.kind === "embed") continue;
    const p = at.get(n.id) as Placed;
    const s = spans.get(n.layer) ?? { left: Infinity, right: -Infinity };
    spans.set(n.layer, { left: Math.min(s.left, p.x - cw / 2), right: Math.max(s.right, p.x + cw / 2) });
  }
  return {
    at, spine, width: 2 * margin + keys.length * cw, height: spine + below * row + margin,
    layers: [...spans].sort((a, b) => a[0] - b[0]).map(([layer, s]) => ({ layer, ...s })),
    columns: byColumn.map((col) => col.map((n) => n.id)),
  };
}

/** The layers collapsed when a graph is first drawn: all of them past `collapseAt` layers. */
export function initialCollapsed(layers: [number, number], collapseAt: number): Set<number> {
  const [start, stop] = layers;
  if (stop - start <= collapseAt) return new Set();
  return new Set(Array.from({ length: stop - start }, (_, i) => start + i));
}

/** An edge's width in px: 1 to 6, by |score| over the largest |score| of its kind drawn. */
export function edgeWidth(score: number, largest: number): number {
  if (!(largest > 0)) return 1;
  return 1 + 5 * Math.min(1, Math.abs(score) / largest);
}

/** The largest |score| of each edge kind in `edges`. */
export function largestScores(edges: readonly ShownEdge[]): Map<EdgeKind, number> {
  const out = new Map<EdgeKind, number>();
  for (const e of edges) out.set(e.kind, Math.max(out.get(e.kind) ?? 0, Math.abs(e.score)));
  return out;
}

/** 0..1 for colouring by the target's rank (VISIT): 1 at rank 1, 0 at the last of `dVocab`,
 * on a log scale (ranks 1, 10, 100 ... evenly spaced); NaN without a rank. */
export function rankValue(rank: number, dVocab: number): number {
  if (!(rank >= 1) || !(dVocab > 1)) return NaN;
  return 1 - Math.log(Math.min(rank, dVocab)) / Math.log(dVocab);
}

/** Token text drawn next to a node: quoted, at most `max` characters (the card has it whole). */
export function clipToken(text: string, max = 10): string {
  const quoted = JSON.stringify(text);
  return quoted.length <= max ? quoted : `${quoted.slice(0, max - 2)}…"`;
}

/** The short name drawn next to a node (its hover card has the rest). */
export function shortName(n: FlowNode, tokens: readonly string[]): string {
  switch (n.kind) {
    case "head": return `H${n.head}`;
    case "memory": return `@${n.source} ${clipToken(tokens[n.source as number] ?? "")}`;
    case "neuron": return `N${n.neuron}`;
    case "attn_out": return "attn";
    case "mlp_out": return "MLP";
    case "attn_bias": case "mlp_bias": return "bias";
    case "resid_mid": return "mid";
    case "ln": return n.norm === "ln_final" ? "final norm" : n.norm ?? "norm";
    case "layer": return `L${n.layer}`;
    case "embed": return "embed";
    case "output": return "output";
    default: return "resid";
  }
}

/** What a click on node `n` does. */
export type Action =
  | { kind: "head"; layer: number; head: number }
  | { kind: "memory"; layer: number; head: number; query: number; key: number }
  | { kind: "expand"; layer: number }
  | null;

export function actionOf(n: FlowNode, position: number): Action {
  if (n.kind === "head") return { kind: "head", layer: n.layer as number, head: n.head as number };
  if (n.kind === "memory") return { kind: "memory", layer: n.layer as number, head: n.head as number, query: position, key: n.source as number };
  if (n.kind === "layer") return { kind: "expand", layer: n.layer as number };
  return null;
}

/** Where an arrow key moves the focus from node `id`: ↑ ↓ within its column (stopping at the
 * ends), ← → to the nearest node (by row) of the next column, Home / End to the first / last
 * column's spine; `null` for other keys. */
export function neighbour(lay: Layout, id: string, key: string): string | null {
  const here = lay.at.get(id);
  const first = (c: number) => lay.columns[c]?.[0] ?? null;
  if (!here) return first(0);
  const col = lay.columns[here.column] ?? [];
  const i = col.indexOf(id);
  const distance = (other: string) => Math.abs((lay.at.get(other)?.y ?? Infinity) - here.y);
  const nearest = (c: number) => {
    const ids = lay.columns[c] ?? [];
    let best: string | null = null;
    for (const other of ids) if (best === null || distance(other) < distance(best)) best = other;
    return best;
  };
  switch (key) {
    case "ArrowUp": return col[Math.max(0, i - 1)] ?? null;
    case "ArrowDown": return col[Math.min(col.length - 1, i + 1)] ?? null;
    case "ArrowLeft": return nearest(Math.max(0, here.column - 1));
    case "ArrowRight": return nearest(Math.min(lay.columns.length - 1, here.column + 1));
    case "Home": return first(0);
    case "End": return first(lay.columns.length - 1);
    default: return null;
  }
}
