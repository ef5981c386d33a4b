/**
 * The pure logic of AttentionExplorer's pair panel (pair_panel.ts; unit-tested in
 * js/tests/attention_explorer.test.ts): which pair to draw, its caption, and the rows of a
 * hover card that shows both heads' weights at one (query, key).
 */
import { formatProbability } from "../kit/format";
import type { Head } from "../kit/selection";

const name = (h: Head) => `L${h.layer}H${h.head}`;

/** The line above the writer's pattern: which head writes, which reads, and the shared scale. */
export function pairCaption(writer: Head, reader: Head): string {
  return `The pair ${name(writer)} → ${name(reader)}: ${name(writer)} (left) writes into the residual stream, ` +
    `${name(reader)} (right, selected) reads it through its queries, keys or values. Both on the same colour scale.`;
}

/** A hover card's rows for cell (q, k): the position, then each head's weight there. */
export function pairCellRows(q: number, k: number, writer: Head, w1: number, reader: Head, w2: number): [string, string][] {
  const weight = (w: number) => (k > q ? "masked" : Number.isFinite(w) ? formatProbability(w) : "—");
  return [
    ["query", `${q}`],
    ["key", `${k}`],
    [`${name(writer)} (writes)`, weight(w1)],
    [`${name(reader)} (reads)`, weight(w2)],
  ];
}

/** The root's `data-pair`: the pair drawn as `"l1 h1 l2 h2"`, or `""` for none. */
export const pairKey = (writer: Head | null, reader: Head) =>
  writer ? `${writer.layer} ${writer.head} ${reader.layer} ${reader.head}` : "";
