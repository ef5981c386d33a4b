/**
 * The one keyboard contract of every grid (the kit's head grid, OVBrowser's copying map,
 * AttentionExplorer's thumbnails, PatchingExplorer's cells, the kit's rectangular grid that
 * LogitLens draws, the heatmap's cursor; docs/architecture.md): ← → ↑ ↓ move one cell and stop
 * at the edges; Home / End go to the first / last cell of the row (the layer's first / last
 * head); Ctrl+Home / Ctrl+End (⌘ on a Mac) to the first / last cell of the grid. The
 * selection follows the focus.
 *
 * `gridStep` says what a key means before any grid's size applies (a grid that shows one page
 * of something larger, like LogitLens's, applies it to the whole); `applyStep` applies it to a
 * `rows` x `cols` grid; `gridMove` is the two together on a grid of heads.
 */

/** A key's move: by (rows, cols), to the row's first / last cell ("home" / "end"), or to the
 * grid's first / last cell ("first" / "last"). */
export type GridStep = { rows: number; cols: number } | "home" | "end" | "first" | "last";

export interface GridCell {
  row: number;
  col: number;
}

/** What `key` (with Ctrl or ⌘ held: `ctrl`) means on a grid, or `null` for keys a grid does
 * not handle. */
export function gridStep(key: string, ctrl = false): GridStep | null {
  switch (key) {
    case "ArrowRight": return { rows: 0, cols: 1 };
    case "ArrowLeft": return { rows: 0, cols: -1 };
    case "ArrowDown": return { rows: 1, cols: 0 };
    case "ArrowUp": return { rows: -1, cols: 0 };
    case "Home": return ctrl ? "first" : "home";
    case "End": return ctrl ? "last" : "end";
    default: return null;
  }
}

/** Where `step` takes the cell `at` in a `rows` x `cols` grid (moves stop at the edges). */
export function applyStep(step: GridStep, at: GridCell, rows: number, cols: number): GridCell {
  const clamp = (v: number, n: number) => Math.max(0, Math.min(n - 1, v));
  switch (step) {
    case "home": return { row: at.row, col: 0 };
    case "end": return { row: at.row, col: cols - 1 };
    case "first": return { row: 0, col: 0 };
    case "last": return { row: rows - 1, col: cols - 1 };
    default: return { row: clamp(at.row + step.rows, rows), col: clamp(at.col + step.cols, cols) };
  }
}

/** Whether a key event holds Ctrl (⌘ on a Mac): Home / End then reach the grid's corners. */
export const withCtrl = (e: { ctrlKey: boolean; metaKey: boolean }) => e.ctrlKey || e.metaKey;

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
  const step = gridStep(key, ctrl);
  if (step === null) return null;
  const to = applyStep(step, { row: at.layer, col: at.head }, nLayers, nHeads);
  return { layer: to.row, head: to.col };
}

/** {@link gridMove} on a row-major cell index of a `rows` x `cols` grid (for a grid drawn in
 * another order than layer/head, such as AttentionExplorer's sorted thumbnails). */
export function gridMoveIndex(key: string, index: number, rows: number, cols: number, ctrl = false): number | null {
  const next = gridMove(key, { layer: Math.floor(index / cols), head: index % cols }, rows, cols, ctrl);
  return next ? next.layer * cols + next.head : null;
}
