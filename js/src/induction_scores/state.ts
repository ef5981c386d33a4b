/**
 * InductionScores' pure logic: the kinds of head and how each is named and explained, the
 * guides (the cells each score counts) and which scores a cell counts for, the weight a cell
 * shows, the line that says what was run (unit-tested in js/tests/induction_scores.test.ts,
 * no browser needed).
 */
import { decode, type NDArray, type WireArray } from "../kit/decode";
import { formatProbability } from "../kit/format";
import type { Guide } from "../kit/heatmap";
import type { DiagonalRun } from "../kit/heatmap_layout";
import type { Mode } from "./experiment";

export type Kind = "induction" | "previous_token" | "duplicate_token";

/** Python `ScoresShown`: what the drawn data is (what a mode has not is null). */
export interface Shown {
  mode: Mode;
  seq: number;
  half?: number | null;
  seed?: number | null;
  batch?: number | null;
  queries?: Record<Kind, number> | null;
}

/** Python `KindScores`: every head's score of each kind, float32 [n_layers, n_heads]. */
export interface KindScores {
  induction: WireArray;
  previous_token: WireArray;
  duplicate_token: WireArray;
}

/** Python `TopHeads`: the heads listed beside the grid, [layer, head] best first. */
export interface TopHeads {
  induction: [number, number][];
  previous_token: [number, number][];
  duplicate_token: [number, number][];
}

/** Python `TargetRuns`: the cells each score counts, as diagonal runs [row, col, length]. */
export interface TargetRuns {
  induction: [number, number, number][];
  previous_token: [number, number, number][];
  duplicate_token: [number, number, number][];
}

export const KINDS: readonly Kind[] = ["induction", "previous_token", "duplicate_token"];

/** How each kind is named and explained (the grid's help line and the guide legend). */
export const TEXT: Record<Kind, { tab: string; short: string; help: string; guide: (s: Shown) => string }> = {
  induction: {
    tab: "Induction",
    short: "induction",
    help: "Attention from each repeated token to the token that followed its earlier copy — what an induction head copies to predict the next token.",
    guide: (s) =>
      s.mode === "random" && s.half != null
        ? `induction stripe: query i → key i − ${s.half - 1} (i − half + 1)`
        : "induction: the token after each earlier copy",
  },
  previous_token: {
    tab: "Previous token",
    short: "previous-token",
    help: "Attention from each token to the one just before it (counted on the second copy).",
    guide: () => "previous token: query i → key i − 1",
  },
  duplicate_token: {
    tab: "Duplicate token",
    short: "duplicate-token",
    help: "Attention from each repeated token to its own earlier copy.",
    guide: (s) =>
      s.mode === "random" && s.half != null
        ? `duplicate stripe: query i → key i − ${s.half} (i − half)`
        : "duplicate: the earlier copies of the same token",
  },
};

export const CAPTION: Record<Mode, string> = {
  random:
    "The model reads a run of random tokens and then the same run again, so in the second copy every token has been seen before. " +
    "A previous-token head looks one step back, and an induction head looks at the token that came right after the earlier copy of the current token — the one that comes next — which is how a model continues a pattern it has seen.",
  text:
    "Here the heads are scored on your text: only positions whose token already occurred earlier count for the induction and duplicate-token scores. " +
    "A head that looks at the token after an earlier copy of the current token is acting as an induction head on your text.",
};

export const PATTERN_CAPTION =
  "Each row is a query (a position reading), each column a key (a position read); darker means more attention. " +
  "Lines bracket the cells each score counts.";

export type Targets = TargetRuns;

/** The guides drawn over the pattern: every kind's but the duplicate-token one, which shows
 * only on its own tab; the open tab's is marked active. */
export function guidesFor(targets: Partial<Targets>, kind: Kind): Guide[] {
  return KINDS.filter((k) => k === kind || k !== "duplicate_token").map((k) => ({
    id: k,
    className: `cw-is-guide-${k}${k === kind ? " cw-is-guide-active" : ""}`,
    runs: (targets[k] ?? []).map(([row, col, length]): DiagonalRun => ({ row, col, length })),
  }));
}

/** The kinds whose score counts cell (row, col): those with a target run through it. */
export function kindsAt(targets: Partial<Targets>, row: number, col: number): Kind[] {
  return KINDS.filter((k) => (targets[k] ?? []).some(([r, c, n]) => row - col === r - c && row >= r && row < r + n));
}

/** The weight query `row` pays key `col` in an n x n pattern (NaN: masked). */
export const weightAt = (pattern: Float32Array, n: number, row: number, col: number) =>
  col > row ? NaN : (pattern[row * n + col] as number);

/** A pattern cell's hover rows. */
export function cellRows(row: number, col: number, w: number): [string, string][] {
  return [
    ["query", String(row)],
    ["key", String(col)],
    ["weight", col > row ? "masked" : formatProbability(w)],
  ];
}

/** The note under a cell's hover rows: which scores count it (undefined: none). */
export function countsFor(kinds: readonly Kind[]): string | undefined {
  return kinds.length ? `counts for the ${kinds.map((k) => TEXT[k].short).join(" and ")} score` : undefined;
}

/** What was run, for the meta line. */
export function shownText(s: Shown): string[] {
  return s.mode === "random"
    ? [`${s.batch} × random tokens repeated (BOS + 2 × ${s.half} = ${s.seq} tokens)`, `seed ${s.seed}`]
    : [`your text (${s.seq} tokens)`];
}

/** Why the pattern is not drawn: a static export without it, the kernel's refusal, or on its way. */
export function missingText(isStatic: boolean, error: string | undefined | null): string {
  return isStatic
    ? "This export does not hold this head's pattern (only every head's scores). Save a smaller experiment to embed every head."
    : error || "Fetching this head's pattern…";
}

/** `previous_token` -> `previousToken` (a dataset key, i.e. `data-previous-token`). */
export function camel(name: string): string {
  return name.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
}

/** Python `AblatedScores` (the synced `_ablated`): every head's scores with one head switched off. */
export interface AblatedWire {
  layer: number;
  head: number;
  mode: "zero" | "mean";
  run: number;
  scores: KindScores;
}

export interface Ablated {
  layer: number;
  head: number;
  mode: "zero" | "mean";
  scores: Map<Kind, NDArray>;
}

/** `_ablated` decoded, or null when off or about another run than the one drawn. */
export function readAblated(wire: AblatedWire | null | undefined, run: number): Ablated | null {
  if (!wire || wire.run !== run) return null;
  return { layer: wire.layer, head: wire.head, mode: wire.mode, scores: new Map(KINDS.map((k) => [k, decode(wire.scores[k])])) };
}

/** What the grid shows while a head is switched off. */
export function ablatedNote(a: Ablated): string {
  const how = a.mode === "zero" ? "zeroed" : "replaced by its mean";
  return `With L${a.layer}H${a.head} switched off (its output ${how}): every head's score on the same sequences. ` +
    "Heads up to its layer are unchanged; a later head whose score falls reads what it wrote. Hover a head for its score as measured.";
}
