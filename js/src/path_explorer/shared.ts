/**
 * What PathExplorer's parts share: the synced state's type and the expansion the kernel
 * answers (circuitwidgets/widgets/_path_terms.py's `expansion_payload`).
 */

export type Mode = "frozen" | "weights";

export type TermKind = "direct" | "head" | "pair" | "other_pairs" | "higher" | "mlp" | "biases";

/** One path term, as the kernel ranks them (largest |value| first). */
export interface Term {
  label: string;
  kind: TermKind;
  value: number;
  /** What the path pushes up most at the position: [token string, logit], best first. */
  top: [string, number][];
  layer?: number;
  head?: number;
  /** A pair's heads, [l1, h1, l2, h2]. */
  pair?: [number, number, number, number];
  /** How many pairs "other pairs" sums. */
  count?: number;
}

export interface Expansion {
  run: number;
  mode: Mode;
  position: number;
  target: number;
  target_str: string;
  token: string;
  next: string | null;
  logit: number;
  model_logit: number;
  terms: Term[];
  reading: string;
}

export interface State {
  [key: string]: unknown;
  text: string;
  target: string | number | null;
  mode: Mode;
  model_name: string;
  n_layers: number;
  n_heads: number;
  attn_only: boolean;
  tokens: string[];
  _expansions: Expansion[];
  target_error: string;
  run_id: number;
  busy: string;
  error: string;
  _static: boolean;
  selection: string;
}
