/**
 * The patching grid: rows x columns of buttons (a CSS grid), row labels down the side, column
 * labels (heads, or the prompt's tokens) across the top, one colour and, when they fit, the
 * value in each cell. One tab stop (the selected cell); the grid keys (kit/grid_keys.ts) move
 * the focus and the selection.
 *
 * Each cell is a `<button>` named by `name(row, col)` with `data-row`, `data-col` and
 * `data-value` (the number it is coloured by); differing columns carry `data-differs`.
 */
import type { Swatch } from "../kit/color_scale";
import { gridMove } from "../kit/grid_keys";
import { visibleToken } from "../kit/token_strip";
import type { Layout } from "./state";

export interface CellGrid {
  readonly element: HTMLElement;
  setLayout(layout: Layout, name: (row: number, col: number) => string, differing: ReadonlySet<number>): void;
  paint(paintFor: (row: number, col: number) => { value: number; swatch: Swatch | null }, numbers: boolean): void;
  select(cell: { row: number; col: number } | null): void;
  cell(row: number, col: number): HTMLElement | undefined;
}

/** What either way of drawing the grid reports (this file's buttons, canvas_grid.ts's canvas). */
export interface GridOptions {
  label: string;
  onSelect: (row: number, col: number) => void;
  onHover: (row: number | null, col: number | null, cell: HTMLElement | null) => void;
}

/** The grid's outer element, appended to `parent`: a group named after `label`. */
export function gridElement(parent: HTMLElement, label: string, className: string): HTMLElement {
  const element = document.createElement("div");
  element.className = className;
  element.setAttribute("role", "group");
  element.setAttribute("aria-label", `${label}: arrow keys move, the selection follows`);
  parent.append(element);
  return element;
}

export function createCellGrid(parent: HTMLElement, options: GridOptions): CellGrid {
  const element = gridElement(parent, options.label, "cw-pe-grid");
  let layout: Layout = { rows: 0, cols: 0, rowLabels: [], colLabels: [], byPosition: false };
  let cells: HTMLButtonElement[] = [];
  let selected: { row: number; col: number } | null = null;

  const at = (row: number, col: number) => cells[row * layout.cols + col];
  const position = (el: EventTarget | null) => {
    const cell = el instanceof Element ? el.closest<HTMLButtonElement>(".cw-pe-cell") : null;
    return cell && element.contains(cell) ? { row: Number(cell.dataset.row), col: Number(cell.dataset.col), cell } : null;
  };
  const setTabStop = () => {
    cells.forEach((c) => (c.tabIndex = -1));
    const stop = (selected && at(selected.row, selected.col)) ?? cells[0];
    if (stop) stop.tabIndex = 0;
  };

  element.addEventListener("click", (e) => {
    const p = position(e.target);
    if (p) options.onSelect(p.row, p.col);
  });
  element.addEventListener("pointerover", (e) => {
    const p = position(e.target);
    if (p) options.onHover(p.row, p.col, p.cell);
  });
  element.addEventListener("pointerleave", () => options.onHover(null, null, null));
  element.addEventListener("focusout", () => options.onHover(null, null, null));
  element.addEventListener("keydown", (e) => {
    const p = position(document.activeElement);
    if (!p) return;
    const next = gridMove(e.key, { layer: p.row, head: p.col }, layout.rows, layout.cols, e.ctrlKey || e.metaKey);
    if (!next) return;
    e.preventDefault();
    e.stopPropagation(); // keep JupyterLab's notebook shortcuts out
    const cell = at(next.layer, next.head);
    cell?.focus();
    options.onSelect(next.layer, next.head);
    if (cell) options.onHover(next.layer, next.head, cell);
  });

  function label(className: string, content: string | DocumentFragment): HTMLElement {
    const span = document.createElement("span");
    span.className = className;
    span.append(content);
    return span;
  }

  return {
    element,
    setLayout(next, name, differing) {
      layout = next;
      element.style.setProperty("--cw-pe-cols", String(next.cols));
      element.dataset.byPosition = String(next.byPosition);
      const nodes: HTMLElement[] = [label("cw-pe-corner", next.byPosition ? "layer \\ position" : "layer \\ head")];
      next.colLabels.forEach((text, c) => {
        const l = label("cw-pe-label cw-pe-col", next.byPosition ? visibleToken(text) : text);
        l.title = next.byPosition ? `position ${c}: ${JSON.stringify(text)}` : `head ${c}`;
        if (next.byPosition && differing.has(c)) l.dataset.differs = "true";
        nodes.push(l);
      });
      cells = [];
      for (let r = 0; r < next.rows; r++) {
        nodes.push(label("cw-pe-label cw-pe-row", next.rowLabels[r] ?? String(r)));
        for (let c = 0; c < next.cols; c++) {
          const b = document.createElement("button");
          b.type = "button";
          b.className = "cw-pe-cell";
          b.setAttribute("aria-label", name(r, c));
          b.setAttribute("aria-pressed", "false");
          b.dataset.row = String(r);
          b.dataset.col = String(c);
          if (next.byPosition && differing.has(c)) b.dataset.differs = "true";
          cells.push(b);
          nodes.push(b);
        }
      }
      element.replaceChildren(...nodes);
      selected = null;
      setTabStop();
    },
    paint(paintFor, numbers) {
      element.dataset.numbers = String(numbers);
      for (const cell of cells) {
        const { value, swatch } = paintFor(Number(cell.dataset.row), Number(cell.dataset.col));
        cell.dataset.value = String(value);
        cell.style.background = swatch?.background ?? "";
        cell.style.color = swatch?.color ?? "";
        cell.textContent = numbers ? (Number.isFinite(value) ? value.toFixed(2) : "—") : "";
      }
    },
    select(cell) {
      selected = cell;
      for (const c of cells) {
        const on = cell !== null && Number(c.dataset.row) === cell.row && Number(c.dataset.col) === cell.col;
        c.setAttribute("aria-pressed", String(on));
      }
      setTabStop();
    },
    cell: (row, col) => at(row, col),
  };
}
