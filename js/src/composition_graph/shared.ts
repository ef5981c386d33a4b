/**
 * What CompositionGraph's panels share: the synced state's type, and `GraphNow`, the one
 * object index.ts builds that answers "what is shown now".
 */
import type { AnyModel } from "@anywidget/types";
import type { WireArray } from "../kit/decode";
import type { SharedSelection } from "../kit/selection";
import type { Tooltip } from "../kit/tooltip";
import type { Choice, Edge, Head } from "./state";

export interface State {
  [key: string]: unknown;
  /** "Q", "K", "V" or "all" (a Choice). */
  kind: string;
  threshold: number;
  model_name: string;
  n_layers: number;
  n_heads: number;
  max_edges: number;
  excess: WireArray | null;
  baseline: number;
  baseline_std: number;
  draws: number;
  approximation: string;
  error: string;
  _static: boolean;
  selection: string;
}

export interface GraphNow {
  readonly model: AnyModel<State>;
  readonly selection: SharedSelection;
  readonly tooltip: Tooltip;
  /** The decoded excess, `[3, L, H, L, H]` flat. */
  excess(): ArrayLike<number>;
  /** The colour and width scale's limit (largest |excess|). */
  limit(): number;
  /** The selected head (the selection's when this model has it, else 0.0). */
  selected(): Head;
  /** The selected pair, or null. */
  pair(): { writer: Head; reader: Head } | null;
  /** Select a head (a node click) or a pair (an edge click). */
  pickHead(head: Head): void;
  pickEdge(edge: Edge): void;
}
