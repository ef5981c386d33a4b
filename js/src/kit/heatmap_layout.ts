/**
 * The arithmetic of a square heatmap with zoom and pan, free of the DOM (unit-tested):
 * which cells are visible, which labels fit, which cell is under the pointer, and how the
 * visible cells become one image (one pixel per cell, or the maximum of a block of cells per
 * pixel when there are more cells than pixels).
 *
 * A {@link Viewport} shows `span` x `span` cells of an `n` x `n` matrix starting at row
 * `row0`, column `col0` (fractional while panning).
 */

export interface Viewport {
  row0: number;
  col0: number;
  span: number;
}

/** The smallest span zooming in may reach (cells per side). */
export const MIN_SPAN = 8;

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** The whole matrix. */
export function fullView(n: number): Viewport {
  return { row0: 0, col0: 0, span: n };
}

/** `view` moved and sized to stay inside an `n` x `n` matrix. */
export function clampView(view: Viewport, n: number): Viewport {
  const span = clamp(view.span, Math.min(n, MIN_SPAN), n);
  return { span, row0: clamp(view.row0, 0, n - span), col0: clamp(view.col0, 0, n - span) };
}

/** Zoom by `factor` (> 1 zooms in) keeping the cell at fraction (`fx`, `fy`) of the plot
 * where it is on screen. */
export function zoomView(view: Viewport, n: number, factor: number, fx = 0.5, fy = 0.5): Viewport {
  const span = clamp(view.span / factor, Math.min(n, MIN_SPAN), n);
  const anchorCol = view.col0 + fx * view.span;
  const anchorRow = view.row0 + fy * view.span;
  return clampView({ span, col0: anchorCol - fx * span, row0: anchorRow - fy * span }, n);
}

/** Move the view by a number of cells (positive: towards later rows / columns). */
export function panView(view: Viewport, n: number, dRows: number, dCols: number): Viewport {
  return clampView({ ...view, row0: view.row0 + dRows, col0: view.col0 + dCols }, n);
}

/** A view that contains cell (`row`, `col`), moved as little as possible. */
export function revealCell(view: Viewport, n: number, row: number, col: number): Viewport {
  const fit = (start: number, i: number) => (i < start ? i : i + 1 > start + view.span ? i + 1 - view.span : start);
  return clampView({ ...view, row0: fit(view.row0, row), col0: fit(view.col0, col) }, n);
}

/** The cell under a point (`x`, `y` in CSS pixels from the plot's top-left corner of a plot
 * `size` pixels wide), or `null` outside the matrix. */
export function cellAt(view: Viewport, n: number, size: number, x: number, y: number): { row: number; col: number } | null {
  if (x < 0 || y < 0 || x >= size || y >= size) return null;
  const row = Math.floor(view.row0 + (y / size) * view.span);
  const col = Math.floor(view.col0 + (x / size) * view.span);
  return row >= 0 && col >= 0 && row < n && col < n ? { row, col } : null;
}

/** The integer cells a view touches: `[first, first + count)` per axis. */
export function visibleCells(start: number, span: number, n: number): { first: number; count: number } {
  const first = clamp(Math.floor(start), 0, n);
  const end = clamp(Math.ceil(start + span - 1e-9), first, n);
  return { first, count: end - first };
}

const NICE = [1, 2, 5];

/** The smallest "nice" step (1, 2, 5, 10, 20, 50 ...) of at least `minimum`. */
export function niceStep(minimum: number): number {
  if (!(minimum > 1)) return 1;
  for (let scale = 1; ; scale *= 10) {
    for (const m of NICE) if (m * scale >= minimum) return m * scale;
  }
}

/**
 * Which labels of the visible cells `[first, first + count)` to draw, when each cell is
 * `pxPerCell` pixels and labels need `minGap` pixels each: every `step`-th index, at
 * multiples of a nice step, so the labels stay put while panning.
 */
export function thinLabels(first: number, count: number, pxPerCell: number, minGap: number): number[] {
  if (count <= 0 || !(pxPerCell > 0)) return [];
  const step = niceStep(minGap / pxPerCell);
  const out: number[] = [];
  for (let i = Math.ceil(first / step) * step; i < first + count; i += step) out.push(i);
  return out;
}

/** A label cut to at most `max` characters, with an ellipsis when cut. */
export function truncateLabel(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, Math.max(1, max - 1)).join("") + "…";
}

/**
 * Paint the cells `rows x cols` starting at (`row0`, `col0`) of the `n` x `n` matrix of colour
 * levels (0..255, row-major) into an RGBA image `width` x `height` (`width <= cols`,
 * `height <= rows`). Each pixel shows the largest level of its block of cells — one cell when
 * the image is as large as the block, more when zoomed out — so a thin stripe of strong
 * attention never disappears. With `causal`, blocks wholly above the diagonal (key after
 * query: masked, not zero) get `masked` instead.
 */
export function rasterize(
  levels: Uint8Array,
  n: number,
  region: { row0: number; col0: number; rows: number; cols: number },
  width: number,
  height: number,
  lut: Uint8ClampedArray,
  out: Uint8ClampedArray,
  causal: boolean,
  masked: readonly [number, number, number],
): void {
  const { row0, col0, rows, cols } = region;
  if (width > cols || height > rows || width < 1 || height < 1) {
    throw new RangeError(`image ${width}x${height} does not fit ${cols}x${rows} cells`);
  }
  if (out.length !== width * height * 4) throw new RangeError("output buffer has the wrong size");
  const colStart = new Int32Array(width + 1);
  for (let x = 0; x <= width; x++) colStart[x] = col0 + Math.floor((x * cols) / width);
  for (let y = 0; y < height; y++) {
    const r0 = row0 + Math.floor((y * rows) / height);
    const r1 = row0 + Math.floor(((y + 1) * rows) / height);
    for (let x = 0; x < width; x++) {
      const c0 = colStart[x] as number;
      const c1 = colStart[x + 1] as number;
      const o = (y * width + x) * 4;
      if (causal && c0 > r1 - 1) {
        out[o] = masked[0];
        out[o + 1] = masked[1];
        out[o + 2] = masked[2];
        out[o + 3] = 255;
        continue;
      }
      let best = 0;
      for (let r = r0; r < r1; r++) {
        const base = r * n;
        for (let c = c0; c < c1; c++) {
          const v = levels[base + c] as number;
          if (v > best) best = v;
        }
      }
      const l = best * 4;
      out[o] = lut[l] as number;
      out[o + 1] = lut[l + 1] as number;
      out[o + 2] = lut[l + 2] as number;
      out[o + 3] = 255;
    }
  }
}

/** Colour levels 0..255 of values in [0, 1] (rounded; NaN -> 0). */
export function toLevels(values: ArrayLike<number>, scale = 1): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = (values[i] as number) * scale;
    out[i] = v > 0 ? Math.min(255, Math.round(v * 255)) : 0;
  }
  return out;
}

/**
 * A `size` x `size` preview matrix blown up to `n` x `n`: cell (q, k) takes the preview
 * cell `floor(q * size / n)`, `floor(k * size / n)` — the block that Python's thumbnail
 * (adaptive max pooling) gave that cell.
 */
export function upsample(preview: Uint8Array, size: number, n: number): Uint8Array {
  const out = new Uint8Array(n * n);
  const bin = new Int32Array(n);
  for (let i = 0; i < n; i++) bin[i] = Math.floor((i * size) / n);
  for (let q = 0; q < n; q++) {
    const src = (bin[q] as number) * size;
    const dst = q * n;
    for (let k = 0; k < n; k++) out[dst + k] = preview[src + (bin[k] as number)] as number;
  }
  return out;
}

/**
 * A run of cells along one diagonal: `(row, col)`, `(row + 1, col + 1)` ... `length` cells,
 * e.g. the induction stripe of a repeated sequence (query `i` -> key `i - half + 1`).
 */
export interface DiagonalRun {
  row: number;
  col: number;
  length: number;
}

/** A line segment in CSS pixels from the plot's top-left corner. */
export interface Segment {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/**
 * The two lines that bracket a {@link DiagonalRun} without covering it, in plot pixels for
 * `view` on a plot `size` pixels wide: one through the upper-right corners of its cells, one
 * through their lower-left corners, each as long as the run. In cell units (x = column,
 * y = row) they are the run's own diagonal `(col, row) -> (col + length, row + length)`
 * shifted by `(+1/2, -1/2)` and by `(-1/2, +1/2)`, so `y - x` is `row - col - 1` on the first
 * and `row - col + 1` on the second.
 */
export function bracketRun(view: Viewport, size: number, run: DiagonalRun): [Segment, Segment] {
  const ppc = size / view.span;
  const at = (col: number, row: number) => ({ x: (col - view.col0) * ppc, y: (row - view.row0) * ppc });
  const line = (dx: number, dy: number): Segment => {
    const a = at(run.col + dx, run.row + dy);
    const b = at(run.col + run.length + dx, run.row + run.length + dy);
    return { x1: a.x, y1: a.y, x2: b.x, y2: b.y };
  };
  return [line(0.5, -0.5), line(-0.5, 0.5)];
}

/** Segments as an SVG path (`M x1 y1 L x2 y2` per segment, two decimals). */
export function segmentsPath(segments: readonly Segment[]): string {
  const f = (v: number) => String(+v.toFixed(2));
  return segments.map((s) => `M${f(s.x1)} ${f(s.y1)}L${f(s.x2)} ${f(s.y2)}`).join("");
}
