/**
 * AttentionExplorer on a long text (more tokens than Python's `_long_text_tokens`): no whole
 * pattern comes to the page. The selected head is drawn from layers (kit/heatmap_tiles.ts):
 * its pooled thumbnail under everything, and, once zoomed in, the block for the view the
 * kernel sent (kit/pattern_tiles.ts), at full resolution when the view has no more cells than
 * pixels. A weight (hover card, token colours) comes only from full-resolution data: the block
 * when it is unpooled, else the query's row or the key's column, asked for on demand
 * (`want`), NaN until it arrives.
 *
 *     const long = createLongText(model, { run, signal, onArrive: showHead });
 *     const pattern = long.pattern(layer, head, thumbs, nHeads, n);   // a HeadPattern
 *     heatmap onView: (view, px) => { if (long.setView(view, px)) showHead(); }
 */
import type { AnyModel } from "@anywidget/types";
import type { NDArray } from "../kit/decode";
import type { Viewport } from "../kit/heatmap_layout";
import { tileFor, tileWeight, type GridLayer, type Tile } from "../kit/heatmap_tiles";
import { createPatternTiles, requestKey, type PatternTiles } from "../kit/pattern_tiles";
import type { HeadPattern } from "./state";

const EMPTY = new Uint8Array(0);

/** Head (layer, head)'s thumbnail out of every head's `[L, H, T, T]` as a layer over all `n`
 * positions. */
export function thumbnailLayer(thumbs: NDArray, nHeads: number, layer: number, head: number, n: number): GridLayer {
  const t = thumbs.shape[2] as number;
  const start = (layer * nHeads + head) * t * t;
  const levels = (thumbs.data as Uint8Array).subarray(start, start + t * t);
  return { row0: 0, col0: 0, rows: n, cols: n, gridRows: t, gridCols: t, levels };
}

/** Where a weight at (q, k) comes from: the full-resolution block on screen, the query's row,
 * the key's column, or nowhere yet (NaN). */
export function longWeight(
  tile: Tile | null, row: Float32Array | null, column: Float32Array | null, q: number, k: number,
): { weight: number; source: "block" | "row" | "column" | "" } {
  if (k > q) return { weight: NaN, source: "" };
  const fromTile = tileWeight(tile, q, k);
  if (Number.isFinite(fromTile)) return { weight: fromTile, source: "block" };
  if (row) return { weight: row[k] as number, source: "row" };
  if (column) return { weight: column[q] as number, source: "column" };
  return { weight: NaN, source: "" };
}

export interface LongText {
  readonly tiles: PatternTiles;
  /** The heatmap now shows `view` (plot `px` device pixels a side); true when a block already
   * here fits it better than the one drawn (redraw). */
  setView(view: Viewport, px: number): boolean;
  pattern(layer: number, head: number, thumbs: NDArray, nHeads: number, n: number): HeadPattern;
  /** What the drawn block is ("" for the thumbnail alone), for tests and tools. */
  drawnTile(): string;
  reset(): void;
}

export function createLongText(
  model: AnyModel<Record<string, unknown>>,
  options: { run: () => number; canFetch: () => boolean; signal: AbortSignal; onArrive: (kind: "tile" | "line") => void },
): LongText {
  const tiles = createPatternTiles(model, options);
  let view: Viewport | null = null;
  let px = 512;
  let drawn = "";
  let last: Tile | null = null;
  const wanted = (layer: number, head: number, n: number) => {
    if (!view || view.span >= n) return null; // zoomed out: the thumbnail
    return tileFor(view, n, px);
  };
  let head: { layer: number; head: number; n: number } | null = null;

  return {
    tiles,
    setView(next, nextPx) {
      view = next;
      px = nextPx;
      if (!head) return false;
      const request = wanted(head.layer, head.head, head.n);
      const key = request ? requestKey(head.layer, head.head, request) : "";
      if (key === drawn) return false;
      // a block already here is drawn at once; one asked for redraws when it comes
      return request === null || tiles.tile(head.layer, head.head, request) !== null;
    },
    pattern(layer, h, thumbs, nHeads, n) {
      if (head && (head.layer !== layer || head.head !== h)) last = null;
      head = { layer, head: h, n };
      const request = wanted(layer, h, n);
      const tile = request ? tiles.tile(layer, h, request) : null;
      if (tile) last = tile;
      if (!request) last = null;
      const shown = tile ?? last; // the last block of this head, while the new one comes
      drawn = tile && request ? requestKey(layer, h, request) : "";
      const layers = [thumbnailLayer(thumbs, nHeads, layer, h, n), ...(shown ? [shown.layer] : [])];
      const lookup = (q: number, k: number) =>
        longWeight(shown, tiles.row(layer, h, q, n, false), tiles.column(layer, h, k, n, false), q, k);
      return {
        n,
        levels: EMPTY,
        values: null,
        layers,
        lookup,
        want(axis, i) {
          if (axis === "row") tiles.row(layer, h, i, n);
          else tiles.column(layer, h, i, n);
        },
      };
    },
    drawnTile: () => drawn,
    reset() {
      tiles.reset();
      drawn = "";
      last = null;
      head = null;
    },
  };
}
