/**
 * AttentionExplorer's overview panel: one thumbnail button per head ("layer L head H", the
 * selected one `aria-pressed`), each with a chip coloured by the chosen head score; the score
 * picker and "Sort by score". The grid answers the kit's grid keys (kit/grid_keys.ts) in the
 * order the thumbnails are shown; `.cw-ae-grid[data-order]` says that order.
 */
import { createButton } from "../kit/button";
import { sequential, type Palette } from "../kit/color_scale";
import { createControl } from "../kit/control";
import type { NDArray, WireArray } from "../kit/decode";
import { gridMoveIndex } from "../kit/grid_keys";
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
  readonly grid: HTMLElement;
  /** The key of the score the chips show. */
  scoreKey(): string;
  /** New data: the model's shape, every head's thumbnail `[L, H, T, T]` (uint8), the scores. */
  setData(nLayers: number, nHeads: number, thumbs: NDArray, tokenCount: number, scores: Score[]): void;
  /** Draw the thumbnails with `lut` (masked cells in `masked`) and the chips in `palette`. */
  paint(lut: Uint8ClampedArray, masked: readonly [number, number, number], palette: Palette): void;
  mark(layer: number, head: number): void;
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
  const grid = document.createElement("div");
  grid.className = "cw-ae-grid";
  grid.setAttribute("role", "group");
  grid.setAttribute("aria-label", "Attention heads: arrow keys move, the selection follows");
  grid.setAttribute("data-lm-suppress-shortcuts", "true"); // arrows here move the selection
  panel.body.append(grid);
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

  let tiles: HTMLButtonElement[] = [];
  let nHeads = 0;
  let thumbs: NDArray | null = null;
  let tokenCount = 0;
  let scores: Score[] = [];
  let scoreKey = "";
  let sorted = false;
  let palette: Palette | null = null;

  function buildTiles(L: number, H: number) {
    grid.style.setProperty("--cw-heads", String(H));
    tiles = [];
    for (let layer = 0; layer < L; layer++) {
      for (let head = 0; head < H; head++) tiles.push(thumbTile(layer, head, () => options.onSelect(layer, head)));
    }
    grid.replaceChildren(...tiles);
  }

  function drawThumbnails(lut: Uint8ClampedArray, masked: readonly [number, number, number]) {
    if (!thumbs) return;
    const t = thumbs.shape[2] as number;
    const src = thumbs.data as Uint8Array;
    // Thumbnails of short texts are the full pattern: keep its causal mask visible.
    const causal = t === tokenCount;
    tiles.forEach((tile, i) => paintThumbnail(tile.querySelector("canvas") as HTMLCanvasElement, src.subarray(i * t * t, (i + 1) * t * t), t, causal, lut, masked));
  }

  const activeScore = () => scores.find((s) => s.spec.key === scoreKey) ?? scores[0] ?? null;

  function paintScores() {
    const s = activeScore();
    if (!s || !palette) return;
    const value = (i: number) => (s.values.data[i] as number) * s.values.scale;
    const [lo, hi] = scoreRange(s.values, tiles.length);
    const scoreScale = sequential({ ...palette, high: palette.low }, [lo, hi]);
    tiles.forEach((tile, i) => {
      const chip = tile.querySelector(".cw-ae-thumb-score") as HTMLElement;
      const v = value(i);
      const sw = scoreScale(v);
      chip.textContent = Number.isFinite(v) ? v.toFixed(2) : "—";
      chip.style.background = sw?.background ?? "";
      chip.style.color = sw?.color ?? "";
      tile.dataset.score = String(v);
      tile.title = `layer ${tile.dataset.layer} head ${tile.dataset.head}: ${s.spec.label} ${chip.textContent}`;
    });
    scoreHelp.textContent = s.spec.help;
    scoreLegend.setTitle(s.spec.label);
    scoreLegend.setScale(scoreScale, [lo, (lo + hi) / 2, hi]);
    order();
  }

  /** Tile order: layer by layer, or by the active score (descending; entropy ascending). */
  function order() {
    const s = activeScore();
    const ordered = sorted && s ? sortByScore(tiles, (tile) => Number(tile.dataset.score), s.spec.key) : tiles;
    grid.replaceChildren(...ordered);
    grid.dataset.order = sorted ? `score:${s?.spec.key}` : "layer";
  }

  grid.addEventListener("keydown", (e) => {
    const visible = [...grid.children] as HTMLButtonElement[];
    const at = visible.indexOf(document.activeElement as HTMLButtonElement);
    if (at < 0) return;
    const next = gridMoveIndex(e.key, at, Math.ceil(visible.length / nHeads), nHeads, e.ctrlKey || e.metaKey);
    if (next === null) return;
    e.preventDefault();
    e.stopPropagation(); // keep JupyterLab's notebook shortcuts out
    const target = visible[next];
    if (!target) return;
    target.focus();
    options.onSelect(Number(target.dataset.layer), Number(target.dataset.head));
  });
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
      nHeads = H;
      if (!scores.some((s) => s.spec.key === scoreKey)) scoreKey = scores[0]?.spec.key ?? "";
      scoreSelect.replaceChildren(...scores.map((s) => scoreOption(s.spec, scoreKey)));
      if (tiles.length !== L * H) buildTiles(L, H);
      const t = nextThumbs.shape[2] as number;
      thumbNote.textContent =
        t < count ? `Thumbnails: ${t}×${t}, each cell the largest weight in its block of the ${count}×${count} pattern.` : "";
    },
    paint(lut, masked, nextPalette) {
      palette = nextPalette;
      drawThumbnails(lut, masked);
      paintScores();
    },
    mark(layer, head) {
      for (const tile of tiles) {
        const on = Number(tile.dataset.layer) === layer && Number(tile.dataset.head) === head;
        tile.setAttribute("aria-pressed", String(on));
        tile.tabIndex = on ? 0 : -1;
      }
    },
  };
}

/** One head's thumbnail button: its pattern's canvas, "L.H" and its score chip. */
function thumbTile(layer: number, head: number, onClick: () => void): HTMLButtonElement {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "cw-ae-thumb";
  b.setAttribute("aria-label", `layer ${layer} head ${head}`);
  b.dataset.layer = String(layer);
  b.dataset.head = String(head);
  b.tabIndex = -1;
  const canvas = document.createElement("canvas");
  const label = document.createElement("span");
  label.className = "cw-ae-thumb-label";
  label.textContent = `${layer}.${head}`;
  const score = document.createElement("span");
  score.className = "cw-ae-thumb-score";
  b.append(canvas, label, score);
  b.addEventListener("click", onClick);
  return b;
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
