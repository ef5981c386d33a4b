/**
 * The arithmetic of the kit's rectangular grid (`rect_grid.ts`), free of the DOM (unit-tested):
 * how wide a column is, which cell is under the pointer, what the header says over a column,
 * where to scroll to show a column, and a cell's text in the SVG export.
 *
 * The grid is `rows` x `cols` cells of `ROW_HEIGHT` x (column width) CSS pixels under a header
 * `HEADER_HEIGHT` pixels tall; columns are as wide as fits, between `MIN_COL` and `MAX_COL`.
 */
import type { GridCell } from "./grid_keys";

export const ROW_HEIGHT = 22;
export const HEADER_HEIGHT = 20;
export const MIN_COL = 10;
export const MAX_COL = 64;
/** Columns at least this wide show their cells' text and their header's label. */
export const TEXT_COL = 30;
/** Columns at least this wide get a separator line between them. */
export const SEPARATED_COL = 16;
/** Narrow columns number every this many positions in the header. */
export const HEADER_EVERY = 10;
/** Characters of a cell's text in the SVG export (longer: cut, with an ellipsis). */
export const SVG_CELL_CHARS = 6;

/** Column width in CSS pixels for `cols` columns in `available` pixels. */
export function columnWidth(available: number, cols: number): number {
  return Math.max(MIN_COL, Math.min(MAX_COL, Math.floor(available / Math.max(1, cols))));
}

/** The cell under a point (`x`, `y` in CSS pixels from the plot's top-left corner, the header
 * included), or null outside the cells. */
export function cellAt(x: number, y: number, colW: number, rows: number, cols: number): GridCell | null {
  const cy = y - HEADER_HEIGHT;
  const col = Math.floor(x / colW);
  const row = Math.floor(cy / ROW_HEIGHT);
  if (cy < 0 || row < 0 || row >= rows || col < 0 || col >= cols) return null;
  return { row, col };
}

/** What the header says over column `c` (0-based on the grid; `first` is its number in the
 * whole): the column's label when columns are wide enough for text, else every
 * `HEADER_EVERY`-th number, else nothing. */
export function headerText(c: number, first: number, colW: number, label: string): string | null {
  if (colW >= TEXT_COL) return label;
  return (first + c) % HEADER_EVERY === 0 ? String(first + c) : null;
}

/** The scroll offset that shows column `col` (centred) if it is not wholly in view, else null. */
export function revealScroll(col: number, colW: number, scrollLeft: number, viewWidth: number): number | null {
  const left = col * colW;
  if (left >= scrollLeft && left + colW <= scrollLeft + viewWidth) return null;
  return Math.max(0, left - viewWidth / 2);
}

/** A cell's text in the SVG export: at most `SVG_CELL_CHARS` characters, cut with an ellipsis. */
export function svgCellText(text: string): string {
  return text.length > SVG_CELL_CHARS ? `${text.slice(0, SVG_CELL_CHARS - 1)}…` : text;
}
