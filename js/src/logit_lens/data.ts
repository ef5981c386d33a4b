/**
 * The logit lens's numbers as the view reads them, free of the DOM (so vitest can check them).
 *
 * Python (circuitwidgets/widgets/logit_lens.py) sends `R = n_layers + 1` readouts x `P`
 * positions: the top-k tokens and probabilities of each, each position's final top-1 (the
 * default target) with its probability and rank at every readout, and the KL divergence to
 * the final distribution. A picked target comes with its own probability and rank arrays.
 */
import { decode, type NDArray, type WireArray } from "../kit/decode";

export interface VocabWire {
  ids: WireArray;
  strs: string[];
}

export interface LensWire {
  run: number;
  token_ids: WireArray;
  top_ids: WireArray;
  top_probs: WireArray;
  final_ids: WireArray;
  target_probs: WireArray;
  target_ranks: WireArray;
  kl: WireArray;
  vocab: VocabWire;
}

export interface TargetWire {
  run: number;
  id: number;
  str: string;
  probs: WireArray;
  ranks: WireArray;
}

export interface AttributionWire {
  run: number;
  position: number;
  target: number;
  target_str: string;
  logit: number;
  kinds: string[];
  labels: string[];
  layers: number[];
  heads: number[];
  values: WireArray;
  head_top_ids: WireArray;
  head_top_values: WireArray;
  vocab: VocabWire;
}

/** Add a payload's id -> display string table to `into`. */
export function addVocab(into: Map<number, string>, vocab: VocabWire): void {
  const ids = decode(vocab.ids).data;
  vocab.strs.forEach((s, i) => into.set(ids[i] as number, s));
}

export interface Lens {
  run: number;
  readouts: number;
  positions: number;
  k: number;
  tokenIds: NDArray;
  topIds: NDArray;
  topProbs: NDArray;
  finalIds: NDArray;
  targetProbs: NDArray;
  targetRanks: NDArray;
  kl: NDArray;
}

export function decodeLens(wire: LensWire): Lens {
  const topIds = decode(wire.top_ids);
  const [readouts, positions, k] = topIds.shape as [number, number, number];
  return {
    run: wire.run,
    readouts,
    positions,
    k,
    tokenIds: decode(wire.token_ids),
    topIds,
    topProbs: decode(wire.top_probs),
    finalIds: decode(wire.final_ids),
    targetProbs: decode(wire.target_probs),
    targetRanks: decode(wire.target_ranks),
    kl: decode(wire.kl),
  };
}

/** The `j`-th best token (0 = top-1) and its probability at readout `r`, position `p`. */
export function topAt(lens: Lens, r: number, p: number, j = 0): { id: number; prob: number } {
  const i = (r * lens.positions + p) * lens.k + j;
  return { id: lens.topIds.data[i] as number, prob: lens.topProbs.data[i] as number };
}

/** The token that actually comes after position `p`, or `null` at the last position. */
export function nextToken(lens: Lens, p: number): number | null {
  return p + 1 < lens.positions ? (lens.tokenIds.data[p + 1] as number) : null;
}

/** Whether the top-1 guess at (`r`, `p`) is the actual next token (`null`: nothing follows). */
export function isHit(lens: Lens, r: number, p: number): boolean | null {
  const next = nextToken(lens, p);
  return next === null ? null : topAt(lens, r, p).id === next;
}

/** The target's probability and rank at every readout and position: a picked target's, or
 * each position's final prediction. */
export interface Target {
  picked: boolean;
  /** Token id at position `p`. */
  idAt(p: number): number;
  prob(r: number, p: number): number;
  rank(r: number, p: number): number;
}

export function targetOf(lens: Lens, picked: TargetWire | null): Target {
  const P = lens.positions;
  if (picked && picked.run === lens.run) {
    const probs = decode(picked.probs), ranks = decode(picked.ranks);
    return {
      picked: true,
      idAt: () => picked.id,
      prob: (r, p) => probs.data[r * P + p] as number,
      rank: (r, p) => ranks.data[r * P + p] as number,
    };
  }
  return {
    picked: false,
    idAt: (p) => lens.finalIds.data[p] as number,
    prob: (r, p) => lens.targetProbs.data[r * P + p] as number,
    rank: (r, p) => lens.targetRanks.data[r * P + p] as number,
  };
}

/** What a grid cell is shaded by. */
export type GridMode = "top" | "target_prob" | "target_rank" | "kl";

/**
 * The shade of cell (`r`, `p`) in [0, 1] for `mode` (1 = strongest colour): the top-1 or
 * target probability; for rank, `1 - log(rank) / log(d_vocab)` (rank 1 -> 1, last -> 0);
 * for KL, `kl / klMax`.
 */
export function shade(lens: Lens, target: Target, mode: GridMode, r: number, p: number, dVocab: number, klMax: number): number {
  switch (mode) {
    case "top":
      return topAt(lens, r, p).prob;
    case "target_prob":
      return target.prob(r, p);
    case "target_rank":
      return dVocab > 1 ? 1 - Math.log(target.rank(r, p)) / Math.log(dVocab) : 1;
    case "kl":
      return klMax > 0 ? (lens.kl.data[r * lens.positions + p] as number) / klMax : 0;
  }
}

/** The largest KL in the lens (the top of the KL colour scale), at least a small floor. */
export function maxKl(lens: Lens): number {
  let max = 0;
  for (const v of lens.kl.data as Float32Array) if (v > max) max = v;
  return Math.max(max, 1e-6);
}

export interface Bar {
  index: number;
  kind: string;
  label: string;
  layer: number;
  head: number;
  value: number;
}

export interface Attribution {
  run: number;
  position: number;
  target: number;
  targetStr: string;
  logit: number;
  bars: Bar[];
  nHeads: number;
  headK: number;
  headTopIds: NDArray;
  headTopValues: NDArray;
}

export function decodeAttribution(wire: AttributionWire): Attribution {
  const values = decode(wire.values);
  const headTopIds = decode(wire.head_top_ids);
  const bars = wire.labels.map((label, i) => ({
    index: i,
    kind: wire.kinds[i] as string,
    label,
    layer: wire.layers[i] as number,
    head: wire.heads[i] as number,
    value: values.data[i] as number,
  }));
  return {
    run: wire.run,
    position: wire.position,
    target: wire.target,
    targetStr: wire.target_str,
    logit: wire.logit,
    bars,
    nHeads: headTopIds.shape[1] as number,
    headK: headTopIds.shape[2] as number,
    headTopIds,
    headTopValues: decode(wire.head_top_values),
  };
}

/**
 * The bars to draw, largest first: all of them, or the `limit` largest in size (|value|) —
 * then in order of value, so the biggest pushes up come first and the biggest pushes down last.
 */
export function barsToShow(bars: readonly Bar[], limit: number | null): Bar[] {
  const byValue = (a: Bar, b: Bar) => b.value - a.value;
  if (limit === null || bars.length <= limit) return [...bars].sort(byValue);
  return [...bars].sort((a, b) => Math.abs(b.value) - Math.abs(a.value)).slice(0, limit).sort(byValue);
}

/** A head's own top tokens at this position: `[{id, value}]`, best first. */
export function headTop(a: Attribution, layer: number, head: number): { id: number; value: number }[] {
  const start = (layer * a.nHeads + head) * a.headK;
  return Array.from({ length: a.headK }, (_, j) => ({
    id: a.headTopIds.data[start + j] as number,
    value: a.headTopValues.data[start + j] as number,
  }));
}

/** Whether a component has written to the residual stream by readout `r` (layers < r). */
export function writtenBy(bar: Bar, r: number): boolean {
  return bar.layer < 0 ? true : bar.layer < r;
}
