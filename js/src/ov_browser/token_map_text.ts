/**
 * The token-map panel's words and numbers (pure, unit-tested in js/tests/ov_browser.test.ts):
 * each tab's text, how a typed entry is read, how a value is written, the hint under the list,
 * the k choices, and what a result pill says.
 */
import type { Mode, Row } from "./answers";

export interface ModeText {
  tab: string;
  list: string;
  add: string;
  arrow: string;
  value: string;
  caption: string;
}

export const TEXT: Record<Mode, ModeText> = {
  ov: {
    tab: "Writes (OV)",
    list: "Source tokens",
    add: "Add a source token",
    arrow: "promotes",
    value: "logit added",
    caption:
      "If this head attends to a source token, which next tokens does it push the model towards? " +
      "Each row is one row of the head's full OV circuit W_E·W_V·W_O·W_U: the logits it adds, largest " +
      "first (the direct path through this head alone; layer norms and positions left out). " +
      "A copying head puts the source token itself near the top. Click a token to ask the reverse question.",
  },
  ov_sources: {
    tab: "Written by (OV reverse)",
    list: "Target tokens",
    add: "Add a target token",
    arrow: "written by",
    value: "logit added",
    caption:
      "Which source tokens, when this head attends to them, raise the logit of the target token most? " +
      "Each row is one column of the full OV circuit W_E·W_V·W_O·W_U. Click a source to see everything it makes the head write.",
  },
  qk: {
    tab: "Looks at (QK)",
    list: "Query tokens",
    add: "Add a query token",
    arrow: "prefers keys",
    value: "score",
    caption:
      "When the current token is the query, which key tokens does this head want to attend to, by token " +
      "content alone? Each row is one row of the full QK circuit W_E·W_Q·W_Kᵀ·W_Eᵀ (unscaled; positions " +
      "and layer norms left out). With rotary positions (Llama, Pythia, Gemma ...) or ALiBi (BLOOM) this is the score " +
      "at zero distance: positions rotate or penalize it as the key moves away, and no positional term appears here. " +
      "A previous-token or induction head looks for positions, not contents, so its map can look random.",
  },
};

export const K_CHOICES = [5, 10, 20, 50];
export const STATIC_NOTE =
  "Static export: asking about new tokens or other heads needs a running Python kernel. This file holds the answers for its default tokens only.";

/** "#262" → 262; anything else is the token string itself (leading spaces matter). */
export function parseEntry(value: string): number | string {
  const m = /^#(\d+)$/.exec(value.trim());
  return m ? Number(m[1]) : value;
}

/** A logit or score, a real minus sign: 2 decimals (fewer above 10), or two significant
 * digits in e-notation below 0.01 (a random model's logits are tiny: "3.1e-3", not "0.00"). */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return "—";
  const a = Math.abs(v);
  let text: string;
  if (a === 0) text = "0";
  else if (a < 0.01) text = a.toExponential(1).replace("e-", "e−");
  else text = a.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
  return v < 0 ? `−${text}` : text;
}

/** The line under the token list: a static export's note, or where the starting tokens come from. */
export function hintText(isStatic: boolean, kind: "text" | "frequent"): string {
  return isStatic
    ? STATIC_NOTE
    : kind === "text"
      ? "Starting tokens: the tokens of your text. A token is exactly one vocabulary entry: ' cat' (with its space) and 'cat' differ."
      : "Starting tokens: frequent whole words of the tokenizer. A token is exactly one vocabulary entry: ' cat' (with its space) and 'cat' differ.";
}

/** The k menu: the usual choices and the current k, ascending. */
export const kChoices = (k: number) => [...new Set([...K_CHOICES, k])].sort((a, b) => a - b);

/** The largest value over rows (the top of their colour scale; 1 when none is positive). */
export function rowsMax(rows: readonly Row[]): number {
  let max = 0;
  for (const row of rows) for (const v of row.values) if (v > max) max = v;
  return max > 0 ? max : 1;
}

/** What a result pill says: its accessible name, its hover rows and note. */
export function pillText(mode: Mode, row: Row, rank: number): { label: string; rows: [string, string][]; note: string | undefined } {
  const t = row.top[rank]!;
  const v = row.values[rank] as number;
  const what = mode === "ov" ? "destination" : mode === "ov_sources" ? "source" : "key";
  return {
    label: `${what} ${JSON.stringify(t.text)}, ${TEXT[mode].value} ${formatValue(v)}`,
    rows: [
      ["token id", String(t.id)],
      [TEXT[mode].value, formatValue(v)],
      ["rank", `${rank + 1} of ${row.top.length}`],
      [mode === "ov_sources" ? "target" : mode === "qk" ? "query" : "source", row.given.text],
    ],
    note:
      mode === "ov"
        ? "click: which sources make this head write it?"
        : mode === "ov_sources"
          ? "click: what does this head write for it?"
          : undefined,
  };
}
