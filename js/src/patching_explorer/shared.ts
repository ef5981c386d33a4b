/**
 * What PatchingExplorer's panels share: the synced state's type, and `PatchingNow`, the one
 * object index.ts builds that the panels read the open grid, its values and the colours from.
 */
import type { AnyModel } from "@anywidget/types";
import type { ColorScale } from "../kit/color_scale";
import { decode, type NDArray, type WireArray } from "../kit/decode";
import type { SharedSelection } from "../kit/selection";
import type { Tooltip } from "../kit/tooltip";
import type { GridName, Layout, Method } from "./state";

/** Python `PatchingGrids`: one float32 array per grid name, null for a grid not held. */
export interface PatchingGridsWire {
  resid_pre: WireArray | null;
  attn_out: WireArray | null;
  mlp_out: WireArray | null;
  heads: WireArray | null;
  heads_by_pos: WireArray | null;
  head_v: WireArray | null;
  head_v_by_pos: WireArray | null;
  head_pattern: WireArray | null;
  head_pattern_by_pos: WireArray | null;
}

/** The grids held in `wire`, decoded, by name. */
export function decodeGrids(wire: PatchingGridsWire | null): Map<string, NDArray> {
  const held = Object.entries(wire ?? {}).filter((e): e is [string, WireArray] => e[1] !== null);
  return new Map(held.map(([name, values]) => [name, decode(values)]));
}

export interface State {
  [key: string]: unknown;
  clean: string;
  corrupted: string;
  metric: string;
  grid: GridName;
  method: Method;
  model_name: string;
  n_layers: number;
  n_heads: number;
  grids: GridName[];
  clean_tokens: string[];
  corrupted_tokens: string[];
  differing: number[];
  target_str: string;
  distractor_str: string;
  read_position: number;
  clean_value: number;
  corrupted_value: number;
  approx: PatchingGridsWire | null;
  exact: PatchingGridsWire | null;
  run_id: number;
  busy: string;
  error: string;
  _static: boolean;
  selection: string;
}

export interface PatchingNow {
  readonly model: AnyModel<State>;
  readonly selection: SharedSelection;
  readonly tooltip: Tooltip;
  /** The open tab. */
  grid(): GridName;
  /** The method the grid shows. */
  method(): Method;
  /** A grid's values by method (null: not computed). */
  values(grid: GridName, method: Method): NDArray | null;
  /** The open grid's layout. */
  layout(): Layout;
  scale(): ColorScale;
  /** Move the selection to a cell of the open grid. */
  pick(row: number, col: number): void;
}
