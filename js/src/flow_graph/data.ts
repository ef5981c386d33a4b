/**
 * FlowGraph's wire form (circuitwidgets/widgets/_payloads.py `FlowGraphState.encode`) and its
 * decoding into the `Graph` of state.ts: one column per field, arrays as binary buffers.
 */
import { decode, valueAt, type Arrayish, type NDArray } from "../kit/decode";
import type { EdgeKind, FlowEdge, FlowNode, Graph, Knowledge, NodeKind, NormFilter, TokenDelta } from "./state";

/** The order of `edge_kind`'s codes (Python's `EDGE_KINDS`). */
export const EDGE_KINDS: readonly EdgeKind[] = ["attention", "coefficient", "writes", "norm"];

/** The norm nodes' filters, by node index. */
function readFilters(wire: FlowWire): Map<number, { norm: string; filter: NormFilter }> {
  const col = (a: Arrayish): NDArray => decode(a);
  const nodes = col(wire.ln_node);
  const overlap = col(wire.ln_overlap);
  const pairs = (ids: Arrayish, deltas: Arrayish, i: number): TokenDelta[] => {
    const [a, d] = [col(ids), col(deltas)];
    const k = a.shape[1] ?? 0;
    return Array.from({ length: k }, (_, j) => ({ id: valueAt(a, i * k + j), delta: valueAt(d, i * k + j) }));
  };
  const out = new Map<number, { norm: string; filter: NormFilter }>();
  for (let i = 0; i < nodes.data.length; i++) {
    out.set(valueAt(nodes, i), {
      norm: wire.ln_norm[i] ?? "",
      filter: {
        raised: pairs(wire.ln_raised_ids, wire.ln_raised, i), lowered: pairs(wire.ln_lowered_ids, wire.ln_lowered, i),
        controlRaised: pairs(wire.ln_control_raised_ids, wire.ln_control_raised, i),
        controlLowered: pairs(wire.ln_control_lowered_ids, wire.ln_control_lowered, i),
        overlap: valueAt(overlap, i),
      },
    });
  }
  return out;
}

export interface FlowWire {
  position: number;
  target: number;
  target_str: string;
  logit: number;
  layers: [number, number];
  ids: string[];
  kinds: NodeKind[];
  labels: string[];
  layer: Arrayish;
  head: Arrayish;
  source: Arrayish;
  neuron: Arrayish;
  contribution: Arrayish;
  prob: Arrayish;
  rank: Arrayish;
  entropy: Arrayish;
  top_ids: Arrayish;
  top_probs: Arrayish;
  always_on: Arrayish;
  edge_source: Arrayish;
  edge_target: Arrayish;
  edge_kind: Arrayish;
  score: Arrayish;
  edge_contribution: Arrayish;
  /** Per norm node: its node index, name and filter (`k` tokens a direction). */
  ln_node: Arrayish;
  ln_norm: string[];
  ln_overlap: Arrayish;
  ln_raised_ids: Arrayish;
  ln_raised: Arrayish;
  ln_lowered_ids: Arrayish;
  ln_lowered: Arrayish;
  ln_control_raised_ids: Arrayish;
  ln_control_raised: Arrayish;
  ln_control_lowered_ids: Arrayish;
  ln_control_lowered: Arrayish;
  vocab: { ids: Arrayish; strs: string[] };
}

/** The graph of a wire payload, and the display string of every token id in it. */
export function readGraph(wire: FlowWire): { graph: Graph; vocab: Map<number, string> } {
  const col = (a: Arrayish): NDArray => decode(a);
  const [layer, head, source, neuron] = [col(wire.layer), col(wire.head), col(wire.source), col(wire.neuron)];
  const [contribution, prob, rank, entropy] = [col(wire.contribution), col(wire.prob), col(wire.rank), col(wire.entropy)];
  const [topIds, topProbs, alwaysOn] = [col(wire.top_ids), col(wire.top_probs), col(wire.always_on)];
  const k = topIds.shape[1] ?? 0;
  const orNull = (a: NDArray, i: number) => (valueAt(a, i) < 0 ? null : valueAt(a, i));
  const filters = readFilters(wire);
  const nodes: FlowNode[] = wire.ids.map((id, i) => ({
    index: i, id, kind: wire.kinds[i] as NodeKind, label: wire.labels[i] ?? id,
    layer: orNull(layer, i), head: orNull(head, i), source: orNull(source, i), neuron: orNull(neuron, i),
    contribution: valueAt(contribution, i), prob: valueAt(prob, i), rank: valueAt(rank, i), entropy: valueAt(entropy, i),
    top: Array.from({ length: k }, (_, j) => ({ id: valueAt(topIds, i * k + j), prob: valueAt(topProbs, i * k + j) })),
    alwaysOn: valueAt(alwaysOn, i) !== 0,
    norm: filters.get(i)?.norm ?? null, filter: filters.get(i)?.filter ?? null,
  }));
  const [from, to, kind, score, edgeContribution] = [
    col(wire.edge_source), col(wire.edge_target), col(wire.edge_kind), col(wire.score), col(wire.edge_contribution),
  ];
  const edges: FlowEdge[] = Array.from({ length: from.data.length }, (_, i) => ({
    source: valueAt(from, i), target: valueAt(to, i), kind: EDGE_KINDS[valueAt(kind, i)] ?? "writes",
    score: valueAt(score, i), contribution: valueAt(edgeContribution, i),
  }));
  const ids = col(wire.vocab.ids);
  const vocab = new Map(wire.vocab.strs.map((s, i) => [valueAt(ids, i), s] as [number, string]));
  return {
    graph: { nodes, edges, position: wire.position, target: wire.target, targetStr: wire.target_str, logit: wire.logit, layers: wire.layers },
    vocab,
  };
}

/** FlowGraph's knowledge neurons on the wire (Python's `KnowledgeState.encode`). */
export interface KnowledgeWire {
  position: number;
  target: number;
  target_str: string;
  steps: number;
  ids: string[];
  layer: Arrayish;
  neuron: Arrayish;
  score: Arrayish;
  activation: Arrayish;
  top_ids: Arrayish;
  vocab: { ids: Arrayish; strs: string[] };
}

/** The knowledge neurons of a wire payload, and the display string of their tokens. */
export function readKnowledge(wire: KnowledgeWire): { knowledge: Knowledge; vocab: Map<number, string> } {
  const [layer, neuron, score, activation, top] = [wire.layer, wire.neuron, wire.score, wire.activation, wire.top_ids].map((a) => decode(a));
  const k = top?.shape[1] ?? 0;
  const rows = wire.ids.map((id, i) => ({
    id, layer: valueAt(layer as NDArray, i), neuron: valueAt(neuron as NDArray, i), score: valueAt(score as NDArray, i),
    activation: valueAt(activation as NDArray, i), top: Array.from({ length: k }, (_, j) => valueAt(top as NDArray, i * k + j)),
  }));
  const ids = decode(wire.vocab.ids);
  const vocab = new Map(wire.vocab.strs.map((s, i) => [valueAt(ids, i), s] as [number, string]));
  return { knowledge: { position: wire.position, target: wire.target, targetStr: wire.target_str, steps: wire.steps, rows }, vocab };
}
