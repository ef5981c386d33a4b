/**
 * LogitLens's ablation panel (kit/ablation_panel.ts): the target's probability, rank and the top
 * predictions at the selected position with the ablated heads off. The head A toggles is the
 * one in the shared selection (click a head's bar in "Who wrote it").
 */
import { createAblationPanel, type AblationPanel } from "../kit/ablation_panel";
import type { LensNow } from "./shared";

export function createLensAblation(parent: HTMLElement, now: LensNow): AblationPanel {
  const { model, selection, root, signal } = now;
  return createAblationPanel(parent, {
    model, signal, root,
    selectedHead: () => {
      const layer = selection.get("layer");
      const head = selection.get("head");
      return layer !== null && head !== null && layer < model.get("n_layers") && head < model.get("n_heads") ? { layer, head } : null;
    },
    // Once the position's page is here, so that its target is known.
    position: () => (now.lens() && now.ready(now.position()) ? now.position() : null),
    target: () => {
      const id = now.lens() ? now.targetId(now.position()) : -1;
      return id >= 0 ? id : null;
    },
    tokens: () => now.tokens(),
  });
}
