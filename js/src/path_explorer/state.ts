/**
 * PathExplorer's pure logic (unit-tested in js/tests/path_explorer.test.ts): the waterfall's
 * rows and geometry, what a click on a bar selects, the keys that move between bars, the text
 * of modes, bars and hover cards, and the check of a position against the text.
 */
import { formatSigned } from "../kit/format";
import type { SelectionChanges } from "../kit/selection";
import type { Mode, Term, TermKind } from "./shared";

/** The two readings, in the toggle's order. */
export const MODES: readonly { value: Mode; text: string; help: string }[] = [
  {
    value: "frozen",
    text: "frozen attention",
    help: "Exact: every head keeps the attention pattern the model computed on this text; the terms add up to the model's logit.",
  },
  {
    value: "weights",
    text: "weights only",
    help: "The OV circuits alone: every head attends evenly to the text so far (no QK circuit); the terms add up to that computation's logit, not the model's.",
  },
];

/** One row of the waterfall: a term (or the rest summed, or the total) and where its bar runs. */
export interface Row {
  label: string;
  kind: TermKind | "rest" | "total";
  value: number;
  /** The running sum before and after this row (the total's runs from 0). */
  start: number;
  end: number;
  term: Term | null;
  /** How many terms "the rest" sums. */
  count?: number;
}

/** The first `limit` terms one by one (all of them for `null`), the rest summed in one row,
 * and the total: each bar runs from the running sum before it to the one after. */
export function waterfall(terms: readonly Term[], limit: number | null): Row[] {
  const shown = limit === null ? terms : terms.slice(0, limit);
  const rest = terms.slice(shown.length);
  const rows: Row[] = [];
  let sum = 0;
  for (const term of shown) {
    rows.push({ label: term.label, kind: term.kind, value: term.value, start: sum, end: sum + term.value, term });
    sum += term.value;
  }
  if (rest.length > 0) {
    const value = rest.reduce((s, t) => s + t.value, 0);
    rows.push({ label: `the other ${rest.length} terms`, kind: "rest", value, start: sum, end: sum + value, term: null, count: rest.length });
    sum += value;
  }
  rows.push({ label: "logit", kind: "total", value: sum, start: 0, end: sum, term: null });
  return rows;
}

/** The axis of the waterfall: from the lowest to the highest running sum, 0 included. */
export function extent(rows: readonly Row[]): [number, number] {
  let lo = 0, hi = 0;
  for (const r of rows) {
    lo = Math.min(lo, r.start, r.end);
    hi = Math.max(hi, r.start, r.end);
  }
  if (hi - lo < 1e-9) hi = lo + 1;
  return [lo, hi];
}

/** Where a row's bar sits on the axis, as CSS percentages, and which way it points. */
export function barGeometry(row: Row, [lo, hi]: [number, number]): { left: string; width: string; up: boolean } {
  const a = Math.min(row.start, row.end), b = Math.max(row.start, row.end);
  const pct = (x: number) => ((x - lo) / (hi - lo)) * 100;
  return { left: `${pct(a).toFixed(3)}%`, width: `${Math.max(0.25, pct(b) - pct(a)).toFixed(3)}%`, up: row.value >= 0 };
}

/** What a click on a term's bar writes into the shared selection: a head's own layer and head;
 * a pair's *second* head (the one reading the first through its value); nothing for the rest. */
export function selectionFor(term: Term | null): { layer: number; head: number } | null {
  if (!term) return null;
  if (term.kind === "head" && term.layer !== undefined && term.head !== undefined) return { layer: term.layer, head: term.head };
  if (term.kind === "pair" && term.pair) return { layer: term.pair[2], head: term.pair[3] };
  return null;
}

/** What a click on a bar writes into the selection: a head's bar its head (and no pair), a
 * pair's bar the pair (both heads; its second is then the selected head); null for sums. */
export function changesFor(term: Term | null): SelectionChanges | null {
  if (term?.kind === "pair" && term.pair) return { pair: [...term.pair] };
  const s = selectionFor(term);
  return s ? { layer: s.layer, head: s.head, pair: [] } : null;
}

/** Whether a bar is selected: a pair's bar when the selection holds that pair, a head's bar
 * when its head is selected and no pair is. */
export function isSelected(term: Term | null, layer: number | null, head: number | null, pair: readonly number[] | null = null): boolean {
  if (term?.kind === "pair") return pair !== null && term.pair !== undefined && term.pair.join(",") === pair.join(",");
  const s = selectionFor(term);
  return s !== null && pair === null && s.layer === layer && s.head === head;
}

/** The heads a click on a bar selects, in words: `L0H1 and L1H3` for a pair. */
function selectsText(term: Term | null, form: (layer: number, head: number) => string): string | null {
  if (term?.kind === "pair" && term.pair) return `${form(term.pair[0], term.pair[1])} and ${form(term.pair[2], term.pair[3])}`;
  const s = selectionFor(term);
  return s ? form(s.layer, s.head) : null;
}

/** The bar a key moves the focus to (ArrowUp/Down, Home, End), or null for other keys. */
export function barKey(key: string, index: number, count: number): number | null {
  if (count === 0) return null;
  switch (key) {
    case "ArrowDown": return Math.min(count - 1, index + 1);
    case "ArrowUp": return Math.max(0, index - 1);
    case "Home": return 0;
    case "End": return count - 1;
    default: return null;
  }
}

/** Why `position` cannot be expanded in a text of `n` tokens (the kernel's own wording), or null. */
export function positionProblem(position: number | null, n: number): string | null {
  if (position === null) return null;
  if (!Number.isInteger(position) || position < 0 || position >= n) {
    return `position ${position} is out of range; this text has ${n} tokens, so positions 0..${n - 1}`;
  }
  return null;
}

/** A signed number: "+1.50", "-0.25" (kit/format.ts). */
export const signed = formatSigned;

const KIND_NOTES: Record<Row["kind"], string> = {
  direct: "The embeddings at this position straight to the unembedding (the bigram path).",
  head: "Embeddings (at every earlier position) → this head → unembedding, with its pattern as the reading says.",
  pair: "A virtual head: embeddings → the first head → the second head's value → unembedding (V-composition).",
  other_pairs: "Every other pair of heads in different layers, summed.",
  higher: "Every path through three or more heads, summed (0 in a two-layer model).",
  mlp: "Everything that starts at this MLP's output, frozen as the run computed it (nothing is expanded through an MLP): straight to the unembedding and through later heads.",
  biases: "Everything that starts at a bias: the heads' output and value biases, the final norm's bias and the unembedding's.",
  rest: "The smaller terms, summed (Show all lists them).",
  total: "The sum of every term above.",
};

/** The hover card of a row: title, rows and note. */
export function cardOf(row: Row): { title: string; rows: [string, string][]; note: string } {
  const rows: [string, string][] = [["adds to the logit", signed(row.value, 3)]];
  if (row.kind === "other_pairs" && row.term?.count !== undefined) rows.push(["pairs summed", String(row.term.count)]);
  if (row.kind === "rest" && row.count !== undefined) rows.push(["terms summed", String(row.count)]);
  const top = row.term?.top ?? [];
  if (top.length > 0) rows.push(["pushes up most:", ""], ...top.map(([t, v]) => [JSON.stringify(t), signed(v, 2)] as [string, string]));
  const heads = selectsText(row.term, (l, h) => `L${l}H${h}`);
  const click = heads ? ` Click to select ${heads}.` : "";
  return { title: row.label, rows, note: KIND_NOTES[row.kind] + click };
}

/** The accessible name of a bar: `L0H0 → L1H1 +2.31, selects layer 1 head 1`. */
export function barName(row: Row): string {
  const heads = selectsText(row.term, (l, h) => `layer ${l} head ${h}`);
  return `${row.label} ${signed(row.value, 2)}` + (heads ? `, selects ${heads}` : "");
}
