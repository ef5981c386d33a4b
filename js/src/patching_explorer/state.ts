/**
 * PatchingExplorer's pure logic (unit-tested in js/tests/patching_explorer.test.ts): how each
 * grid is laid out as rows x columns, what a cell is called, which selection a click on it
 * makes and which cell the selection marks, the colour limit, the scatter's points, and the
 * texts of the metric and the progress bar.
 */

export const GRIDS = ["resid_pre", "attn_out", "mlp_out", "heads", "heads_by_pos"] as const;
export type GridName = (typeof GRIDS)[number];
export const METHODS = ["attribution", "exact"] as const;
export type Method = (typeof METHODS)[number];

export const TEXT: Record<GridName, { tab: string; help: string }> = {
  resid_pre: {
    tab: "Residual",
    help: "Each cell puts back the clean residual stream entering one layer at one position. Click a cell to read that layer and position in a linked logit lens.",
  },
  attn_out: {
    tab: "Attention out",
    help: "Each cell puts back one attention layer's clean output at one position. Click: the logit lens just after that layer.",
  },
  mlp_out: {
    tab: "MLP out",
    help: "Each cell puts back one MLP's clean output at one position. Click: the logit lens just after that layer.",
  },
  heads: {
    tab: "Heads",
    help: "Each cell puts back one head's clean output at every position. Click a head to show it in a linked attention view.",
  },
  heads_by_pos: {
    tab: "Heads by position",
    help: "Each cell puts back one head's clean output at one position (rows: layer.head). Click a cell to select that head and position.",
  },
};

export const METHOD_TEXT: Record<Method, { text: string; help: string }> = {
  attribution: {
    text: "attribution (estimate)",
    help: "Activation difference × gradient: every cell from one forward and one backward pass, exact only where the model is linear",
  },
  exact: { text: "exact", help: "One patched run per cell (batched), computed on demand" },
};

/** A grid as rows x columns: row and column labels, and whether the columns are positions. */
export interface Layout {
  rows: number;
  cols: number;
  rowLabels: string[];
  colLabels: string[];
  byPosition: boolean;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The layout of `grid`, whose values have `shape` (`[L, S]`, `[L, H]` or `[L, H, S]`). */
export function gridLayout(grid: GridName, shape: readonly number[], tokens: readonly string[]): Layout {
  const [nLayers = 0, second = 0, third = 0] = shape;
  if (grid === "heads") {
    return { rows: nLayers, cols: second, rowLabels: range(nLayers).map(String), colLabels: range(second).map(String), byPosition: false };
  }
  if (grid === "heads_by_pos") {
    const rowLabels = range(nLayers * second).map((r) => `${Math.floor(r / second)}.${r % second}`);
    return { rows: nLayers * second, cols: third, rowLabels, colLabels: tokens.slice(0, third), byPosition: true };
  }
  return { rows: nLayers, cols: second, rowLabels: range(nLayers).map(String), colLabels: tokens.slice(0, second), byPosition: true };
}

/** The accessible name of a cell ("layer 1 head 3"; "layer 1 position 4"; "layer 1 head 3 position 4"). */
export function cellName(grid: GridName, row: number, col: number, nHeads: number): string {
  if (grid === "heads") return `layer ${row} head ${col}`;
  if (grid === "heads_by_pos") return `layer ${Math.floor(row / nHeads)} head ${row % nHeads} position ${col}`;
  return `layer ${row} position ${col}`;
}

export interface Picked {
  layer?: number;
  head?: number;
  lens_layer?: number;
  position?: number;
}

/** The selection a click on a cell makes: a head (and position), or a logit-lens readout and
 * position (the residual stream entering layer `l` is readout `l`; an attention or MLP
 * output first shows in readout `l + 1`). */
export function selectionFor(grid: GridName, row: number, col: number, nHeads: number): Picked {
  switch (grid) {
    case "heads": return { layer: row, head: col };
    case "heads_by_pos": return { layer: Math.floor(row / nHeads), head: row % nHeads, position: col };
    case "resid_pre": return { lens_layer: row, position: col };
    default: return { lens_layer: row + 1, position: col };
  }
}

/** The cell the selection marks in `grid` (the inverse of {@link selectionFor}), or `null`. */
export function selectedCell(
  grid: GridName,
  sel: { layer: number | null; head: number | null; lens_layer: number | null; position: number | null },
  layout: Layout,
  nHeads: number,
): { row: number; col: number } | null {
  const inside = (row: number, col: number) =>
    row >= 0 && row < layout.rows && col >= 0 && col < layout.cols ? { row, col } : null;
  const { layer, head, lens_layer, position } = sel;
  if (grid === "heads") return layer === null || head === null ? null : inside(layer, head);
  if (grid === "heads_by_pos") {
    return layer === null || head === null || position === null ? null : inside(layer * nHeads + head, position);
  }
  if (lens_layer === null || position === null) return null;
  return inside(grid === "resid_pre" ? lens_layer : lens_layer - 1, position);
}

/** The colour scale's limit: the largest |value| (clean = 1, so at least 1). */
export function colourLimit(...arrays: (ArrayLike<number> | null | undefined)[]): number {
  let limit = 1;
  for (const values of arrays) {
    if (!values) continue;
    for (let i = 0; i < values.length; i++) {
      const v = Math.abs(values[i] as number);
      if (Number.isFinite(v) && v > limit) limit = v;
    }
  }
  return limit;
}

export interface Point {
  index: number;
  x: number;
  y: number;
}

/** One point per cell with both an estimate (x) and an exact value (y). */
export function scatterPoints(approx: ArrayLike<number>, exact: ArrayLike<number>): Point[] {
  const points: Point[] = [];
  const n = Math.min(approx.length, exact.length);
  for (let i = 0; i < n; i++) {
    const x = approx[i] as number;
    const y = exact[i] as number;
    if (Number.isFinite(x) && Number.isFinite(y)) points.push({ index: i, x, y });
  }
  return points;
}

/** The largest |exact - estimate| of the points (0 for none). */
export function largestGap(points: readonly Point[]): number {
  return points.reduce((m, p) => Math.max(m, Math.abs(p.y - p.x)), 0);
}

/** What the metric measures, in words. */
export function metricText(metric: string, target: string, distractor: string, position: number): string {
  const t = JSON.stringify(target);
  const what: Record<string, string> = {
    logit_diff: `logit ${t} − logit ${JSON.stringify(distractor)}`,
    prob: `probability of ${t}`,
    logit: `logit of ${t}`,
    kl: "KL(clean ‖ patched) of the next-token distribution",
  };
  return `${what[metric] ?? metric} at position ${position}`;
}

/** A raw metric value as shown (4 significant digits). */
export function formatValue(value: number): string {
  return Number.isFinite(value) ? Number(value.toPrecision(4)).toString() : "—";
}

/** The progress bar's words. */
export function progressText(grid: GridName, done: number, total: number): string {
  return total > 0 ? `Exact ${TEXT[grid].tab.toLowerCase()} grid: ${done} of ${total} cells` : `Exact ${TEXT[grid].tab.toLowerCase()} grid: starting…`;
}

/** Whether cells are big enough to print their value in. */
export function showsNumbers(layout: Layout): boolean {
  return layout.cols <= 16 && layout.rows <= 48;
}

/** A grid with more cells than this (and too many for numbers) is drawn on one canvas instead
 * of one button per cell (canvas_grid.ts): 9,216 buttons take a browser about half a second to
 * lay out and paint (BENCHMARKS.md). */
export const MAX_BUTTON_CELLS = 512;

/** Whether `layout` is drawn on a canvas. */
export function usesCanvas(layout: Layout): boolean {
  return layout.rows * layout.cols > MAX_BUTTON_CELLS && !showsNumbers(layout);
}

/** The cell under the point `(x, y)` (CSS pixels from the canvas's top left) of a grid of
 * `rows` x `cols` cells `width` x `height` each, or `null` outside it. */
export function canvasCellAt(
  x: number, y: number, width: number, height: number, rows: number, cols: number,
): { row: number; col: number } | null {
  const row = Math.floor(y / height);
  const col = Math.floor(x / width);
  return row >= 0 && row < rows && col >= 0 && col < cols ? { row, col } : null;
}
