/**
 * The logit lens's numbers as the view reads them, free of the DOM (so vitest can check them).
 *
 * Python (circuitwidgets/widgets/logit_lens.py) sends `R = n_layers + 1` readouts x a page
 * of positions at a time: the top-k tokens and probabilities of each, each position's final
 * top-1 (the default target) with its probability and rank at every readout, and the KL
 * divergence to the final distribution. A picked target comes with its own probability and
 * rank arrays, also a page at a time. The view keeps arrays over the whole text and marks
 * which positions have arrived.
 */
import { decode, type Arrayish, type NDArray } from "../kit/decode";

export interface VocabWire {
  ids: Arrayish;
  strs: string[];
}

export interface LensWire {
  run: number;
  token_ids: Arrayish;
  /** The pages computed with the text (the selected position's; every page in an export). */
  pages: LensPageWire[];
  vocab: VocabWire;
}

/** `n` positions from `start`: top_ids/top_probs [R, n, k]; final_ids [n]; target_probs,
 * target_ranks, kl [R, n]. */
export interface LensPageWire {
  page: number;
  start: number;
  top_ids: Arrayish;
  top_probs: Arrayish;
  final_ids: Arrayish;
  target_probs: Arrayish;
  target_ranks: Arrayish;
  kl: Arrayish;
  vocab: VocabWire;
}

export interface TargetWire {
  run: number;
  id: number;
  str: string;
  pages: TargetPageWire[];
}

/** A picked target's probs/ranks [R, n] on the `n` positions from `start`. */
export interface TargetPageWire {
  page: number;
  start: number;
  id: number;
  probs: Arrayish;
  ranks: Arrayish;
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
  values: Arrayish;
  head_top_ids: Arrayish;
  head_top_values: Arrayish;
  vocab: VocabWire;
}

/** Add a payload's id -> display string table to `into`. */
export function addVocab(into: Map<number, string>, vocab: VocabWire): void {
  const ids = decode(vocab.ids).data;
  vocab.strs.forEach((s, i) => into.set(ids[i] as number, s));
}

/**
 * The lens of the whole text, filled in a page at a time: arrays over all `P` positions
 * (readout-major, `[R, P, k]` and `[R, P]`), and `ready[p]` = 1 once position `p` arrived.
 * Values at positions not ready are 0 and must not be shown.
 */
export interface Lens {
  run: number;
  readouts: number;
  positions: number;
  k: number;
  tokenIds: NDArray;
  topIds: Int32Array;
  topProbs: Float32Array;
  finalIds: Int32Array;
  targetProbs: Float32Array;
  targetRanks: Int32Array;
  kl: Float32Array;
  ready: Uint8Array;
}

/** An empty lens of `readouts` x the text's positions, then the pages the wire holds. */
export function decodeLens(wire: LensWire, readouts: number, k: number): Lens {
  const tokenIds = decode(wire.token_ids);
  const P = tokenIds.shape[0] as number;
  const lens: Lens = {
    run: wire.run,
    readouts,
    positions: P,
    k,
    tokenIds,
    topIds: new Int32Array(readouts * P * k),
    topProbs: new Float32Array(readouts * P * k),
    finalIds: new Int32Array(P),
    targetProbs: new Float32Array(readouts * P),
    targetRanks: new Int32Array(readouts * P),
    kl: new Float32Array(readouts * P),
    ready: new Uint8Array(P),
  };
  for (const page of wire.pages) addLensPage(lens, page);
  return lens;
}

/** Copy `n` positions' rows of a `[R, n, width]` array into `[R, P, width]` from `start`. */
function place(into: Int32Array | Float32Array, from: NDArray, start: number, P: number): void {
  const [R, n] = from.shape as [number, number];
  const width = from.shape.length > 2 ? (from.shape[2] as number) : 1;
  for (let r = 0; r < R; r++) {
    const row = from.data.subarray(r * n * width, (r + 1) * n * width);
    into.set(row, (r * P + start) * width);
  }
}

/** Put one page into the lens (its positions become ready). */
export function addLensPage(lens: Lens, page: LensPageWire): void {
  const P = lens.positions;
  const finals = decode(page.final_ids);
  const n = finals.shape[0] as number;
  place(lens.topIds, decode(page.top_ids), page.start, P);
  place(lens.topProbs, decode(page.top_probs), page.start, P);
  lens.finalIds.set(finals.data, page.start);
  place(lens.targetProbs, decode(page.target_probs), page.start, P);
  place(lens.targetRanks, decode(page.target_ranks), page.start, P);
  place(lens.kl, decode(page.kl), page.start, P);
  lens.ready.fill(1, page.start, page.start + n);
}

/** Whether every position in `[from, to)` has arrived. */
export function allReady(ready: Uint8Array, from: number, to: number): boolean {
  for (let p = from; p < to; p++) if (!ready[p]) return false;
  return true;
}

/** The page holding position `p`, and the positions `[start, end)` of page `page`. */
export const pageOf = (p: number, size: number) => Math.floor(p / size);
export function pageSpan(page: number, size: number, P: number): { start: number; end: number } {
  return { start: page * size, end: Math.min(P, (page + 1) * size) };
}

/** The `j`-th best token (0 = top-1) and its probability at readout `r`, position `p`. */
export function topAt(lens: Lens, r: number, p: number, j = 0): { id: number; prob: number } {
  const i = (r * lens.positions + p) * lens.k + j;
  return { id: lens.topIds[i] as number, prob: lens.topProbs[i] as number };
}

/** KL to the final distribution at readout `r`, position `p` (nats). */
export const klAt = (lens: Lens, r: number, p: number) => lens.kl[r * lens.positions + p] as number;

/** The token that actually comes after position `p`, or `null` at the last position. */
export function nextToken(lens: Lens, p: number): number | null {
  return p + 1 < lens.positions ? (lens.tokenIds.data[p + 1] as number) : null;
}

/** Whether the top-1 guess at (`r`, `p`) is the actual next token (`null`: nothing follows,
 * or `p` has not arrived). */
export function isHit(lens: Lens, r: number, p: number): boolean | null {
  const next = nextToken(lens, p);
  return next === null || !lens.ready[p] ? null : topAt(lens, r, p).id === next;
}

/** The target's probability and rank at every readout and position: a picked target's, or
 * each position's final prediction. */
export interface Target {
  picked: boolean;
  /** Token id at position `p` (-1: not known yet). */
  idAt(p: number): number;
  /** Whether position `p`'s numbers have arrived. */
  ready(p: number): boolean;
  prob(r: number, p: number): number;
  rank(r: number, p: number): number;
  /** The picked target's arrays (null: the final predictions, read from the lens). */
  readonly arrays: { id: number; probs: Float32Array; ranks: Int32Array; ready: Uint8Array } | null;
}

export function targetOf(lens: Lens, picked: TargetWire | null): Target {
  const P = lens.positions;
  if (picked && picked.run === lens.run) {
    const R = lens.readouts;
    const arrays = { id: picked.id, probs: new Float32Array(R * P), ranks: new Int32Array(R * P), ready: new Uint8Array(P) };
    const target: Target = {
      picked: true,
      arrays,
      idAt: () => picked.id,
      ready: (p) => arrays.ready[p] === 1,
      prob: (r, p) => arrays.probs[r * P + p] as number,
      rank: (r, p) => arrays.ranks[r * P + p] as number,
    };
    for (const page of picked.pages) addTargetPage(target, page, P);
    return target;
  }
  return {
    picked: false,
    arrays: null,
    idAt: (p) => (lens.ready[p] ? (lens.finalIds[p] as number) : -1),
    ready: (p) => lens.ready[p] === 1,
    prob: (r, p) => lens.targetProbs[r * P + p] as number,
    rank: (r, p) => lens.targetRanks[r * P + p] as number,
  };
}

/** Put one page of a picked target in (ignored if it is about another token). */
export function addTargetPage(target: Target, page: TargetPageWire, P: number): void {
  const a = target.arrays;
  if (!a || page.id !== a.id) return;
  const probs = decode(page.probs);
  place(a.probs, probs, page.start, P);
  place(a.ranks, decode(page.ranks), page.start, P);
  a.ready.fill(1, page.start, page.start + (probs.shape[1] as number));
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
      return klMax > 0 ? klAt(lens, r, p) / klMax : 0;
  }
}

/** The largest KL of the positions arrived so far (the top of the KL colour scale; positions
 * not ready hold 0), at least a small floor. */
export function maxKl(lens: Lens): number {
  let max = 0;
  for (const v of lens.kl) if (v > max) max = v;
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
