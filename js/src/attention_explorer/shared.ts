/**
 * What AttentionExplorer's panels share: the synced state's type, and `ExplorerNow`, the one
 * object index.ts builds that the panels read the tokens, the head drawn and the locks from.
 */
import type { WireArray } from "../kit/decode";
import type { PatternBank } from "../kit/head_patterns";
import type { SharedSelection } from "../kit/selection";
import type { Tooltip } from "../kit/tooltip";
import type { ScoreSpec } from "./overview";
import type { Direction, HeadPattern } from "./state";

export interface State {
  [key: string]: unknown;
  text: string;
  tokens: string[];
  thumbnails: WireArray | null;
  head_scores: ScoreSpec[];
  _bank: PatternBank | null;
  /** The ablated heads and how (kit/ablation_panel.ts). */
  ablated: [number, number][];
  ablation_mode: string;
  run_id: number;
  busy: string;
  /** The share of layers done while a new text runs (the progress bar), null when idle. */
  busy_fraction: number | null;
  /** Texts with more tokens get blocks on demand (long_text.ts), not whole patterns. */
  _long_text_tokens: number;
  error: string;
  model_name: string;
  n_layers: number;
  n_heads: number;
  _static: boolean;
  /** "" with a model; else why the view has no text box, ablation or model-run score. */
  _model_free: string;
  selection: string;
}

export interface ExplorerNow {
  readonly selection: SharedSelection;
  readonly tooltip: Tooltip;
  tokens(): string[];
  /** The pattern drawn (null before the first). */
  current(): HeadPattern | null;
  direction(): Direction;
  /** The locked query or key if this text has it, else null. */
  position(field: "query" | "key"): number | null;
  /** Hovering the head view while a pair is drawn: the pair panel shows both heads' weights
   * (pair_panel.ts); true when it did. */
  pairHover(cell: { row: number; col: number } | null, anchor: HTMLElement): boolean;
}
