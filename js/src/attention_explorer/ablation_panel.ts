/**
 * AttentionExplorer's ablation panel (kit/ablation_panel.ts): the prediction at the locked
 * query, else the last position, with the ablated heads off; their thumbnails carry
 * data-ablated="true".
 */
import type { AnyModel } from "@anywidget/types";
import { createAblationPanel, type AblationPanel } from "../kit/ablation_panel";
import type { ExplorerNow, State } from "./shared";

export function createExplorerAblation(
  parent: HTMLElement,
  model: AnyModel<State>,
  root: HTMLElement,
  signal: AbortSignal,
  now: ExplorerNow,
  grid: HTMLElement,
  selectedHead: () => { layer: number; head: number } | null,
): AblationPanel {
  return createAblationPanel(parent, {
    model, signal, root, selectedHead,
    position: () => (now.tokens().length ? now.position("query") ?? now.tokens().length - 1 : null),
    target: () => null,
    tokens: () => now.tokens(),
    onHeads: (heads) => {
      for (const tile of grid.querySelectorAll<HTMLElement>(".cw-ae-thumb")) {
        tile.dataset.ablated = String(heads.some(([l, h]) => String(l) === tile.dataset.layer && String(h) === tile.dataset.head));
      }
    },
  });
}
