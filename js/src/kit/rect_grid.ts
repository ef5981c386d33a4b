/**
 * A rectangular grid of rows by token positions on one canvas — LogitLens's readouts ×
 * positions — with the heatmap's hover (`cell_hover.ts`: a cursor box that anchors the hover
 * card), keyboard contract (`grid_keys.ts`) and SVG export (`svg_grid.ts` `cellGridSvg`).
 *
 * Each cell is a colour for its value (a colour scale) and, where the column is wide enough,
 * its text; the header holds the columns' tokens (or every 10th position when columns are
 * narrow). One pass draws it all (a rectangle per cell). Columns whose numbers have not
 * arrived yet are hatched and empty (`pending`), so a column still being computed never
 * reads as a real, low value. A row band and a column band mark the picked row and column.
 * The arithmetic is in `rect_grid_layout.ts`.
 *
 * Mouse: hover a cell; click it to pick it. Keyboard (grid focused): the grid keys
 * (docs/architecture.md) are reported as a `GridStep` for the caller to apply — a grid that
 * shows one page of a longer text moves over the whole text, not the page.
 *
 *     const grid = createRectGrid(parent, { label, roleDescription, svg, signal, onHover, onPick, onKey });
 *     grid.setScale(sequential(palette), muted, line);
 *     grid.setData({ rows, cols, rowLabels, colLabels, firstColumn, pending, text, value });
 *     grid.setMarks(row, col);
 *
 * For tests and benchmarks: the element's `data-col-width`, `data-pending` (columns hatched)
 * and `data-draw-ms`; the plot's `data-cursor` ("row,col").
 */
import "./rect_grid.css";
import { createCellHover, pointIn } from "./cell_hover";
import type { ColorScale } from "./color_scale";
import { gridStep, withCtrl, type GridCell, type GridStep } from "./grid_keys";
import {
  cellAt, columnWidth, HEADER_HEIGHT, headerText, MAX_COL, revealScroll, ROW_HEIGHT, SEPARATED_COL, svgCellText, TEXT_COL,
} from "./rect_grid_layout";
import { cellGridSvg, cssHex, type SvgGridSpec } from "./svg_grid";
import { tokenLabel } from "./token_strip";

export interface RectGridData {
  rows: number;
  cols: number;
  rowLabels: readonly string[];
  /** The columns' tokens (header text, drawn when columns are wide enough). */
  colLabels: readonly string[];
  /** The position of column 0 (the grid may show one page of a longer text). */
  firstColumn: number;
  /** Whether a column's numbers are still on their way (drawn hatched, without text). */
  pending(col: number): boolean;
  /** The token shown in a cell. */
  text(row: number, col: number): string;
  /** The value a cell is coloured by, in the scale's domain (NaN: no value). */
  value(row: number, col: number): number;
}

export interface RectGridOptions {
  label: string;
  /** What the grid is, for screen readers ("grid of readouts by positions"). */
  roleDescription: string;
  /** The SVG export's axis titles and cell width. */
  svg: { rowTitle: string; colTitle: string; cellWidth: number };
  signal: AbortSignal;
  /** The cursor moved to `cell` (null: left the grid); `anchor` is the cursor box. */
  onHover(cell: GridCell | null, anchor: HTMLElement): void;
  onPick(cell: GridCell): void;
  /** A grid key was pressed (see the module docs). */
  onKey(step: GridStep): void;
}

export interface RectGrid {
  readonly element: HTMLElement;
  readonly plot: HTMLElement;
  setData(data: RectGridData): void;
  /** The colour scale, the muted text colour and the grid-line colour (theme colours). */
  setScale(scale: ColorScale, muted: string, gridLine: string): void;
  /** Band the picked row and column (null: none). */
  setMarks(row: number | null, col: number | null): void;
  /** Scroll so that column `col` is in view. */
  reveal(col: number): void;
  /** Milliseconds the last draw took (for benchmarks). */
  readonly lastDrawMs: number;
  /** The whole grid as a standalone SVG (a rect and the text per cell; see kit/svg_grid.ts). */
  toSvg(title: string, colors: SvgGridSpec["colors"]): string;
}

interface Ink {
  muted: string;
  gridLine: string;
}

export function createRectGrid(parent: HTMLElement, options: RectGridOptions): RectGrid {
  const { element, labels, scroller, plot, canvas, rowBand, colBand, cursor } = gridElements(parent, options);
  const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
  let data: RectGridData | null = null;
  let scale: ColorScale | null = null;
  const ink: Ink = { muted: "#888", gridLine: "#ddd" };
  let colW = MAX_COL;
  let marks: { row: number | null; col: number | null } = { row: null, col: null };
  let frame = 0;
  let lastDrawMs = 0;
  const hover = createCellHover(plot, cursor, (c) => placeBox(cursor, c.col * colW, HEADER_HEIGHT + c.row * ROW_HEIGHT, colW, ROW_HEIGHT), options.onHover);

  const schedule = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      draw();
    });
  };
  const resize = new ResizeObserver(() => {
    if (data && columnWidth(scroller.clientWidth, data.cols) !== colW) schedule();
  });
  resize.observe(element);
  options.signal.addEventListener("abort", () => {
    resize.disconnect();
    cancelAnimationFrame(frame);
  });

  function draw() {
    if (!data || !scale) return;
    const started = performance.now();
    colW = columnWidth(scroller.clientWidth || parent.clientWidth || 800, data.cols);
    const dpr = sizeCanvas(canvas, plot, colW * data.cols, HEADER_HEIGHT + ROW_HEIGHT * data.rows);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, colW * data.cols, HEADER_HEIGHT + ROW_HEIGHT * data.rows);
    const font = getComputedStyle(element).getPropertyValue("--cw-mono").trim() || "monospace";
    ctx.font = `11px ${font}`;
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    const pendingCols = paintCells(ctx, data, scale, colW, ink);
    paintSeparators(ctx, data, colW, dpr, ink.gridLine);
    labels.style.paddingTop = `${HEADER_HEIGHT}px`;
    labels.replaceChildren(...data.rowLabels.map(rowLabel));
    placeMarks();
    lastDrawMs = performance.now() - started;
    element.dataset.drawMs = lastDrawMs.toFixed(2);
    element.dataset.colWidth = String(colW);
    element.dataset.pending = String(pendingCols);
  }

  function placeMarks() {
    if (!data) return;
    const { row, col } = marks;
    if (row === null || row >= data.rows) rowBand.hidden = true;
    else placeBox(rowBand, 0, HEADER_HEIGHT + row * ROW_HEIGHT, colW * data.cols, ROW_HEIGHT);
    if (col === null || col >= data.cols) colBand.hidden = true;
    else placeBox(colBand, col * colW, 0, colW, HEADER_HEIGHT + ROW_HEIGHT * data.rows);
    labels.querySelectorAll<HTMLElement>(".cw-rect-grid-row").forEach((l) => {
      l.classList.toggle("cw-rect-grid-row-on", Number(l.dataset.row) === row);
    });
  }

  const cellOf = (e: PointerEvent | MouseEvent): GridCell | null => {
    if (!data) return null;
    const { x, y } = pointIn(plot, e);
    return cellAt(x, y, colW, data.rows, data.cols);
  };
  plot.addEventListener("pointermove", (e) => hover.move(cellOf(e)));
  plot.addEventListener("pointerleave", () => hover.move(null));
  plot.addEventListener("click", (e) => {
    const cell = cellOf(e);
    if (cell) options.onPick(cell);
  });
  scroller.addEventListener("keydown", (e) => {
    const step = gridStep(e.key, withCtrl(e));
    if (step === null) return;
    e.preventDefault();
    e.stopPropagation(); // ours: not also a notebook shortcut
    options.onKey(step);
  });

  return {
    element,
    plot,
    toSvg: (title, colors) => rectGridSvg(data, scale, ink.gridLine, options.svg, title, colors),
    get lastDrawMs() {
      return lastDrawMs;
    },
    setData(next) {
      data = next;
      hover.move(null, false);
      draw();
    },
    setScale(next, muted, gridLine) {
      scale = next;
      Object.assign(ink, { muted, gridLine });
      draw();
    },
    setMarks(row, col) {
      marks = { row, col };
      placeMarks();
    },
    reveal(col) {
      const left = revealScroll(col, colW, scroller.scrollLeft, scroller.clientWidth);
      if (left !== null) scroller.scrollLeft = left;
    },
  };
}

/** The grid's elements: row labels beside a scroller holding the canvas and its overlay boxes. */
function gridElements(parent: HTMLElement, options: RectGridOptions) {
  const div = (className: string) => {
    const el = document.createElement("div");
    el.className = className;
    return el;
  };
  const element = div("cw-rect-grid");
  const labels = div("cw-rect-grid-rows");
  const scroller = div("cw-rect-grid-scroll");
  scroller.tabIndex = 0;
  scroller.setAttribute("role", "img");
  scroller.setAttribute("aria-roledescription", options.roleDescription);
  scroller.setAttribute("aria-label", options.label);
  scroller.setAttribute("data-lm-suppress-shortcuts", "true"); // keys here are the grid's
  const plot = div("cw-rect-grid-plot");
  const canvas = document.createElement("canvas");
  const rowBand = div("cw-rect-grid-band cw-rect-grid-band-row");
  const colBand = div("cw-rect-grid-band cw-rect-grid-band-col");
  const cursor = div("cw-rect-grid-cursor");
  rowBand.hidden = colBand.hidden = cursor.hidden = true;
  plot.append(canvas, rowBand, colBand, cursor);
  scroller.append(plot);
  element.append(labels, scroller);
  parent.append(element);
  return { element, labels, scroller, plot, canvas, rowBand, colBand, cursor };
}

/** The canvas and the plot at `width` x `height` CSS pixels; returns the device pixel ratio. */
function sizeCanvas(canvas: HTMLCanvasElement, plot: HTMLElement, width: number, height: number): number {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = plot.style.width = `${width}px`;
  canvas.style.height = plot.style.height = `${height}px`;
  return dpr;
}

/** The header, the pending columns hatched, every other cell on its colour with its text;
 * returns how many columns are pending. */
function paintCells(ctx: CanvasRenderingContext2D, data: RectGridData, scale: ColorScale, colW: number, ink: Ink): number {
  const withText = colW >= TEXT_COL;
  const fit = (text: string) => fitText(ctx, tokenLabel(text), colW - 4);
  ctx.fillStyle = ink.muted;
  for (let c = 0; c < data.cols; c++) {
    const head = headerText(c, data.firstColumn, colW, data.colLabels[c] ?? "");
    if (head !== null) ctx.fillText(withText ? fit(head) : head, c * colW + colW / 2, HEADER_HEIGHT / 2);
  }
  let pendingCols = 0;
  for (let c = 0; c < data.cols; c++) {
    if (!data.pending(c)) continue;
    pendingCols++;
    paintPending(ctx, c * colW, HEADER_HEIGHT, colW, ROW_HEIGHT * data.rows, ink);
  }
  for (let r = 0; r < data.rows; r++) {
    const y = HEADER_HEIGHT + r * ROW_HEIGHT;
    for (let c = 0; c < data.cols; c++) {
      if (data.pending(c)) continue;
      const swatch = scale(data.value(r, c));
      ctx.fillStyle = swatch ? swatch.background : ink.gridLine;
      ctx.fillRect(c * colW, y, colW, ROW_HEIGHT);
      if (withText) {
        ctx.fillStyle = swatch ? swatch.color : ink.muted;
        ctx.fillText(fit(data.text(r, c)), c * colW + colW / 2, y + ROW_HEIGHT / 2 + 0.5);
      }
    }
  }
  return pendingCols;
}

/** A pending column: the grid-line colour, hatched with the muted text colour. */
function paintPending(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number, ink: Ink) {
  ctx.fillStyle = ink.gridLine;
  ctx.fillRect(x, y, w, h);
  ctx.save();
  ctx.beginPath();
  ctx.rect(x, y, w, h);
  ctx.clip();
  ctx.strokeStyle = ink.muted;
  ctx.globalAlpha = 0.35;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let d = -h; d < w; d += 7) {
    ctx.moveTo(x + d, y + h);
    ctx.lineTo(x + d + h, y);
  }
  ctx.stroke();
  ctx.restore();
}

/** Thin separators between cells (1 device pixel), drawn once over the whole grid. */
function paintSeparators(ctx: CanvasRenderingContext2D, data: RectGridData, colW: number, dpr: number, gridLine: string) {
  const width = colW * data.cols;
  const height = HEADER_HEIGHT + ROW_HEIGHT * data.rows;
  ctx.strokeStyle = gridLine;
  ctx.lineWidth = 1 / dpr;
  ctx.beginPath();
  for (let c = 1; c < data.cols && colW >= SEPARATED_COL; c++) {
    ctx.moveTo(c * colW, HEADER_HEIGHT);
    ctx.lineTo(c * colW, height);
  }
  for (let r = 1; r < data.rows; r++) {
    ctx.moveTo(0, HEADER_HEIGHT + r * ROW_HEIGHT);
    ctx.lineTo(width, HEADER_HEIGHT + r * ROW_HEIGHT);
  }
  ctx.stroke();
}

/** A row's label beside it. */
function rowLabel(text: string, r: number): HTMLElement {
  const label = document.createElement("div");
  label.className = "cw-rect-grid-row";
  label.style.height = `${ROW_HEIGHT}px`;
  label.textContent = text;
  label.dataset.row = String(r);
  return label;
}

function placeBox(box: HTMLElement, x: number, y: number, w: number, h: number) {
  box.hidden = false;
  Object.assign(box.style, { left: `${x}px`, top: `${y}px`, width: `${w}px`, height: `${h}px` });
}

/** The whole grid as a standalone SVG: a rect and the cell's text per cell (past
 * MAX_VECTOR_CELLS, one raster of the colours). */
function rectGridSvg(
  d: RectGridData | null, s: ColorScale | null, gridLine: string, svg: RectGridOptions["svg"], title: string, colors: SvgGridSpec["colors"],
): string {
  const cols = d?.cols ?? 0;
  const empty = cssHex(gridLine, colors.background);
  const swatch = (r: number, c: number) => (d && s ? s(d.value(r, c)) : null);
  const spec = {
    title,
    rowTitle: svg.rowTitle,
    colTitle: svg.colTitle,
    rowLabels: d?.rowLabels.slice(0, d.rows) ?? [],
    colLabels: Array.from({ length: cols }, (_, c) => `${(d?.firstColumn ?? 0) + c} ${tokenLabel(d?.colLabels[c] ?? "")}`),
    cellWidth: svg.cellWidth,
    cellHeight: ROW_HEIGHT,
    colors,
  };
  return cellGridSvg(
    spec,
    (r, c) => {
      const sw = swatch(r, c);
      return {
        fill: sw ? cssHex(sw.background, empty) : empty,
        text: svgCellText(tokenLabel(d?.text(r, c) ?? "")),
        textFill: sw ? cssHex(sw.color, colors.text) : colors.muted,
      };
    },
    (r, c) => {
      const fill = swatch(r, c)?.fill;
      return fill ? [fill.r, fill.g, fill.b] : [128, 128, 128];
    },
  );
}

/** `text` cut to fit `width` pixels in the context's font, with an ellipsis when cut. */
function fitText(ctx: CanvasRenderingContext2D, text: string, width: number): string {
  if (ctx.measureText(text).width <= width) return text;
  let cut = text;
  while (cut.length > 1 && ctx.measureText(`${cut}…`).width > width) cut = cut.slice(0, -1);
  return `${cut}…`;
}
