/**
 * What InductionScores' panels share: the synced state's type, and `ScoresNow`, the one object
 * index.ts builds that the panels read the open tab, the scores and the colours from.
 */
import type { AnyModel } from "@anywidget/types";
import type { ColorScale } from "../kit/color_scale";
import type { PatternBank } from "../kit/head_patterns";
import type { SharedSelection } from "../kit/selection";
import type { Tooltip } from "../kit/tooltip";
import type { Mode } from "./experiment";
import type { AblatedWire, Kind, KindScores, Shown, TargetRuns, TopHeads } from "./state";

export interface State {
  [key: string]: unknown;
  half: number;
  seed: number;
  batch: number;
  mode: Mode;
  text: string;
  kind: Kind;
  model_name: string;
  n_layers: number;
  n_heads: number;
  max_half: number;
  max_batch: number;
  tokens: string[];
  _scores: KindScores | null;
  _top: TopHeads | null;
  _targets: TargetRuns | null;
  _shown: Shown | null;
  _bank: PatternBank | null;
  ablation: string;
  /** With `ablation` on: the scores with head layer.head switched off (Python `_ablated`). */
  _ablated: AblatedWire | null;
  run_id: number;
  busy: string;
  error: string;
  _static: boolean;
  selection: string;
}

export interface ScoresNow {
  readonly model: AnyModel<State>;
  readonly selection: SharedSelection;
  readonly tooltip: Tooltip;
  /** The open tab. */
  kind(): Kind;
  /** Head (layer, head)'s score of a kind (NaN while missing). */
  score(kind: Kind, layer: number, head: number): number;
  scale(): ColorScale;
  /** The selected head if this model has it, else the one drawn (or 0.0). */
  selectedHead(): { layer: number; head: number };
  /** The selected pair's other (writing) head, marked in the grid; null: no pair. */
  pairedHead(): { layer: number; head: number } | null;
}
