/**
 * AttentionExplorer's pure logic: a head's pattern (full, or a preview from its thumbnail),
 * the weight at a (query, key), the shared query/key if this text has it, and the text of the
 * head's stats, the lock line and the hover cards (unit-tested in
 * js/tests/attention_explorer.test.ts, no browser needed).
 */
import { headValue, type NDArray } from "../kit/decode";
import { formatProbability } from "../kit/format";
import { upsample } from "../kit/heatmap_layout";
import type { GridLayer } from "../kit/heatmap_tiles";
import type { Score } from "./overview";

/** One head's pattern as the heatmap draws it. */
export interface HeadPattern {
  n: number;
  levels: Uint8Array;
  /** Exact weights (from float16), or null for a preview made from the thumbnail. */
  values: Float32Array | null;
  /** A long text's (long_text.ts): what the heatmap draws instead of `levels`, where each
   * weight comes from (full-resolution data only), and a way to ask for a row or column. */
  layers?: readonly GridLayer[];
  lookup?: (q: number, k: number) => { weight: number; source: string };
  want?: (axis: "row" | "column", i: number) => void;
}

export type Direction = "from" | "to";

/** A head's preview: its thumbnail `[T, T]` out of every head's `[L, H, T, T]`, upsampled to
 * `tokenCount` x `tokenCount` (null without thumbnails). */
export function previewPattern(thumbs: NDArray | null, nHeads: number, layer: number, head: number, tokenCount: number): HeadPattern | null {
  if (!thumbs) return null;
  const t = thumbs.shape[2] as number;
  const start = (layer * nHeads + head) * t * t;
  const block = (thumbs.data as Uint8Array).subarray(start, start + t * t);
  return { n: tokenCount, levels: upsample(block, t, tokenCount), values: null };
}

/** The weight query `q` pays key `k` (NaN: masked, out of range or no pattern); a preview's
 * is its block's largest level / 255; a long text's comes from full-resolution data only
 * (NaN until it is here). */
export function weightAt(pattern: HeadPattern | null, q: number, k: number): number {
  if (!pattern || q >= pattern.n || k >= pattern.n) return NaN;
  if (k > q) return NaN;
  if (pattern.lookup) return pattern.lookup(q, k).weight;
  const i = q * pattern.n + k;
  return pattern.values ? (pattern.values[i] as number) : (pattern.levels[i] as number) / 255;
}

/** A shared position if this text has it, else null. */
export const positionIn = (value: number | null, tokenCount: number) => (value !== null && value < tokenCount ? value : null);

/** A head's score with two decimals ("—" when not finite). */
export function formatScore(values: NDArray, layer: number, head: number): string {
  const v = headValue(values, layer, head);
  return Number.isFinite(v) ? v.toFixed(2) : "—";
}

/** The stats beside the head's title: entropy, BOS share and the score picked in the overview. */
export function headStats(scores: readonly Score[], picked: string, layer: number, head: number): string[] {
  return scores
    .filter((s) => s.spec.key === "entropy" || s.spec.key === "bos_share" || s.spec.key === picked)
    .map((s) => `${s.spec.label} ${formatScore(s.values, layer, head)}`);
}

/** The line under the heatmap: what is locked, and how to unlock it. */
export function lockText(q: number | null, k: number | null, tokens: readonly string[]): string {
  if (q === null && k === null) return "Click a cell to lock its query; click it again to unlock.";
  const parts = [];
  if (q !== null) parts.push(`query ${q} ${JSON.stringify(tokens[q] ?? "")}`);
  if (k !== null) parts.push(`key ${k} ${JSON.stringify(tokens[k] ?? "")}`);
  return `Locked: ${parts.join(", ")} — click the cell again to unlock.`;
}

/** A heatmap cell's hover rows. */
export function cellRows(q: number, k: number, w: number): [string, string][] {
  return [
    ["query", `${q}`],
    ["key", `${k}`],
    ["weight", k > q ? "masked" : formatProbability(w)],
  ];
}

/** The weight that colours token `i` of the strip when `source` is the focus: what `source`
 * pays `i` ("from"), or what `i` pays `source` ("to"). */
export function stripWeight(pattern: HeadPattern | null, direction: Direction, source: number, i: number): number {
  return direction === "from" ? weightAt(pattern, source, i) : weightAt(pattern, i, source);
}

/** A click on a cell locks its (query, key), or unlocks it when it is the locked one. */
export function lockCellChange(q: number | null, k: number | null, row: number, col: number) {
  return q === row && k === col ? { query: null, key: null } : { query: row, key: col };
}

/** The range of a score over its first `count` heads (finite values only; `hi = lo + 1` when
 * they are all equal), the domain of the chips' colours. */
export function scoreRange(values: NDArray, count: number): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < count; i++) {
    const v = (values.data[i] as number) * values.scale;
    if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  }
  if (!(hi > lo)) hi = lo + 1;
  return [lo, hi];
}

/** Items ordered by a score: highest first, except entropy (lowest first: the sharpest heads). */
export function sortByScore<T>(items: readonly T[], score: (item: T) => number, key: string): T[] {
  const sign = key === "entropy" ? 1 : -1;
  return [...items].sort((a, b) => sign * (score(a) - score(b)));
}
