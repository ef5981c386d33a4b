/**
 * AttentionExplorer's overview panel: the kit's head grid (kit/head_grid.ts) without axes, one
 * thumbnail button `.cw-ae-thumb` per head ("layer L head H", the selected one `aria-pressed`,
 * `data-score` the chosen score), each with a chip coloured by that score; the score picker and
 * "Sort by score". The grid keys follow the order the thumbnails are shown;
 * `.cw-ae-grid[data-order]` says that order.
 */
import { createButton } from "../kit/button";
import { sequential, type Palette } from "../kit/color_scale";
import { createControl } from "../kit/control";
import { headValue, type NDArray, type WireArray } from "../kit/decode";
import { formatScore } from "../kit/format";
import { createHeadGrid, type HeadGrid } from "../kit/head_grid";
import { createLegend } from "../kit/legend";
import { createPanel, type Panel } from "../kit/panel";
import { scoreRange, sortByScore } from "./state";

/** A head score as Python sends it (`head_scores`). */
export interface ScoreSpec {
  key: string;
  label: string;
  help: string;
  values: WireArray;
}

export interface Score {
  spec: ScoreSpec;
  values: NDArray;
}

export interface OverviewOptions {
  onSelect(layer: number, head: number): void;
  /** Another score was picked (the head panel shows it too). */
  onScoreChange(): void;
}

export interface Overview {
  readonly panel: Panel;
  readonly grid: HeadGrid;
  /** The key of the score the chips show. */
  scoreKey(): string;
  /** New data: the model's shape, every head's thumbnail `[L, H, T, T]` (uint8), the scores. */
  setData(nLayers: number, nHeads: number, thumbs: NDArray, tokenCount: number, scores: Score[]): void;
  /** Draw the thumbnails with `lut` (masked cells in `masked`) and the chips in `palette`. */
  paint(lut: Uint8ClampedArray, masked: readonly [number, number, number], palette: Palette): void;
  /** Mark the selected head, and the selected pair's other head (`second`; null: no pair). */
  mark(layer: number, head: number, second?: { layer: number; head: number } | null): void;
}

export function createOverview(parent: HTMLElement, options: OverviewOptions): Overview {
  const panel = createPanel(parent, { className: "cw-ae-overview", title: "Heads" });
  const controls = document.createElement("div");
  controls.className = "cw-ae-controls";
  const scoreLabel = document.createElement("label");
  scoreLabel.textContent = "Score ";
  const scoreSelect = createControl("select", "cw-ae-select");
  scoreLabel.append(scoreSelect);
  const sortButton = createButton("Sort by score", "Order the heads by the chosen score");
  sortButton.setAttribute("aria-pressed", "false");
  controls.append(scoreLabel, sortButton);
  panel.header.append(controls);
  const grid = createHeadGrid(panel.body, {
    label: "Attention heads",
    className: "cw-ae-grid",
    cellClass: "cw-ae-thumb",
    axes: false,
    onSelect: options.onSelect,
    build: thumbFace,
  });
  const scoreHelp = document.createElement("div");
  scoreHelp.className = "cw-ae-help";
  panel.body.append(scoreHelp);
  const scoreLegend = createLegend(panel.body, {
    title: "",
    ticks: [],
    format: (v) => (Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(2)),
  });
  const thumbNote = document.createElement("div");
  thumbNote.className = "cw-ae-help";
  panel.body.append(thumbNote);

  let nLayers = 0;
  let nHeads = 0;
  let thumbs: NDArray | null = null;
  let tokenCount = 0;
  let scores: Score[] = [];
  let scoreKey = "";
  let sorted = false;
  let palette: Palette | null = null;

  function drawThumbnails(lut: Uint8ClampedArray, masked: readonly [number, number, number]) {
    if (!thumbs) return;
    const t = thumbs.shape[2] as number;
    const src = thumbs.data as Uint8Array;
    // Thumbnails of short texts are the full pattern: keep its causal mask visible.
    const causal = t === tokenCount;
    for (let i = 0; i < nLayers * nHeads; i++) {
      const canvas = grid.cell(Math.floor(i / nHeads), i % nHeads)?.querySelector("canvas");
      if (canvas) paintThumbnail(canvas, src.subarray(i * t * t, (i + 1) * t * t), t, causal, lut, masked);
    }
  }

  const activeScore = () => scores.find((s) => s.spec.key === scoreKey) ?? scores[0] ?? null;

  function paintScores() {
    const s = activeScore();
    if (!s || !palette) return;
    const [lo, hi] = scoreRange(s.values, nLayers * nHeads);
    const scoreScale = sequential({ ...palette, high: palette.low }, [lo, hi]);
    grid.paint((layer, head) => {
      const v = headValue(s.values, layer, head);
      return { value: v, swatch: scoreScale(v), title: `layer ${layer} head ${head}: ${s.spec.label} ${formatScore(v)}` };
    });
    scoreHelp.textContent = s.spec.help;
    scoreLegend.setTitle(s.spec.label);
    scoreLegend.setScale(scoreScale, [lo, (lo + hi) / 2, hi]);
    order();
  }

  /** Tile order: layer by layer, or by the active score (descending; entropy ascending). */
  function order() {
    const s = activeScore();
    const byLayer = Array.from({ length: nLayers * nHeads }, (_, i) => i);
    grid.setOrder(sorted && s ? sortByScore(byLayer, (i) => headValue(s.values, Math.floor(i / nHeads), i % nHeads), s.spec.key) : null);
    grid.element.dataset.order = sorted ? `score:${s?.spec.key}` : "layer";
  }

  scoreSelect.addEventListener("change", () => {
    scoreKey = scoreSelect.value;
    paintScores();
    options.onScoreChange();
  });
  sortButton.addEventListener("click", () => {
    sorted = !sorted;
    sortButton.setAttribute("aria-pressed", String(sorted));
    order();
  });

  return {
    panel,
    grid,
    scoreKey: () => scoreKey,
    setData(L, H, nextThumbs, count, nextScores) {
      thumbs = nextThumbs;
      tokenCount = count;
      scores = nextScores;
      nLayers = L;
      nHeads = H;
      if (!scores.some((s) => s.spec.key === scoreKey)) scoreKey = scores[0]?.spec.key ?? "";
      scoreSelect.replaceChildren(...scores.map((s) => scoreOption(s.spec, scoreKey)));
      grid.setShape(L, H);
      const t = nextThumbs.shape[2] as number;
      thumbNote.textContent =
        t < count ? `Thumbnails: ${t}×${t}, each cell the largest weight in its block of the ${count}×${count} pattern.` : "";
    },
    paint(lut, masked, nextPalette) {
      palette = nextPalette;
      drawThumbnails(lut, masked);
      paintScores();
    },
    mark: (layer, head, second = null) => grid.select(layer, head, second),
  };
}

/** One head's thumbnail cell: its pattern's canvas, "L.H" and its score chip (returned: the
 * head grid writes the score there). */
function thumbFace(cell: HTMLButtonElement, layer: number, head: number): HTMLElement {
  const canvas = document.createElement("canvas");
  const label = document.createElement("span");
  label.className = "cw-ae-thumb-label";
  label.textContent = `${layer}.${head}`;
  const score = document.createElement("span");
  score.className = "cw-ae-thumb-score";
  cell.append(canvas, label, score);
  return score;
}

/** A t x t thumbnail's levels through `lut` (with `causal`, keys after the query masked). */
function paintThumbnail(
  canvas: HTMLCanvasElement, levels: Uint8Array, t: number, causal: boolean, lut: Uint8ClampedArray, masked: readonly [number, number, number],
) {
  if (canvas.width !== t) canvas.width = canvas.height = t;
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const image = ctx.createImageData(t, t);
  for (let q = 0; q < t; q++) {
    for (let k = 0; k < t; k++) {
      const o = (q * t + k) * 4;
      const isMasked = causal && k > q;
      const l = (levels[q * t + k] as number) * 4;
      image.data[o] = isMasked ? masked[0] : (lut[l] as number);
      image.data[o + 1] = isMasked ? masked[1] : (lut[l + 1] as number);
      image.data[o + 2] = isMasked ? masked[2] : (lut[l + 2] as number);
      image.data[o + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
}

function scoreOption(spec: ScoreSpec, selected: string): HTMLOptionElement {
  const o = document.createElement("option");
  o.value = spec.key;
  o.textContent = spec.label;
  o.selected = spec.key === selected;
  return o;
}
