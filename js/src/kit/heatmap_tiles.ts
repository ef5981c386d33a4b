/**
 * A heatmap of a matrix too large to hold (a long text's attention pattern, 16k x 16k),
 * drawn from *layers*: grids of colour levels that each cover a region of the matrix at
 * their own resolution — the head's pooled thumbnail under everything, and on top the block
 * the kernel sent for the zoomed view. Free of the DOM (unit-tested in
 * js/tests/heatmap_tiles.test.ts):
 *
 * - `paintLayers`: the image of a view, each pixel from the topmost layer that covers it;
 * - `tileFor`: the block to ask for a view (snapped outward so small pans reuse it, pooled
 *   to about one cell per plot pixel; full resolution once zoomed in that far);
 * - `tileWeight`: a weight from a block, only when that block is at full resolution;
 * - `boxView`: the view a dragged box zooms to.
 *
 * A layer's grid cell `(i, j)` covers rows `floor(i*rows/gridRows)`.. (adaptive pooling's
 * bins, as Python's thumbnails and blocks), so position `p` reads cell `floor(p*grid/len)`.
 */
import { clampView, visibleCells, type Viewport } from "./heatmap_layout";

export interface GridLayer {
  row0: number;
  col0: number;
  rows: number;
  cols: number;
  gridRows: number;
  gridCols: number;
  levels: Uint8Array;
}

/** A block of the matrix as the kernel sent it: its region, and its weights when it is at
 * full resolution (null when pooled). */
export interface Tile {
  layer: GridLayer;
  values: Float32Array | null;
}

/** What to ask the kernel for: rows and columns `[start, stop)`, at most `side` cells a side. */
export interface TileRequest {
  rows: [number, number];
  cols: [number, number];
  side: number;
}

/** The level of `(row, col)` in `layer`, or -1 outside it. */
export function layerLevel(layer: GridLayer, row: number, col: number): number {
  const r = row - layer.row0, c = col - layer.col0;
  if (r < 0 || c < 0 || r >= layer.rows || c >= layer.cols) return -1;
  const gr = Math.floor((r * layer.gridRows) / layer.rows);
  const gc = Math.floor((c * layer.gridCols) / layer.cols);
  return layer.levels[gr * layer.gridCols + gc] as number;
}

/** The level of `(row, col)` from the topmost layer that covers it (-1: none does). */
export function topLevel(layers: readonly GridLayer[], row: number, col: number): number {
  for (let i = layers.length - 1; i >= 0; i--) {
    const v = layerLevel(layers[i] as GridLayer, row, col);
    if (v >= 0) return v;
  }
  return -1;
}

/** Paint `view` of an `n` x `n` matrix into an RGBA image `width` x `height`: each pixel
 * shows the cell under its centre, from the topmost layer covering it; with `causal`,
 * cells above the diagonal (and any no layer covers) get `masked`. */
export function paintLayers(
  view: Viewport, n: number, width: number, height: number, layers: readonly GridLayer[],
  lut: Uint8ClampedArray, masked: readonly [number, number, number], causal: boolean, out: Uint8ClampedArray,
): void {
  if (out.length !== width * height * 4) throw new RangeError("output buffer has the wrong size");
  const colOf = new Int32Array(width);
  for (let x = 0; x < width; x++) colOf[x] = Math.min(n - 1, Math.floor(view.col0 + ((x + 0.5) * view.span) / width));
  for (let y = 0; y < height; y++) {
    const row = Math.min(n - 1, Math.floor(view.row0 + ((y + 0.5) * view.span) / height));
    for (let x = 0; x < width; x++) {
      const col = colOf[x] as number;
      const o = (y * width + x) * 4;
      const level = causal && col > row ? -1 : topLevel(layers, row, col);
      if (level < 0) {
        out[o] = masked[0];
        out[o + 1] = masked[1];
        out[o + 2] = masked[2];
      } else {
        out[o] = lut[level * 4] as number;
        out[o + 1] = lut[level * 4 + 1] as number;
        out[o + 2] = lut[level * 4 + 2] as number;
      }
      out[o + 3] = 255;
    }
  }
}

/** The largest power of two at most `x` (1 for x < 2). */
const floorPow2 = (x: number) => (x < 2 ? 1 : 2 ** Math.floor(Math.log2(x)));

/** The block to ask for `view` of an `n` x `n` matrix drawn `px` pixels wide: the visible
 * cells snapped outward to multiples of a power of two near a quarter of the span, at about
 * one cell per pixel (`side`; the whole region, unpooled, once that many cells fit). */
export function tileFor(view: Viewport, n: number, px: number): TileRequest {
  const quantum = floorPow2(view.span / 4);
  const snap = (start: number, span: number): [number, number] => {
    const cells = visibleCells(start, span, n);
    const a = Math.floor(cells.first / quantum) * quantum;
    const b = Math.min(n, Math.ceil((cells.first + cells.count) / quantum) * quantum);
    return [a, Math.max(a + 1, b)];
  };
  const rows = snap(view.row0, view.span);
  const cols = snap(view.col0, view.span);
  const longest = Math.max(rows[1] - rows[0], cols[1] - cols[0]);
  const side = Math.max(1, Math.min(longest, Math.ceil((px * longest) / view.span)));
  return { rows, cols, side };
}

/** Whether `tile` covers the cells `view` shows. */
export function tileCovers(request: TileRequest, view: Viewport, n: number): boolean {
  const rows = visibleCells(view.row0, view.span, n), cols = visibleCells(view.col0, view.span, n);
  return request.rows[0] <= rows.first && request.rows[1] >= rows.first + rows.count
    && request.cols[0] <= cols.first && request.cols[1] >= cols.first + cols.count;
}

/** The weight at `(row, col)` from a full-resolution tile (NaN: pooled, or not in it). */
export function tileWeight(tile: Tile | null, row: number, col: number): number {
  if (!tile?.values) return NaN;
  const { row0, col0, rows, cols } = tile.layer;
  const r = row - row0, c = col - col0;
  if (r < 0 || c < 0 || r >= rows || c >= cols) return NaN;
  return tile.values[r * cols + c] as number;
}

/** The view a box dragged from (`x0`, `y0`) to (`x1`, `y1`) (CSS pixels in a plot `size`
 * wide showing `view`) zooms to: the square of the box's longer side, where the box starts. */
export function boxView(view: Viewport, n: number, size: number, x0: number, y0: number, x1: number, y1: number): Viewport {
  const cell = view.span / size;
  const span = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0)) * cell;
  return clampView({ row0: view.row0 + Math.min(y0, y1) * cell, col0: view.col0 + Math.min(x0, x1) * cell, span }, n);
}
