/**
 * Hover on a canvas grid (the heatmap, the rectangular grid): the cell under the pointer (or
 * moved to by a key) is the "cursor", outlined by a box that is the anchor of the view's hover
 * card (`kit/tooltip.ts`; a view that colours by the focused cell keeps it with
 * `kit/hover_lock.ts`). The cursor is announced once when it moves onto a cell and once, as
 * `null`, when it leaves; the plot's `data-cursor` says where it is ("row,col") for tests.
 *
 *     const hover = createCellHover(plot, cursorBox, (cell) => place(cursorBox, cell), onHover);
 *     plot.addEventListener("pointermove", (e) => hover.move(cellAt(pointIn(plot, e))));
 */
import type { GridCell } from "./grid_keys";

export interface CellHover {
  /** The cell under the cursor, or null. */
  readonly cell: GridCell | null;
  /** Move the cursor (null: hide it); `announce: false` moves it without calling `onHover`
   * (another panel drives it). */
  move(cell: GridCell | null, announce?: boolean): void;
  /** Place the box again (the grid was redrawn or zoomed). */
  place(): void;
}

/** Whether two cells (or nulls) are the same. */
export const sameCell = (a: GridCell | null, b: GridCell | null) => a?.row === b?.row && a?.col === b?.col;

/** A pointer event's position in CSS pixels from `el`'s top-left corner. */
export function pointIn(el: Element, e: { clientX: number; clientY: number }): { x: number; y: number } {
  const r = el.getBoundingClientRect();
  return { x: e.clientX - r.left, y: e.clientY - r.top };
}

export function createCellHover(
  plot: HTMLElement,
  box: HTMLElement,
  placeBox: (cell: GridCell) => void,
  onHover?: (cell: GridCell | null, anchor: HTMLElement) => void,
): CellHover {
  let cell: GridCell | null = null;
  const place = () => {
    if (cell === null) box.hidden = true;
    else placeBox(cell);
  };
  return {
    get cell() {
      return cell;
    },
    move(next, announce = true) {
      const same = sameCell(next, cell);
      cell = next;
      place();
      if (next) plot.dataset.cursor = `${next.row},${next.col}`;
      else delete plot.dataset.cursor;
      if (announce && !same) onHover?.(next, box);
    },
    place,
  };
}
