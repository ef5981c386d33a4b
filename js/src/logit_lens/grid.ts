/**
 * The logit lens grid: readouts down, positions across, each cell the top-1 token there on a
 * colour for its value. One canvas, redrawn in one pass (a rectangle per cell, the token's
 * text where the cell is wide enough); the selected readout's row and the selected position's
 * column are outlined by two overlay boxes, and a cursor box marks the hovered cell (the
 * anchor for the hover card). Columns whose numbers have not arrived yet are hatched and empty
 * (`pending`), so a column still being computed never reads as a real, low value.
 *
 * Mouse: hover a cell; click it to pick it. Keyboard (grid focused): arrows move the pick
 * (up/down: readout, left/right: position), Home/End go to the first/last position.
 */
import type { ColorScale } from "../kit/color_scale";
import { cssHex, gridSvg, MAX_VECTOR_CELLS, rasterCells, type SvgGridSpec } from "../kit/svg_grid";
import { tokenParts } from "../kit/token_strip";

export interface GridCell {
  row: number;
  col: number;
}

export interface GridData {
  rows: number;
  cols: number;
  rowLabels: readonly string[];
  /** Column header text (the input token), drawn when columns are wide enough. */
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

export interface GridOptions {
  label: string;
  signal: AbortSignal;
  onHover(cell: GridCell | null, anchor: HTMLElement): void;
  onPick(cell: GridCell): void;
  /** A key moved the pick by (rows, cols), or to `"home"`/`"end"` of the row. */
  onKey(move: { rows: number; cols: number } | "home" | "end"): void;
}

export interface LensGrid {
  readonly element: HTMLElement;
  setData(data: GridData): void;
  setScale(scale: ColorScale, muted: string, grid: string): void;
  setMarks(row: number | null, col: number | null): void;
  /** Scroll so that column `col` is in view. */
  reveal(col: number): void;
  readonly lastDrawMs: number;
  /** The whole grid as a standalone SVG (a rect and the top token per cell; see kit/svg_grid.ts). */
  toSvg(title: string, colors: SvgGridSpec["colors"]): string;
}

const ROW_HEIGHT = 22;
const HEADER_HEIGHT = 20;
const MIN_COL = 10;
const MAX_COL = 64;
/** Columns at least this wide show their token's text. */
const TEXT_COL = 30;

/** A token as one line of visible characters (spaces as ·, newlines as ↵ ...). */
export function tokenLabel(token: string): string {
  return tokenParts(token).map((p) => p.text).join("");
}

/** Column width in CSS pixels for `cols` columns in `available` pixels. */
export function columnWidth(available: number, cols: number): number {
  return Math.max(MIN_COL, Math.min(MAX_COL, Math.floor(available / Math.max(1, cols))));
}

export function createLensGrid(parent: HTMLElement, options: GridOptions): LensGrid {
  const { element, labels, scroller, plot, canvas, rowBand, colBand, cursor } = gridElements(parent, options.label);

  const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
  let data: GridData | null = null;
  let scale: ColorScale | null = null;
  let muted = "#888";
  let gridLine = "#ddd";
  let colW = MAX_COL;
  let marks: { row: number | null; col: number | null } = { row: null, col: null };
  let frame = 0;
  let lastDrawMs = 0;

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
    const width = colW * data.cols;
    const height = HEADER_HEIGHT + ROW_HEIGHT * data.rows;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    plot.style.width = `${width}px`;
    plot.style.height = `${height}px`;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const font = getComputedStyle(element).getPropertyValue("--cw-mono").trim() || "monospace";
    ctx.font = `11px ${font}`;
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    const pendingCols = paintCells(ctx, data, scale, colW, { muted, gridLine });
    paintSeparators(ctx, data, colW, dpr, gridLine);

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
    labels.querySelectorAll<HTMLElement>(".cw-ll-grid-row").forEach((l) => {
      l.classList.toggle("cw-ll-grid-row-on", Number(l.dataset.row) === row);
    });
  }

  const cellAt = (e: PointerEvent | MouseEvent): GridCell | null => {
    if (!data) return null;
    const box = plot.getBoundingClientRect();
    const x = e.clientX - box.left;
    const y = e.clientY - box.top - HEADER_HEIGHT;
    const col = Math.floor(x / colW);
    const row = Math.floor(y / ROW_HEIGHT);
    if (y < 0 || row < 0 || row >= data.rows || col < 0 || col >= data.cols) return null;
    return { row, col };
  };

  plot.addEventListener("pointermove", (e) => {
    const cell = cellAt(e);
    if (!cell) {
      cursor.hidden = true;
      options.onHover(null, cursor);
      return;
    }
    placeBox(cursor, cell.col * colW, HEADER_HEIGHT + cell.row * ROW_HEIGHT, colW, ROW_HEIGHT);
    element.dataset.hoverRow = String(cell.row);
    element.dataset.hoverCol = String(cell.col);
    options.onHover(cell, cursor);
  });
  plot.addEventListener("pointerleave", () => {
    cursor.hidden = true;
    options.onHover(null, cursor);
  });
  plot.addEventListener("click", (e) => {
    const cell = cellAt(e);
    if (cell) options.onPick(cell);
  });
  scroller.addEventListener("keydown", (e) => {
    const move = GRID_MOVES[e.key];
    if (move === undefined) return;
    e.preventDefault();
    e.stopPropagation();
    options.onKey(move);
  });

  return {
    element,
    toSvg: (title, colors) => lensGridSvg(data, scale, gridLine, title, colors),
    get lastDrawMs() {
      return lastDrawMs;
    },
    setData(next) {
      data = next;
      cursor.hidden = true;
      draw();
    },
    setScale(next, mutedColour, gridColour) {
      scale = next;
      muted = mutedColour;
      gridLine = gridColour;
      draw();
    },
    setMarks(row, col) {
      marks = { row, col };
      placeMarks();
    },
    reveal(col) {
      const left = col * colW;
      if (left < scroller.scrollLeft || left + colW > scroller.scrollLeft + scroller.clientWidth) {
        scroller.scrollLeft = Math.max(0, left - scroller.clientWidth / 2);
      }
    },
  };
}

/** The grid's elements: row labels beside a scroller holding the canvas and its overlay boxes. */
function gridElements(parent: HTMLElement, label: string) {
  const element = document.createElement("div");
  element.className = "cw-ll-grid";
  const labels = document.createElement("div");
  labels.className = "cw-ll-grid-rows";
  const scroller = document.createElement("div");
  scroller.className = "cw-ll-grid-scroll";
  scroller.tabIndex = 0;
  scroller.setAttribute("role", "img");
  scroller.setAttribute("aria-roledescription", "grid of readouts by positions");
  scroller.setAttribute("aria-label", label);
  scroller.setAttribute("data-lm-suppress-shortcuts", "true");
  const plot = document.createElement("div");
  plot.className = "cw-ll-grid-plot";
  const canvas = document.createElement("canvas");
  const rowBand = document.createElement("div");
  rowBand.className = "cw-ll-band cw-ll-band-row";
  const colBand = document.createElement("div");
  colBand.className = "cw-ll-band cw-ll-band-col";
  const cursor = document.createElement("div");
  cursor.className = "cw-ll-cursor";
  rowBand.hidden = colBand.hidden = cursor.hidden = true;
  plot.append(canvas, rowBand, colBand, cursor);
  scroller.append(plot);
  element.append(labels, scroller);
  parent.append(element);
  return { element, labels, scroller, plot, canvas, rowBand, colBand, cursor };
}

/** The keys that move the pick: arrows by one readout / position, Home/End along the row. */
const GRID_MOVES: Record<string, { rows: number; cols: number } | "home" | "end"> = {
  ArrowUp: { rows: -1, cols: 0 }, ArrowDown: { rows: 1, cols: 0 },
  ArrowLeft: { rows: 0, cols: -1 }, ArrowRight: { rows: 0, cols: 1 },
  Home: "home", End: "end",
};

interface Ink {
  muted: string;
  gridLine: string;
}

/** The header (input tokens, or every 10th position when columns are narrow), the pending
 * columns hatched, every other cell on its colour with its token; returns how many columns
 * are pending. */
function paintCells(ctx: CanvasRenderingContext2D, data: GridData, scale: ColorScale, colW: number, ink: Ink): number {
  const withText = colW >= TEXT_COL;
  const fit = (text: string) => fitText(ctx, tokenLabel(text), colW - 4);
  ctx.fillStyle = ink.muted;
  for (let c = 0; c < data.cols; c++) {
    const x = c * colW + colW / 2;
    if (withText) ctx.fillText(fit(data.colLabels[c] ?? ""), x, HEADER_HEIGHT / 2);
    else if ((data.firstColumn + c) % 10 === 0) ctx.fillText(String(data.firstColumn + c), x, HEADER_HEIGHT / 2);
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
function paintSeparators(ctx: CanvasRenderingContext2D, data: GridData, colW: number, dpr: number, gridLine: string) {
  const width = colW * data.cols;
  const height = HEADER_HEIGHT + ROW_HEIGHT * data.rows;
  ctx.strokeStyle = gridLine;
  ctx.lineWidth = 1 / dpr;
  ctx.beginPath();
  for (let c = 1; c < data.cols && colW >= 16; c++) {
    ctx.moveTo(c * colW, HEADER_HEIGHT);
    ctx.lineTo(c * colW, height);
  }
  for (let r = 1; r < data.rows; r++) {
    ctx.moveTo(0, HEADER_HEIGHT + r * ROW_HEIGHT);
    ctx.lineTo(width, HEADER_HEIGHT + r * ROW_HEIGHT);
  }
  ctx.stroke();
}

/** A readout's label beside its row. */
function rowLabel(text: string, r: number): HTMLElement {
  const label = document.createElement("div");
  label.className = "cw-ll-grid-row";
  label.style.height = `${ROW_HEIGHT}px`;
  label.textContent = text;
  label.dataset.row = String(r);
  return label;
}

function placeBox(box: HTMLElement, x: number, y: number, w: number, h: number) {
  box.hidden = false;
  Object.assign(box.style, { left: `${x}px`, top: `${y}px`, width: `${w}px`, height: `${h}px` });
}

/** The whole grid as a standalone SVG (a rect and the top token per cell; see kit/svg_grid.ts). */
function lensGridSvg(d: GridData | null, s: ColorScale | null, gridLine: string, title: string, colors: SvgGridSpec["colors"]): string {
  const rows = d?.rows ?? 0;
  const cols = d?.cols ?? 0;
  const empty = cssHex(gridLine, colors.background);
  const swatch = (r: number, c: number) => (d && s ? s(d.value(r, c)) : null);
  const spec: SvgGridSpec = {
    title,
    rowTitle: "readout",
    colTitle: "position",
    rowLabels: d?.rowLabels ?? [],
    colLabels: Array.from({ length: cols }, (_, c) => `${c} ${tokenLabel(d?.colLabels[c] ?? "")}`),
    cellWidth: 44,
    cellHeight: ROW_HEIGHT,
    colors,
  };
  if (rows * cols <= MAX_VECTOR_CELLS) {
    spec.cell = (r, c) => {
      const sw = swatch(r, c);
      const token = tokenLabel(d?.text(r, c) ?? "");
      return {
        fill: sw ? cssHex(sw.background, empty) : empty,
        text: token.length > 6 ? `${token.slice(0, 5)}…` : token,
        textFill: sw ? cssHex(sw.color, colors.text) : colors.muted,
      };
    };
  } else {
    spec.raster = rasterCells(rows, cols, (r, c) => {
      const fill = swatch(r, c)?.fill;
      return fill ? [fill.r, fill.g, fill.b] : [128, 128, 128];
    });
  }
  return gridSvg(spec);
}

/** `text` cut to fit `width` pixels in the context's font, with an ellipsis when cut. */
function fitText(ctx: CanvasRenderingContext2D, text: string, width: number): string {
  if (ctx.measureText(text).width <= width) return text;
  let cut = text;
  while (cut.length > 1 && ctx.measureText(`${cut}…`).width > width) cut = cut.slice(0, -1);
  return `${cut}…`;
}
