/**
 * A square canvas heatmap with token labels on both axes, zoom and pan, a hover cursor and
 * locked row/column bands — the attention-pattern plot every view shares.
 *
 * Colour levels (0..255, row-major `n` x `n`) go through a colour scale's lookup table; each
 * draw is one `putImageData` into an offscreen canvas of at most the plot's pixel size, then
 * one scaled `drawImage` (see `rasterize` in heatmap_layout.ts). Labels are DOM text
 * (`textContent`), thinned to what fits. Hovering or the keyboard moves a cursor box over a
 * cell and reports it; the box is the anchor for the view's hover card.
 *
 * Mouse: hover a cell; click to select it; drag to pan; Ctrl/⌘ + wheel to zoom; Shift + drag a
 * box to zoom to it. Keyboard (plot focused): arrows move the cursor, Enter selects, + / −
 * zoom, 0 fits, Escape hides the cursor.
 *
 * A matrix too large to hold (a long text) comes as `layers` instead of `levels`: grids that
 * each cover a region at their own resolution, drawn topmost first (kit/heatmap_tiles.ts);
 * `onView` says what is on screen after each draw, so the owner can fetch the block for it.
 *
 *     const map = createHeatmap(parent, { label: "attention pattern", signal, onHover, onClick });
 *     map.setData({ n, levels, rowLabels, colLabels, causal: true });
 *     map.setColors(scale.lut, maskedRgb);
 *     map.setGuides([{ id: "induction", className: "my-stripe", runs: [{ row: 6, col: 2, length: 5 }] }]);
 *
 * Guides mark runs of cells along a diagonal (e.g. the cells a head score counts) with two
 * thin lines that bracket the cells without hiding them; they follow zoom and pan. Each is an
 * SVG `<path class="cw-heatmap-guide {className}" data-guide="{id}">` whose `d` holds the
 * drawn coordinates in plot pixels (see `bracketRun` in heatmap_layout.ts).
 */
import "./button.css";
import "./heatmap.css";
import {
  bracketRun, cellAt, clampView, fullView, panView, rasterize, revealCell, segmentsPath, thinLabels, truncateLabel,
  visibleCells, zoomView, type DiagonalRun, type Viewport,
} from "./heatmap_layout";
import { createCellHover } from "./cell_hover";
import { applyStep, gridStep } from "./grid_keys";
import { boxView, paintLayers, topLevel, type GridLayer } from "./heatmap_tiles";
import { cellGridSvg, hex, type SvgGridSpec } from "./svg_grid";
import { tokenLabel } from "./token_strip";

export type { GridCell as Cell } from "./grid_keys";
import type { GridCell as Cell } from "./grid_keys";

export interface HeatmapData {
  n: number;
  levels: Uint8Array;
  rowLabels: readonly string[];
  colLabels: readonly string[];
  /** Cells above the diagonal are masked (drawn in the masked colour, not as zero). */
  causal: boolean;
  /** Instead of `levels` (then empty): grids of regions, topmost last (kit/heatmap_tiles.ts). */
  layers?: readonly GridLayer[];
}

/** Runs of cells to bracket (see the module docs); `className` styles the lines. */
export interface Guide {
  id: string;
  className: string;
  runs: readonly DiagonalRun[];
}

export interface HeatmapOptions {
  label: string;
  rowTitle: string;
  colTitle: string;
  signal: AbortSignal;
  /** The cursor moved to `cell` (null: left the plot); `anchor` is the cursor box. */
  onHover?: (cell: Cell | null, anchor: HTMLElement) => void;
  onClick?: (cell: Cell) => void;
  /** Largest plot side in CSS pixels. */
  maxSize?: number;
  /** After each draw: the view on screen and the plot's side in device pixels. */
  onView?: (view: Viewport, px: number) => void;
}

export interface Heatmap {
  readonly element: HTMLElement;
  readonly plot: HTMLElement;
  setData(data: HeatmapData, keepView?: boolean): void;
  setColors(lut: Uint8ClampedArray, masked: readonly [number, number, number]): void;
  /** Highlight a locked row and/or column (null: none). */
  setMarks(row: number | null, col: number | null): void;
  /** Show the cursor on a cell (e.g. driven from another panel), or hide it. */
  showCursor(cell: Cell | null): void;
  /** Bracket runs of cells along diagonals (an empty list removes every guide). */
  setGuides(guides: readonly Guide[]): void;
  readonly viewport: Viewport;
  /**
   * What the plot shows (the zoomed window) as a standalone SVG: a rect per cell, or past
   * MAX_VECTOR_CELLS one embedded raster of the cells; labels and titles as text. See svg_grid.ts.
   */
  toSvg(title: string, colors: SvgGridSpec["colors"]): string;
  /** Milliseconds the last draw took (for benchmarks). */
  readonly lastDrawMs: number;
}

const LABEL_GAP = 14;
const ROW_LABEL_CHARS = 12;
const COL_LABEL_CHARS = 10;
const ZOOM_STEP = 1.6;
const DRAG_THRESHOLD = 4;
/** A layered matrix's SVG holds at most this many cells a side. */
const SVG_SAMPLES = 512;

const labelText = (token: string, max: number) => truncateLabel(tokenLabel(token), max);

function div(className: string, parent?: HTMLElement): HTMLDivElement {
  const el = document.createElement("div");
  el.className = className;
  parent?.append(el);
  return el;
}

export function createHeatmap(parent: HTMLElement, options: HeatmapOptions): Heatmap {
  const maxSize = options.maxSize ?? 520;
  const { element, top, left, plot, canvas, rowBand, colBand, cursor, guideLayer, tools } = heatmapElements(parent, options);
  addZoomTools(tools, {
    zoomIn: () => zoom(ZOOM_STEP),
    zoomOut: () => zoom(1 / ZOOM_STEP),
    fit: () => setView(fullView(data?.n ?? 1)),
  });

  const painter = createPainter(canvas);

  let data: HeatmapData | null = null;
  let lut: Uint8ClampedArray | null = null;
  let masked: readonly [number, number, number] = [240, 240, 240];
  let view: Viewport = fullView(1);
  let size = maxSize;
  let marks: { row: number | null; col: number | null } = { row: null, col: null };
  const hover = createCellHover(plot, cursor, (cell) => box(cursor, cell.row, cell.col, 1, 1), options.onHover);
  let guides: { guide: Guide; path: SVGPathElement }[] = [];
  let frame = 0;
  let lastDrawMs = 0;

  const pxPerCell = () => size / view.span;

  function layout() {
    const available = element.parentElement?.clientWidth ?? maxSize;
    const leftWidth = left.offsetWidth || 100;
    const next = Math.max(160, Math.min(maxSize, Math.floor(available - leftWidth - 8)));
    if (next !== size) {
      size = next;
      schedule();
    }
  }

  function schedule() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      draw();
    });
  }

  function draw() {
    if (!data || !lut) return;
    const started = performance.now();
    const px = sizePlot({ plot, top, left, canvas }, size);
    const { rows, cols } = painter.paint(data, lut, masked, view, px);
    drawLabels(rows, cols);
    placeOverlays();
    lastDrawMs = performance.now() - started;
    element.dataset.span = String(Math.round(view.span));
    element.dataset.view = `${Math.round(view.row0)},${Math.round(view.col0)},${Math.round(view.span)}`;
    options.onView?.(view, px);
  }

  function drawLabels(rows: { first: number; count: number }, cols: { first: number; count: number }) {
    if (data) paintLabels(left, top, data, view, pxPerCell(), rows, cols);
  }

  const box = (el: HTMLElement, row: number | null, col: number | null, rowsSpan: number, colsSpan: number) =>
    placeBox(el, view, size, row, col, rowsSpan, colsSpan);

  function placeOverlays() {
    if (marks.row === null) rowBand.hidden = true;
    else box(rowBand, marks.row, null, 1, 0);
    if (marks.col === null) colBand.hidden = true;
    else box(colBand, null, marks.col, 0, 1);
    hover.place();
    placeGuides(guideLayer, guides, view, size);
  }

  function setView(next: Viewport) {
    if (!data) return;
    view = clampView(next, data.n);
    schedule();
  }
  function zoom(factor: number, fx = 0.5, fy = 0.5) {
    if (data) setView(zoomView(view, data.n, factor, fx, fy));
  }

  const moveCursor = (cell: Cell | null, announce = true) => hover.move(cell, announce);

  const controls: Controls = {
    plot,
    data: () => data,
    view: () => view,
    size: () => size,
    pxPerCell,
    at: () => hover.cell ?? { row: marks.row ?? 0, col: marks.col ?? 0 },
    hasCursor: () => hover.cell !== null,
    setView,
    zoom,
    moveCursor,
    click: (cell) => options.onClick?.(cell),
  };
  bindPointer(controls);
  bindKeys(controls);

  const resize = new ResizeObserver(layout);
  resize.observe(parent);
  options.signal.addEventListener("abort", () => {
    resize.disconnect();
    cancelAnimationFrame(frame);
  });

  return {
    element,
    plot,
    get viewport() {
      return view;
    },
    get lastDrawMs() {
      return lastDrawMs;
    },
    setData(next, keepView = false) {
      const sameSize = data?.n === next.n;
      data = next;
      if (!(keepView && sameSize)) view = fullView(next.n);
      const at = hover.cell;
      if (at && (at.row >= next.n || at.col >= next.n)) hover.move(null, false);
      layout();
      draw(); // at once: callers time and test what is drawn
    },
    setColors(nextLut, nextMasked) {
      lut = nextLut;
      masked = nextMasked;
      schedule();
    },
    setMarks(row, col) {
      marks = { row, col };
      placeOverlays();
    },
    showCursor(cell) {
      moveCursor(cell, false);
    },
    toSvg(title, colors) {
      return heatmapSvg(data, lut, masked, view, options, title, colors);
    },
    setGuides(next) {
      guides = next.map((guide) => ({ guide, path: guidePath(guide) }));
      guideLayer.replaceChildren(...guides.map((g) => g.path));
      placeOverlays();
    },
  };
}

const SVG = "http://www.w3.org/2000/svg";

/** The heatmap's elements: a corner with the axis titles, the labels above and to the left,
 * the plot (canvas, bands, cursor, guide layer) and the tools row. */
function heatmapElements(parent: HTMLElement, options: HeatmapOptions) {
  const element = div("cw-heatmap", parent);
  const corner = div("cw-heatmap-corner", element);
  const colTitle = document.createElement("span");
  colTitle.textContent = `${options.colTitle} →`;
  const rowTitle = document.createElement("span");
  rowTitle.textContent = `${options.rowTitle} ↓`;
  corner.append(colTitle, rowTitle);
  const top = div("cw-heatmap-top", element);
  const left = div("cw-heatmap-left", element);
  const plot = div("cw-heatmap-plot", element);
  plot.tabIndex = 0;
  plot.setAttribute("role", "img");
  plot.setAttribute("aria-label", options.label);
  plot.setAttribute("aria-roledescription", "heatmap");
  plot.setAttribute("data-lm-suppress-shortcuts", "true"); // keys here are the heatmap's
  const canvas = document.createElement("canvas");
  plot.append(canvas);
  const rowBand = div("cw-heatmap-band cw-heatmap-band-row", plot);
  const colBand = div("cw-heatmap-band cw-heatmap-band-col", plot);
  const cursor = div("cw-heatmap-cursor", plot);
  rowBand.hidden = colBand.hidden = cursor.hidden = true;
  const guideLayer = document.createElementNS(SVG, "svg");
  guideLayer.classList.add("cw-heatmap-guides");
  guideLayer.setAttribute("aria-hidden", "true");
  plot.append(guideLayer);
  const tools = div("cw-heatmap-tools", element);
  return { element, top, left, plot, canvas, rowBand, colBand, cursor, guideLayer, tools };
}

/** The zoom buttons (+, −, Fit) and the pan/zoom hint. */
function addZoomTools(tools: HTMLElement, actions: { zoomIn(): void; zoomOut(): void; fit(): void }) {
  const button = (text: string, title: string, action: () => void) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "cw-button cw-heatmap-zoom";
    b.textContent = text;
    b.title = title;
    b.setAttribute("aria-label", title);
    b.addEventListener("click", action);
    tools.append(b);
  };
  button("+", "Zoom in", actions.zoomIn);
  button("−", "Zoom out", actions.zoomOut);
  button("Fit", "Show the whole pattern", actions.fit);
  const hint = document.createElement("span");
  hint.className = "cw-heatmap-hint";
  hint.textContent = "drag to pan · Ctrl/⌘ + wheel or Shift + drag a box to zoom";
  tools.append(hint);
}

/** A row or column label, centred at `at` CSS pixels along its axis. */
function axisLabel(i: number, text: string, axis: "row" | "col", at: number): HTMLSpanElement {
  const label = document.createElement("span");
  label.className = `cw-heatmap-label cw-heatmap-label-${axis}`;
  label.textContent = labelText(text, axis === "row" ? ROW_LABEL_CHARS : COL_LABEL_CHARS);
  label.title = `${i}: ${text}`;
  label.dataset.index = String(i);
  label.style.setProperty("--at", `${at}px`);
  return label;
}

/** What the pointer and keyboard handlers read and do (the heatmap's state stays inside it). */
interface Controls {
  readonly plot: HTMLElement;
  data(): HeatmapData | null;
  view(): Viewport;
  size(): number;
  pxPerCell(): number;
  /** The cell keys move from: the cursor's, else the marks' (else 0, 0). */
  at(): Cell;
  hasCursor(): boolean;
  setView(view: Viewport): void;
  zoom(factor: number, fx?: number, fy?: number): void;
  moveCursor(cell: Cell | null): void;
  click(cell: Cell): void;
}

/** Hover moves the cursor, a click selects, a drag pans, Ctrl/⌘ + wheel zooms. */
function bindPointer(c: Controls) {
  const { plot } = c;
  let drag: { x: number; y: number; view: Viewport; moved: boolean; box: HTMLElement | null } | null = null;
  const local = (e: PointerEvent | WheelEvent | MouseEvent) => {
    const r = plot.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };
  plot.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    drag = { ...local(e), view: c.view(), moved: false, box: null };
    if (e.shiftKey) {
      drag.box = div("cw-heatmap-zoombox", plot);
      drag.box.hidden = true;
    }
  });
  plot.addEventListener("pointermove", (e) => {
    const data = c.data();
    if (!data) return;
    const p = local(e);
    if (drag && e.buttons & 1) {
      const dx = p.x - drag.x, dy = p.y - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < DRAG_THRESHOLD) return;
      if (!drag.moved) plot.setPointerCapture(e.pointerId);
      drag.moved = true;
      if (drag.box) {
        const box = drag.box;
        box.hidden = false;
        box.style.transform = `translate(${Math.min(p.x, drag.x)}px, ${Math.min(p.y, drag.y)}px)`;
        box.style.width = `${Math.abs(dx)}px`;
        box.style.height = `${Math.abs(dy)}px`;
        return;
      }
      plot.classList.add("cw-heatmap-dragging");
      c.setView(panView(drag.view, data.n, -dy / c.pxPerCell(), -dx / c.pxPerCell()));
      return;
    }
    c.moveCursor(cellAt(c.view(), data.n, c.size(), p.x, p.y));
  });
  plot.addEventListener("pointerup", (e) => {
    const wasDrag = drag?.moved;
    const started = drag;
    drag = null;
    started?.box?.remove();
    plot.classList.remove("cw-heatmap-dragging");
    const data = c.data();
    if (!data) return;
    const p = local(e);
    if (wasDrag && started?.box) {
      c.setView(boxView(c.view(), data.n, c.size(), started.x, started.y, p.x, p.y));
      return;
    }
    if (wasDrag) return;
    const cell = cellAt(c.view(), data.n, c.size(), p.x, p.y);
    if (cell) c.click(cell);
  });
  plot.addEventListener("pointerleave", () => {
    if (!drag) c.moveCursor(null);
  });
  plot.addEventListener(
    "wheel",
    (e) => {
      if (!(e.ctrlKey || e.metaKey) || !c.data()) return; // plain wheel scrolls the notebook
      e.preventDefault();
      const p = local(e);
      c.zoom(e.deltaY < 0 ? 1.25 : 1 / 1.25, p.x / c.size(), p.y / c.size());
    },
    { passive: false },
  );
}

/** Where an arrow, Home or End key moves the cursor from `at` in an n x n plot (End: the
 * diagonal, the last unmasked key of a causal row); undefined for any other key. */
export function cursorMove(key: string, at: Cell, n: number): Cell | undefined {
  const step = gridStep(key);
  if (step === null) return undefined;
  return step === "end" ? { row: at.row, col: at.row } : applyStep(step, at, n, n);
}

/** Arrows move the cursor, Enter selects, + / − zoom, 0 fits, Escape hides the cursor. */
function bindKeys(c: Controls) {
  const { plot } = c;
  plot.addEventListener("keydown", (e) => {
    const data = c.data();
    if (!data) return;
    const n = data.n;
    const at = c.at();
    const move = cursorMove(e.key, at, n);
    if (move) {
      e.preventDefault();
      e.stopPropagation();
      const view = c.view();
      const revealed = revealCell(view, n, move.row, move.col);
      if (revealed.row0 !== view.row0 || revealed.col0 !== view.col0) c.setView(revealed);
      c.moveCursor(move);
    } else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      e.stopPropagation();
      c.click(at);
    } else if (e.key === "+" || e.key === "=") {
      c.zoom(ZOOM_STEP);
    } else if (e.key === "-") {
      c.zoom(1 / ZOOM_STEP);
    } else if (e.key === "0") {
      c.setView(fullView(n));
    } else if (e.key === "Escape") {
      c.moveCursor(null);
    } else {
      return;
    }
    // Ours: not also a notebook shortcut (JupyterLab's "0 0" restarts the kernel).
    e.preventDefault();
    e.stopPropagation();
  });
  plot.addEventListener("blur", () => {
    if (c.hasCursor()) c.moveCursor(null);
  });
}

/** The zoomed window as a standalone SVG (see `Heatmap.toSvg`). */
function heatmapSvg(
  data: HeatmapData | null, lut: Uint8ClampedArray | null, masked: readonly [number, number, number], view: Viewport,
  options: HeatmapOptions, title: string, colors: SvgGridSpec["colors"],
): string {
  const n = data?.n ?? 0;
  // a layered (long) matrix: at most SVG_SAMPLES positions a side, each the cell under it
  const sampled = (span: { first: number; count: number }) => {
    const m = data?.layers ? Math.min(span.count, SVG_SAMPLES) : span.count;
    return { first: span.first, count: m, at: (i: number) => span.first + Math.floor((i * span.count) / m), of: span.count };
  };
  const rows = sampled(visibleCells(view.row0, view.span, n));
  const cols = sampled(visibleCells(view.col0, view.span, n));
  const rgb = (r: number, c: number): readonly [number, number, number] => {
    if (!data || !lut) return [0, 0, 0];
    if (data.causal && c > r) return masked;
    const level = data.layers ? topLevel(data.layers, r, c) : (data.levels[r * n + c] as number);
    if (level < 0) return masked;
    const l = level * 4;
    return [lut[l] as number, lut[l + 1] as number, lut[l + 2] as number];
  };
  const whole = rows.of === n && cols.of === n;
  const range = `rows ${rows.first}–${rows.first + rows.of - 1}, columns ${cols.first}–${cols.first + cols.of - 1} of ${n}`;
  const note = rows.count < rows.of || cols.count < cols.of
    ? `${range}, sampled to ${rows.count} x ${cols.count} cells`
    : whole ? undefined : `${range} (the zoomed view)`;
  const spec: SvgGridSpec = {
    title,
    note,
    rowTitle: options.rowTitle,
    colTitle: options.colTitle,
    rowLabels: Array.from({ length: rows.count }, (_, i) => labelText(data?.rowLabels[rows.at(i)] ?? "", ROW_LABEL_CHARS)),
    colLabels: Array.from({ length: cols.count }, (_, i) => labelText(data?.colLabels[cols.at(i)] ?? "", ROW_LABEL_CHARS)),
    colors,
  };
  const cellSize = Math.max(2, Math.min(18, Math.floor(720 / Math.max(rows.count, cols.count))));
  spec.cellWidth = spec.cellHeight = cellSize;
  const shown = (r: number, c: number) => rgb(rows.at(r), cols.at(c));
  const cell = (r: number, c: number) => {
    const [R, G, B] = shown(r, c);
    return { fill: hex({ r: R, g: G, b: B }) };
  };
  return cellGridSvg(spec, cell, shown);
}

/** The plot's canvas painter: the visible cells rasterized into an offscreen canvas of at most
 * the plot's pixel size (one `putImageData`), then drawn scaled in one `drawImage` over the
 * masked colour. Returns the visible rows and columns. */
function createPainter(canvas: HTMLCanvasElement) {
  const ctx = canvas.getContext("2d", { alpha: false }) as CanvasRenderingContext2D;
  const off = document.createElement("canvas");
  const offCtx = off.getContext("2d") as CanvasRenderingContext2D;
  let image: ImageData | null = null;
  return {
    paint(data: HeatmapData, lut: Uint8ClampedArray, masked: readonly [number, number, number], view: Viewport, px: number) {
      const rows = visibleCells(view.row0, view.span, data.n);
      const cols = visibleCells(view.col0, view.span, data.n);
      if (data.layers) {
        if (!image || image.width !== px || image.height !== px) image = new ImageData(px, px);
        paintLayers(view, data.n, px, px, data.layers, lut, masked, data.causal, image.data);
        ctx.putImageData(image, 0, 0);
        return { rows, cols };
      }
      const width = Math.max(1, Math.min(cols.count, px));
      const height = Math.max(1, Math.min(rows.count, px));
      if (!image || image.width !== width || image.height !== height) {
        image = new ImageData(width, height);
        off.width = width;
        off.height = height;
      }
      rasterize(
        data.levels, data.n,
        { row0: rows.first, col0: cols.first, rows: rows.count, cols: cols.count },
        width, height, lut, image.data, data.causal, masked,
      );
      offCtx.putImageData(image, 0, 0);
      const cell = px / view.span;
      ctx.imageSmoothingEnabled = false;
      ctx.fillStyle = `rgb(${masked.join(" ")})`;
      ctx.fillRect(0, 0, px, px);
      ctx.drawImage(
        off, 0, 0, width, height,
        (cols.first - view.col0) * cell, (rows.first - view.row0) * cell, cols.count * cell, rows.count * cell,
      );
      return { rows, cols };
    },
  };
}

type Span = { first: number; count: number };

/** The row and column labels of the visible cells, thinned to what fits. */
function paintLabels(left: HTMLElement, top: HTMLElement, data: HeatmapData, view: Viewport, ppc: number, rows: Span, cols: Span) {
  const make = (i: number, text: string, axis: "row" | "col") =>
    axisLabel(i, text, axis, ((i - (axis === "row" ? view.row0 : view.col0)) + 0.5) * ppc);
  left.replaceChildren(...thinLabels(rows.first, rows.count, ppc, LABEL_GAP).map((i) => make(i, data.rowLabels[i] ?? "", "row")));
  top.replaceChildren(...thinLabels(cols.first, cols.count, ppc, LABEL_GAP).map((i) => make(i, data.colLabels[i] ?? "", "col")));
}

/** Place an overlay box over a row (col null), a column (row null) or a cell; hidden when
 * outside the plot. */
function placeBox(
  el: HTMLElement, view: Viewport, size: number, row: number | null, col: number | null, rowsSpan: number, colsSpan: number,
) {
  const ppc = size / view.span;
  const x = col === null ? 0 : (col - view.col0) * ppc;
  const y = row === null ? 0 : (row - view.row0) * ppc;
  const w = col === null ? size : Math.max(colsSpan * ppc, 3);
  const h = row === null ? size : Math.max(rowsSpan * ppc, 3);
  const outside = x + w < 0 || y + h < 0 || x > size || y > size;
  el.hidden = outside;
  el.style.transform = `translate(${x}px, ${y}px)`;
  el.style.width = `${w}px`;
  el.style.height = `${h}px`;
}

/** A guide's SVG path (its `d` is set when the overlays are placed). */
function guidePath(guide: Guide): SVGPathElement {
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("class", `cw-heatmap-guide ${guide.className}`);
  path.dataset.guide = guide.id;
  path.dataset.runs = guide.runs.map((r) => `${r.row},${r.col},${r.length}`).join(" ");
  return path;
}

/** The plot, its canvas and the label strips at `size` CSS pixels; returns the canvas's side
 * in device pixels. */
function sizePlot(parts: { plot: HTMLElement; top: HTMLElement; left: HTMLElement; canvas: HTMLCanvasElement }, size: number): number {
  const { plot, top, left, canvas } = parts;
  const dpr = window.devicePixelRatio || 1;
  const px = Math.round(size * dpr);
  plot.style.width = plot.style.height = `${size}px`;
  top.style.width = `${size}px`;
  left.style.height = `${size}px`;
  if (canvas.width !== px || canvas.height !== px) {
    canvas.width = canvas.height = px;
  }
  canvas.style.width = canvas.style.height = `${size}px`;
  return px;
}

/** The guide layer over the plot, each guide's path drawn for the view. */
function placeGuides(layer: SVGSVGElement, guides: readonly { guide: Guide; path: SVGPathElement }[], view: Viewport, size: number) {
  layer.setAttribute("width", String(size));
  layer.setAttribute("height", String(size));
  layer.setAttribute("viewBox", `0 0 ${size} ${size}`);
  for (const { guide, path } of guides) {
    path.setAttribute("d", segmentsPath(guide.runs.flatMap((run) => bracketRun(view, size, run))));
  }
}
