/**
 * The token-map panel's state (pure, unit-tested in js/tests/ov_browser.test.ts): the tab
 * open, the head and k asked about, and per tab its list of tokens, the draft typed in its box
 * and Python's refusal of the last entry; how defaults, a reset, a picked target and an
 * answer change the lists; and what the panel says while it has no answer to draw.
 */
import type { Mode, QueryFailure, Question, TokenRef } from "./answers";

export interface Defaults {
  kind: "text" | "frequent";
  /** Tokens offered to pick from (the text's, or frequent ones); `tokens`/`targets` start it. */
  choices: TokenRef[];
  tokens: TokenRef[];
  targets: TokenRef[];
}

export interface MapState {
  mode: Mode;
  layer: number;
  head: number;
  k: number;
  isStatic: boolean;
  defaults: Defaults;
  lists: Record<Mode, TokenRef[]>;
  drafts: Record<Mode, string>;
  failures: Record<Mode, QueryFailure | null>;
}

export function newMapState(): MapState {
  return {
    mode: "ov", layer: 0, head: 0, k: 10, isStatic: false,
    defaults: { kind: "frequent", choices: [], tokens: [], targets: [] },
    lists: { ov: [], ov_sources: [], qk: [] },
    drafts: { ov: "", ov_sources: "", qk: "" },
    failures: { ov: null, ov_sources: null, qk: null },
  };
}

export const questionOf = (s: MapState): Question => ({ mode: s.mode, layer: s.layer, head: s.head, k: s.k });

/** Put `t` first on tab `m`'s list (once). */
export function putFirst(s: MapState, m: Mode, t: TokenRef): void {
  s.lists[m] = [t, ...s.lists[m].filter((x) => x.id !== t.id)];
}

/** New defaults: the OV and QK lists start over; the reverse tab keeps a target picked
 * elsewhere in front of the default targets. */
export function applyDefaults(s: MapState, next: Defaults): void {
  s.defaults = next;
  s.lists.ov = [...next.tokens];
  s.lists.qk = [...next.tokens];
  const first = s.lists.ov_sources[0];
  s.lists.ov_sources = [...next.targets];
  if (first && !next.targets.some((t) => t.id === first.id)) s.lists.ov_sources.unshift(first);
}

/** The open tab back to its default tokens, its refusal forgotten. */
export function resetList(s: MapState): void {
  s.lists[s.mode] = [...(s.mode === "ov_sources" ? s.defaults.targets : s.defaults.tokens)];
  s.failures[s.mode] = null;
}

/** The default choices not on the open tab's list. */
export function choicesLeft(s: MapState): TokenRef[] {
  const on = new Set(s.lists[s.mode].map((t) => t.id));
  return s.defaults.choices.filter((t) => !on.has(t.id));
}

/** The picker's summary: where its choices come from and how many are left. */
export const pickerText = (kind: Defaults["kind"], left: number) =>
  `Pick more (${kind === "text" ? "from your text" : "frequent tokens"}, ${left})`;

/** What the panel shows for the open tab: "ready" when the answer is here, else why not. */
export function mapStatus(s: MapState, tokens: number, answered: boolean): { state: "empty" | "ready" | "missing" | "loading"; text: string } {
  if (tokens === 0) return { state: "empty", text: "Add a token above to see what this head does with it." };
  if (answered) return { state: "ready", text: "" };
  if (s.isStatic) {
    return { state: "missing", text: `This file holds no token map for layer ${s.layer} head ${s.head} with these tokens; it needs a running Python kernel.` };
  }
  return { state: "loading", text: "Asking Python…" };
}
