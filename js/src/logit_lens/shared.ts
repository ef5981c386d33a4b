/**
 * What LogitLens's panels share: the synced state's type, and `LensNow`, the one object
 * index.ts builds that every panel reads the current lens, target, readout and position from
 * (so a panel holds only its own elements, and the view's state has one owner).
 */
import type { AnyModel } from "@anywidget/types";
import type { ColorScale, Palette } from "../kit/color_scale";
import type { SharedSelection } from "../kit/selection";
import type { Tooltip } from "../kit/tooltip";
import type { AttributionWire, Lens, LensWire, Target, TargetWire } from "./data";

export interface Readout {
  short: string;
  long: string;
}

export interface State {
  [key: string]: unknown;
  text: string;
  tokens: string[];
  readouts: Readout[];
  lens: LensWire | null;
  _target: TargetWire | null;
  _attribution: AttributionWire | null;
  target_error: string;
  /** The ablated heads and how (kit/ablation_panel.ts). */
  ablated: [number, number][];
  ablation_mode: string;
  run_id: number;
  busy: string;
  error: string;
  model_name: string;
  n_layers: number;
  n_heads: number;
  d_vocab: number;
  k: number;
  page_size: number;
  _static: boolean;
  selection: string;
}

export type LensModel = AnyModel<State>;

/** The view's current state, read by every panel (owned by index.ts). */
export interface LensNow {
  readonly model: LensModel;
  /** The view's root element (its data attributes are for tests and tools). */
  readonly root: HTMLElement;
  readonly selection: SharedSelection;
  readonly tooltip: Tooltip;
  readonly signal: AbortSignal;
  lens(): Lens | null;
  target(): Target | null;
  tokens(): string[];
  readouts(): Readout[];
  /** The slider's readout (the shared lens_layer if this model has it, else the final one). */
  lensLayer(): number;
  /** The selected position (the shared one if this text has it, else the last). */
  position(): number;
  /** The positions of the page shown, [start, end). */
  span(): { start: number; end: number };
  /** The target token's id at position `p` (-1 while unknown). */
  targetId(p: number): number;
  /** Whether position `p`'s lens and target numbers have arrived. */
  ready(p: number): boolean;
  tokenStr(id: number): string;
  isStatic(): boolean;
  palette(): Palette;
  probScale(): ColorScale;
  /** The largest KL to final on the pages here (the KL shading's scale). */
  klMax(): number;
}
