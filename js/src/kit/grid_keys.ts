/**
 * The one keyboard contract of every grid of heads (the kit's head grid, OVBrowser's copying
 * map, AttentionExplorer's thumbnails; docs/architecture.md): ← → ↑ ↓ move one cell and stop at the
 * edges; Home / End go to the first / last cell of the row (the layer's first / last head);
 * Ctrl+Home / Ctrl+End (⌘ on a Mac) to the first / last cell of the grid. The selection
 * follows the focus.
 */

/** Where a key press moves the selection in an `nLayers` x `nHeads` grid, or `null` for keys
 * the grid does not handle. Moves stop at the edges; Home/End go to the first/last head of
 * the layer, Ctrl+Home/End to the first/last head of the model. */
export function gridMove(
  key: string,
  at: { layer: number; head: number },
  nLayers: number,
  nHeads: number,
  ctrl = false,
): { layer: number; head: number } | null {
  const clampL = (l: number) => Math.max(0, Math.min(nLayers - 1, l));
  const clampH = (h: number) => Math.max(0, Math.min(nHeads - 1, h));
  switch (key) {
    case "ArrowRight": return { layer: at.layer, head: clampH(at.head + 1) };
    case "ArrowLeft": return { layer: at.layer, head: clampH(at.head - 1) };
    case "ArrowDown": return { layer: clampL(at.layer + 1), head: at.head };
    case "ArrowUp": return { layer: clampL(at.layer - 1), head: at.head };
    case "Home": return ctrl ? { layer: 0, head: 0 } : { layer: at.layer, head: 0 };
    case "End": return ctrl ? { layer: nLayers - 1, head: nHeads - 1 } : { layer: at.layer, head: nHeads - 1 };
    default: return null;
  }
}

/** {@link gridMove} on a row-major cell index of a `rows` x `cols` grid (for a grid drawn in
 * another order than layer/head, such as AttentionExplorer's sorted thumbnails). */
export function gridMoveIndex(key: string, index: number, rows: number, cols: number, ctrl = false): number | null {
  const next = gridMove(key, { layer: Math.floor(index / cols), head: index % cols }, rows, cols, ctrl);
  return next ? next.layer * cols + next.head : null;
}

