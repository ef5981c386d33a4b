/**
 * LogitLens's pure logic: what the view derives from the synced state — the readout and
 * position shown, which pages still lack numbers and which to ask for next, the grid's shading
 * legend, the text of hover cards, labels and summaries (unit-tested in
 * js/tests/logit_lens_state.test.ts, no browser needed).
 */
import { formatProbability, formatSigned, formatTick } from "../kit/format";
import { applyStep, type GridStep } from "../kit/grid_keys";
import { tokenLabel } from "../kit/token_strip";
import { allReady, isHit, klAt, pageOf, pageSpan, topAt, type GridMode, type Lens, type Target } from "./data";
import type { Readout } from "./shared";

export interface ModeSpec {
  mode: GridMode;
  label: string;
  legend: string;
  help: string;
}

/** The grid's shading choices. */
export const MODES: readonly ModeSpec[] = [
  { mode: "top", label: "top-1 probability", legend: "P(top-1)", help: "Cells are shaded by how sure the readout is of its top guess." },
  { mode: "target_prob", label: "target probability", legend: "P(target)", help: "Cells are shaded by the target token's probability at that readout." },
  { mode: "target_rank", label: "target rank", legend: "rank of target", help: "Cells are shaded by the target's rank among all tokens: darkest = rank 1." },
  { mode: "kl", label: "KL to final", legend: "KL to final (nats)", help: "Cells are shaded by how far that readout's distribution is from the model's output (KL divergence)." },
];

export const modeSpec = (mode: GridMode): ModeSpec => MODES.find((m) => m.mode === mode) as ModeSpec;

export const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** A shared index if it is in range [0, count), else the last one. */
export function indexOr(value: number | null, count: number): number {
  return value !== null && value < count ? value : count - 1;
}

/** A probability as a short percentage for the row of guesses: "42%", "0.3%", "<0.1%". */
export function formatPercent(p: number): string {
  if (!Number.isFinite(p)) return "—";
  const pct = p * 100;
  if (pct >= 9.5) return `${Math.round(pct)}%`;
  if (pct >= 0.1) return `${pct.toFixed(1)}%`;
  return "<0.1%";
}

/** A signed number: "+1.50", "-0.25" (kit/format.ts). */
export const signed = formatSigned;

/** The slider's text for readout `r`: "after layer 1 (readout 2 of 4)". */
export function readoutText(readouts: readonly Readout[], r: number): string {
  return `${readouts[r]?.long ?? r} (readout ${r} of ${readouts.length - 1})`;
}

/** "At this readout the top guess is the real next token at 3 of 7 positions." ("" before any
 * position has arrived; "computed" while some are missing). */
export function hitSummary(lens: Lens, r: number): string {
  let hits = 0, total = 0;
  for (let i = 0; i + 1 < lens.positions; i++) {
    if (!lens.ready[i]) continue;
    total++;
    if (isHit(lens, r, i)) hits++;
  }
  const some = total < lens.positions - 1 ? " computed" : "";
  return total > 0 ? `At this readout the top guess is the real next token at ${hits} of ${total}${some} positions.` : "";
}

/** A guess's accessible name: `position 2 " cat": guesses " sat" 42%, correct`. */
export function guessLabel(i: number, token: string | undefined, guess: string, prob: number, hit: boolean | null): string {
  return `position ${i} ${JSON.stringify(token)}: guesses ${JSON.stringify(guess)} ${formatPercent(prob)}` +
    (hit === null ? "" : hit ? ", correct" : ", wrong");
}

/** ✓ for a guess that is the real next token, ✗ for one that is not, nothing at the end. */
export const hitMark = (hit: boolean | null) => (hit === null ? "" : hit ? "✓" : "✗");

export interface PageNeed {
  lens: boolean;
  /** The picked target's id when its numbers are missing on the page, else null. */
  target: number | null;
}

/** What page `n` still lacks (its lens and/or the picked target's numbers), or null. */
export function pageNeed(lens: Lens, target: Target, n: number, size: number): PageNeed | null {
  const { start, end } = pageSpan(n, size, lens.positions);
  const needLens = !allReady(lens.ready, start, end);
  const needTarget = target.arrays !== null && !allReady(target.arrays.ready, start, end);
  if (!needLens && !needTarget) return null;
  return { lens: needLens, target: needTarget ? target.arrays!.id : null };
}

/** The pages to ask for, in order: the one shown, then the ones on either side. */
export function pagesToAsk(page: number, positions: number, size: number): number[] {
  const last = lastPage(positions, size);
  return [page, page + 1, page - 1].filter((n) => n >= 0 && n <= last);
}

export const lastPage = (positions: number, size: number) => pageOf(positions - 1, size);

/** Whether every number the page `[start, end)` draws has arrived. */
export function pageComplete(lens: Lens, target: Target | null, start: number, end: number): boolean {
  return !!target && allReady(lens.ready, start, end) && (!target.arrays || allReady(target.arrays.ready, start, end));
}

/** How many positions' lens has arrived. */
export function readyCount(lens: Lens | null): number {
  let count = 0;
  for (const v of lens?.ready ?? []) count += v;
  return count;
}

/** The pager's line: "positions 480–511 of 512", with " · computing…" while incomplete. */
export function pagerText(start: number, end: number, total: number, complete: boolean): string {
  return `positions ${start}–${end - 1} of ${total}` + (complete ? "" : " · computing…");
}

/** Where a key on the row of guesses moves the position (null: not our key). */
export function guessKeyTarget(key: string, p: number, positions: number): number | null {
  const next: Record<string, number> = { ArrowRight: p + 1, ArrowLeft: p - 1, Home: 0, End: positions - 1 };
  return key in next ? clamp(next[key] as number, 0, positions - 1) : null;
}

/** Where a grid key (kit/grid_keys.ts) moves the (readout, position): over every position of
 * the text, not only the page shown; Home / End keep the readout. */
export function gridKeyTarget(step: GridStep, r: number, p: number, lens: Lens): { lens_layer?: number; position: number } {
  if (step === "home") return { position: 0 };
  if (step === "end") return { position: lens.positions - 1 };
  const to = applyStep(step, { row: r, col: p }, lens.readouts, lens.positions);
  return { lens_layer: to.row, position: to.col };
}

/** The legend of a shading: its ticks and their labels (rank shading is 1 - log(rank)/log(V),
 * labelled with ranks; KL is scaled by the largest KL). */
export function legendFor(mode: GridMode, dVocab: number, klMax: number): { title: string; ticks: number[]; format: (v: number) => string } {
  const title = modeSpec(mode).legend;
  const ticks = [0, 0.5, 1];
  if (mode === "target_rank") return { title, ticks, format: (v) => String(Math.round(Math.exp((1 - v) * Math.log(dVocab)))) };
  if (mode === "kl") return { title, ticks, format: (v) => (v * klMax).toFixed(klMax >= 10 ? 0 : 2) };
  return { title, ticks, format: formatTick };
}

/** The sentence that says which token the target is. */
export function targetExplained(target: Target | null, tokenStr: (id: number) => string): string {
  return target?.picked
    ? `Target: ${JSON.stringify(tokenStr(target.idAt(0)))} at every position.`
    : "Target: the model's final prediction at each position.";
}

/** The grid's help line for a shading (target shadings say which target). */
export function gridHelp(mode: GridMode, target: Target | null, tokenStr: (id: number) => string): string {
  return modeSpec(mode).help + (mode.startsWith("target") ? ` ${targetExplained(target, tokenStr)}` : "");
}

/** The most guesses a hover card lists (a card of 50 would not fit a laptop's screen). */
export const CARD_ROWS = 20;

/** A guess's hover card rows: the readout's top-k with their probabilities, at most
 * {@link CARD_ROWS} of them, then one row for the rest with their summed probability. */
export function guessCardRows(lens: Lens, r: number, i: number, tokenStr: (id: number) => string): [string, string][] {
  const rows: [string, string][] = [];
  let rest = 0;
  for (let j = 0; j < lens.k; j++) {
    const { id, prob } = topAt(lens, r, i, j);
    if (j < CARD_ROWS) rows.push([`${j + 1}. ${tokenLabel(tokenStr(id))}`, formatProbability(prob)]);
    else rest += prob;
  }
  if (lens.k > CARD_ROWS) rows.push([`… and ${lens.k - CARD_ROWS} more (together)`, formatProbability(rest)]);
  return rows;
}

/** A guess's hover card note: the readout, and what really came next. */
export function guessCardNote(lens: Lens, readouts: readonly Readout[], tokens: readonly string[], r: number, i: number): string {
  const next = i + 1 < lens.positions ? tokens[i + 1] ?? "" : null;
  return `${readouts[r]?.long ?? ""}` + (next === null ? " · last position: nothing follows" : ` · really next: ${tokenLabel(next)}`);
}

/** A grid cell's hover card rows: readout, top-1, the target's probability and rank, KL. */
export function cellCardRows(
  lens: Lens, target: Target, readouts: readonly Readout[], r: number, p: number, tokenStr: (id: number) => string,
): [string, string][] {
  const top = topAt(lens, r, p);
  return [
    ["readout", readouts[r]?.long ?? String(r)],
    ["top-1", `${tokenLabel(tokenStr(top.id))}  ${formatProbability(top.prob)}`],
    [`target ${tokenLabel(tokenStr(target.idAt(p)))}`, `${formatProbability(target.prob(r, p))} · rank ${target.rank(r, p)}`],
    ["KL to final", `${klAt(lens, r, p).toFixed(3)} nats`],
  ];
}

/** The target's probability and rank at every readout of position `p`. */
export function targetSeries(lens: Lens, target: Target, p: number): { probs: number[]; ranks: number[] } {
  const probs: number[] = [];
  const ranks: number[] = [];
  for (let i = 0; i < lens.readouts; i++) {
    probs.push(target.prob(i, p));
    ranks.push(target.rank(i, p));
  }
  return { probs, ranks };
}

/** A bar's fill as percentages of its track: centred at 50%, half the track = `limit`. */
export function barGeometry(value: number, limit: number): { left: string; width: string; up: boolean } {
  const half = (Math.abs(value) / limit) * 50;
  return { left: value >= 0 ? "50%" : `${50 - half}%`, width: `${half}%`, up: value >= 0 };
}
