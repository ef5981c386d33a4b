/**
 * Blocks, rows and columns of one head's pattern on a long text, fetched from the kernel as
 * the heatmap and the token strip need them (Python: circuitwidgets/widgets/_pattern_blocks.py):
 * `invoke("block", {layer, head, run, rows: [a, b], cols: [c, d], side})` answers the block
 * max-pooled to at most `side` cells a side (`pooled: false` when it is at full resolution).
 * A row is the block `[q, q + 1] x [0, n]` at side `n`, a column alike. Each kind keeps the
 * last few answers; a refused request leaves its reason in `error()`.
 *
 *     const tiles = createPatternTiles(model, { run, signal, onArrive: () => redraw() });
 *     tiles.tile(layer, head, tileFor(view, n, px));   // null: asked for (onArrive follows)
 *     tiles.row(layer, head, q, n);                    // Float32Array [n] or null (asked for)
 */
import type { AnyModel } from "@anywidget/types";
import { failureText, invoke, isQuiet } from "./channel";
import type { NDArray } from "./decode";
import { toLevels } from "./heatmap_layout";
import type { Tile, TileRequest } from "./heatmap_tiles";
import { LRU } from "./lru";

export interface PatternTilesOptions {
  run: () => number;
  /** Whether a kernel can be asked (false in a static export: nothing is asked). */
  canFetch: () => boolean;
  signal: AbortSignal;
  /** Something asked for arrived (a block: "tile"; a row or column: "line"), or was refused
   * ("tile": the reason is in `error()`). */
  onArrive: (kind: "tile" | "line") => void;
}

export interface PatternTiles {
  /** The block `request` of head (layer, head) if here, else null after asking (once). */
  tile(layer: number, head: number, request: TileRequest): Tile | null;
  /** The weights query `q` pays every key (full resolution), or null after asking (unless
   * `ask` is false). */
  row(layer: number, head: number, q: number, n: number, ask?: boolean): Float32Array | null;
  /** The weights every query pays key `k` (full resolution), alike. */
  column(layer: number, head: number, k: number, n: number, ask?: boolean): Float32Array | null;
  /** Why the kernel refused the last request that failed ('' if none did). */
  error(): string;
  /** Counts answers: changes whenever something new can be drawn. */
  readonly version: number;
  reset(): void;
}

interface BlockAnswer {
  run: number;
  rows: [number, number];
  cols: [number, number];
  pooled: boolean;
  block: NDArray;
}

export const requestKey = (layer: number, head: number, r: TileRequest) =>
  `${layer}.${head}:${r.rows[0]}-${r.rows[1]}x${r.cols[0]}-${r.cols[1]}@${r.side}`;

/** A block answer as a heatmap layer (and its weights when unpooled). */
export function tileOf(answer: BlockAnswer): Tile {
  const data = answer.block.data instanceof Float32Array ? answer.block.data : Float32Array.from(answer.block.data);
  const [gridRows, gridCols] = answer.block.shape as [number, number];
  const layer = {
    row0: answer.rows[0], col0: answer.cols[0],
    rows: answer.rows[1] - answer.rows[0], cols: answer.cols[1] - answer.cols[0],
    gridRows, gridCols, levels: toLevels(data, answer.block.scale),
  };
  return { layer, values: answer.pooled ? null : data };
}

export function createPatternTiles(model: AnyModel<Record<string, unknown>>, options: PatternTilesOptions): PatternTiles {
  const tiles = new LRU<string, Tile>(6);
  const lines = new LRU<string, Float32Array>(64);
  const pending = new Set<string>();
  let failure = "";
  let version = 0;
  let epoch = 0; // bumped by reset: answers asked for before it are dropped

  function ask(key: string, layer: number, head: number, request: TileRequest, keep: (tile: Tile) => void, kind: "tile" | "line") {
    if (!options.canFetch()) return;
    pending.add(key);
    const asked = epoch;
    const payload = { layer, head, run: options.run(), rows: request.rows, cols: request.cols, side: request.side };
    invoke<BlockAnswer>(model, "block", payload, { signal: options.signal }).then(
      (answer) => {
        pending.delete(key);
        if (asked !== epoch || answer.run !== options.run()) return;
        keep(tileOf(answer));
        version++;
        options.onArrive(kind);
      },
      (error) => {
        pending.delete(key);
        if (asked !== epoch || isQuiet(error)) return;
        failure = failureText(error);
        version++;
        options.onArrive("tile");
      },
    );
  }
  const line = (axis: "row" | "col", layer: number, head: number, i: number, n: number, asking: boolean) => {
    const request: TileRequest = axis === "row" ? { rows: [i, i + 1], cols: [0, n], side: n } : { rows: [0, n], cols: [i, i + 1], side: n };
    const key = `${options.run()}:${requestKey(layer, head, request)}`;
    const known = lines.get(key);
    if (known) return known;
    if (asking && !pending.has(key)) ask(key, layer, head, request, (t) => lines.set(key, t.values as Float32Array), "line");
    return null;
  };

  return {
    tile(layer, head, request) {
      const key = `${options.run()}:${requestKey(layer, head, request)}`;
      const known = tiles.get(key);
      if (known) return known;
      if (!pending.has(key)) ask(key, layer, head, request, (t) => tiles.set(key, t), "tile");
      return null;
    },
    row: (layer, head, q, n, asking = true) => line("row", layer, head, q, n, asking),
    column: (layer, head, k, n, asking = true) => line("col", layer, head, k, n, asking),
    error: () => failure,
    get version() {
      return version;
    },
    reset() {
      tiles.clear();
      lines.clear();
      pending.clear();
      failure = "";
      epoch++;
    },
  };
}
