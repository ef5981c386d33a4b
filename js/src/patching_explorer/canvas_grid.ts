/**
 * The patching grid when it has too many cells for one button each (GPT-2 small's heads by
 * position: 144 x 64 = 9,216): one canvas that paints every cell, row labels down the side and
 * column labels (the prompt's tokens) across the top as in cell_grid.ts, and two boxes over the
 * canvas, the selected cell and the cursor (the cell hovered or moved to with the keys, also the
 * anchor of the hover card).
 *
 * Keyboard and screen readers: the canvas is one tab stop (`role="grid"`, named by the grid's
 * label, `aria-roledescription` "heat map"); the grid keys (kit/grid_keys.ts) move the cursor and
 * the selection, and a live region reads out the cell moved to ("layer 3 head 4 position 12:
 * 0.53"), which `aria-describedby` also points at. For tests and tools the cursor carries
 * `data-row`, `data-col`, `data-value` and `aria-label` (the cell's name); the canvas carries
 * `data-rows` and `data-cols`.
 */
import type { Swatch } from "../kit/color_scale";
import { gridMove } from "../kit/grid_keys";
import { visibleToken } from "../kit/token_strip";
import { gridElement, type CellGrid, type GridOptions } from "./cell_grid";
import { canvasCellAt, formatValue, type Layout } from "./state";

/** One cell's size on the canvas, CSS pixels (1 px of it is the gap to the next). */
export const CANVAS_CELL = { width: 14, height: 11 };

let ids = 0;

/** The grid's elements: labels either side of the canvas plot, the marked cell, the keys'
 * cursor, and the live region that reads out the cell the keys move to. */
function canvasGridElements(parent: HTMLElement, label: string) {
  const element = gridElement(parent, label, "cw-pe-grid cw-pe-canvas-grid");
  const corner = document.createElement("span");
  corner.className = "cw-pe-corner";
  const colLabels = document.createElement("div");
  colLabels.className = "cw-pe-col-labels";
  const rowLabels = document.createElement("div");
  rowLabels.className = "cw-pe-row-labels";
  const plot = document.createElement("div");
  plot.className = "cw-pe-plot";
  const canvas = document.createElement("canvas");
  canvas.tabIndex = 0;
  canvas.setAttribute("role", "grid");
  canvas.setAttribute("aria-roledescription", "heat map");
  canvas.setAttribute("aria-label", label);
  const marked = document.createElement("div");
  marked.className = "cw-pe-marked";
  marked.hidden = true;
  const cursor = document.createElement("div");
  cursor.className = "cw-pe-cursor";
  cursor.hidden = true;
  const spoken = document.createElement("div");
  spoken.className = "cw-pe-spoken";
  spoken.id = `cw-pe-spoken-${++ids}`;
  spoken.setAttribute("aria-live", "polite");
  canvas.setAttribute("aria-describedby", spoken.id);
  plot.append(canvas, marked, cursor);
  element.append(corner, colLabels, rowLabels, plot, spoken);
  return { element, corner, colLabels, rowLabels, plot, canvas, marked, cursor, spoken };
}

export function createCanvasGrid(parent: HTMLElement, options: GridOptions): CellGrid {
  const { element, corner, colLabels, rowLabels, plot, canvas, marked, cursor, spoken } = canvasGridElements(parent, options.label);

  let layout: Layout = { rows: 0, cols: 0, rowLabels: [], colLabels: [], byPosition: false };
  let name: (row: number, col: number) => string = () => "";
  let values = new Float64Array(0);
  let at: { row: number; col: number } | null = null; // the cursor
  let hovered = -1; // the cell under the pointer (row-major), -1 none
  const { width: W, height: H } = CANVAS_CELL;

  const place = (box: HTMLElement, row: number, col: number) => {
    box.style.left = `${col * W}px`;
    box.style.top = `${row * H}px`;
    box.hidden = false;
  };
  const moveCursor = (row: number, col: number, speak: boolean) => {
    at = { row, col };
    const value = values[row * layout.cols + col] ?? NaN;
    place(cursor, row, col);
    cursor.setAttribute("aria-label", name(row, col));
    cursor.dataset.row = String(row);
    cursor.dataset.col = String(col);
    cursor.dataset.value = String(value);
    if (speak) spoken.textContent = `${name(row, col)}: ${formatValue(value)}`;
  };
  const pointed = (e: MouseEvent) => canvasCellAt(e.offsetX, e.offsetY, W, H, layout.rows, layout.cols);

  canvas.addEventListener("pointermove", (e) => {
    const p = pointed(e);
    if (!p || p.row * layout.cols + p.col === hovered) return;
    hovered = p.row * layout.cols + p.col;
    moveCursor(p.row, p.col, false);
    options.onHover(p.row, p.col, cursor);
  });
  canvas.addEventListener("pointerleave", () => {
    hovered = -1;
    cursor.hidden = true;
    options.onHover(null, null, null);
  });
  canvas.addEventListener("click", (e) => {
    const p = pointed(e);
    if (!p) return;
    canvas.focus({ preventScroll: true }); // the keys go on from here (JupyterLab keeps the cell's focus otherwise)
    options.onSelect(p.row, p.col);
  });
  canvas.addEventListener("focusout", () => options.onHover(null, null, null));
  canvas.addEventListener("keydown", (e) => {
    const from = at ?? { row: 0, col: 0 };
    const next = gridMove(e.key, { layer: from.row, head: from.col }, layout.rows, layout.cols, e.ctrlKey || e.metaKey);
    if (!next || layout.rows === 0) return;
    e.preventDefault();
    e.stopPropagation(); // keep JupyterLab's notebook shortcuts out
    moveCursor(next.layer, next.head, true);
    cursor.scrollIntoView?.({ block: "nearest", inline: "nearest" });
    options.onSelect(next.layer, next.head);
    options.onHover(next.layer, next.head, cursor);
  });

  function labels(into: HTMLElement, className: string, texts: (string | DocumentFragment)[], titles: string[], differs: (i: number) => boolean) {
    into.replaceChildren(
      ...texts.map((text, i) => {
        const span = document.createElement("span");
        span.className = className;
        span.append(text);
        span.title = titles[i] ?? "";
        if (differs(i)) span.dataset.differs = "true";
        return span;
      }),
    );
  }

  return {
    element,
    setLayout(next, naming, differing) {
      layout = next;
      name = naming;
      values = new Float64Array(next.rows * next.cols).fill(NaN);
      corner.textContent = next.byPosition ? "layer.head \\ position" : "layer \\ head";
      element.style.setProperty("--cw-pe-cell-w", `${W}px`);
      element.style.setProperty("--cw-pe-cell-h", `${H}px`);
      labels(colLabels, "cw-pe-label cw-pe-col", next.colLabels.map((t) => (next.byPosition ? visibleToken(t) : t)),
        next.colLabels.map((t, c) => (next.byPosition ? `position ${c}: ${JSON.stringify(t)}` : `head ${c}`)),
        (c) => next.byPosition && differing.has(c));
      labels(rowLabels, "cw-pe-label cw-pe-row", next.rowLabels, next.rowLabels.map(() => ""), () => false);
      const ratio = window.devicePixelRatio || 1;
      canvas.width = Math.max(1, Math.round(next.cols * W * ratio));
      canvas.height = Math.max(1, Math.round(next.rows * H * ratio));
      canvas.style.width = `${next.cols * W}px`;
      canvas.style.height = `${next.rows * H}px`;
      canvas.dataset.rows = String(next.rows);
      canvas.dataset.cols = String(next.cols);
      marked.hidden = cursor.hidden = true;
      at = null;
      hovered = -1;
    },
    paint(paintFor) {
      const ctx = canvas.getContext("2d");
      const ratio = canvas.width / Math.max(1, layout.cols * W);
      if (ctx) {
        ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
        ctx.clearRect(0, 0, layout.cols * W, layout.rows * H);
      }
      for (let r = 0; r < layout.rows; r++) {
        for (let c = 0; c < layout.cols; c++) {
          const { value, swatch } = paintFor(r, c);
          values[r * layout.cols + c] = value;
          if (ctx && swatch) paintCell(ctx, swatch, c * W, r * H);
        }
      }
      if (at) moveCursor(at.row, at.col, false);
    },
    select(cell) {
      if (!cell) {
        marked.hidden = true;
        return;
      }
      place(marked, cell.row, cell.col);
      marked.setAttribute("aria-label", name(cell.row, cell.col));
      marked.dataset.row = String(cell.row);
      marked.dataset.col = String(cell.col);
      at = { row: cell.row, col: cell.col }; // the keys go on from the selection
    },
    cell: () => undefined,
  };

  function paintCell(ctx: CanvasRenderingContext2D, swatch: Swatch, x: number, y: number) {
    ctx.fillStyle = swatch.background;
    ctx.fillRect(x, y, W - 1, H - 1);
  }
}
