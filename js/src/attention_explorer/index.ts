/**
 * AttentionExplorer: every head's attention on one text — an overview of thumbnails, the
 * selected head as a zoomable heatmap, and the text coloured by attention.
 *
 * State (Python: circuitwidgets/widgets/attention_explorer.py):
 *   text, tokens          the input and its tokens (display strings)
 *   thumbnails            uint8 [L, H, T, T]: block maxima of every head (T <= 40)
 *   head_scores           [{key, label, help, values: float32 [L, H]}]
 *   _bank                 {run, heads: [[l, h]...], patterns: float16 [n, S, S]}: full patterns
 *                         the page has without asking (more of them in a static export)
 *   run_id                bumped per text: patterns of different texts never mix
 *   busy, error           progress line / inline error (the last good view stays)
 *   selection             the shared Selection (layer, head, query, key): kit/selection.ts
 *
 * A head that is neither in the bank nor cached is drawn at once from its thumbnail (marked
 * "preview") and asked for through the request channel (kit/channel.ts) as `invoke("pattern",
 * {layer, head, run})`; the kernel answers with its float16 pattern as a binary buffer, or
 * with why not (shown in place of "Loading…"). The last few are cached.
 *
 * For tests and tools: `.cw-ae-head[data-layer][data-head][data-resolution]` names what the
 * heatmap shows ("full" or "preview"); thumbnails are buttons named "layer L head H".
 */
import type { RenderProps } from "@anywidget/types";
import "./attention_explorer.css";
import { maskedRgb, sequential, type ColorScale } from "../kit/color_scale";
import { decode, headValue, type NDArray, type WireArray } from "../kit/decode";
import { formatProbability, formatTick } from "../kit/format";
import { createHeatmap, type Cell } from "../kit/heatmap";
import { upsample } from "../kit/heatmap_layout";
import { createLegend } from "../kit/legend";
import { connectSelection, selectedHead as headOf } from "../kit/selection";
import { onThemeChange, readPalette, whenInDocument } from "../kit/theme";
import { createHoverLock } from "../kit/hover_lock";
import { createOverview, type Score, type ScoreSpec } from "./overview";
import { createHeadPatterns, type PatternBank } from "../kit/head_patterns";
import { createPanel } from "../kit/panel";
import { headGridSvg, svgColors } from "../kit/svg_grid";
import { createTokenStrip, visibleToken } from "../kit/token_strip";
import { createView } from "../kit/view";
import { watch } from "../kit/watch";
import { withSignal } from "../kit/render";
import { createToggleGroup } from "../kit/toggle_group";

interface State {
  [key: string]: unknown;
  text: string;
  tokens: string[];
  thumbnails: WireArray | null;
  head_scores: ScoreSpec[];
  _bank: PatternBank | null;
  run_id: number;
  busy: string;
  error: string;
  model_name: string;
  n_layers: number;
  n_heads: number;
  _static: boolean;
  selection: string;
}

/** One head's pattern as the heatmap draws it. */
interface HeadPattern {
  n: number;
  levels: Uint8Array;
  /** Exact weights (from float16), or null for a preview made from the thumbnail. */
  values: Float32Array | null;
}

/** A token with no colour (nothing hovered or locked, or the source token itself). */
const PLAIN = { background: "", color: "" };
const STATIC_PREVIEW =
  "This file holds a preview of this head (block maxima). Save with heads=\"all\" for every head at full resolution.";
type Direction = "from" | "to";

function render({ model, el, signal }: RenderProps<State>) {
  const { frame, root, tooltip } = createView(model, el, signal, {
    title: "Attention",
    className: "cw-attention-explorer",
    textInput: { label: "Text" },
    progress: "cw-ae-progress",
  });

  const main = document.createElement("div");
  main.className = "cw-ae-main";
  frame.body.append(main);

  const overview = createOverview(main, {
    onSelect: (layer, head) => selection.set({ layer, head }),
    onScoreChange: () => showHead(),
  });

  // ---- head view ----------------------------------------------------------------------------
  const headPanel = createPanel(main, { className: "cw-ae-head", title: "" });
  const headStats = document.createElement("span");
  headStats.className = "cw-ae-stats";
  headPanel.header.append(headStats);
  const previewNote = document.createElement("div");
  previewNote.className = "cw-ae-note";
  previewNote.hidden = true;
  const heatmap = createHeatmap(headPanel.body, {
    label: "Attention pattern of the selected head: queries down, keys across",
    rowTitle: "query",
    colTitle: "key",
    signal,
    onHover: (cell, anchor) => hoverCell(cell, anchor),
    onClick: (cell) => lockCell(cell),
  });
  const lockLine = document.createElement("div");
  lockLine.className = "cw-ae-note";
  headPanel.body.append(previewNote, lockLine);

  // ---- token view ---------------------------------------------------------------------------
  const tokenPanel = createPanel(frame.body, { className: "cw-ae-tokens", title: "Tokens" });
  const directions = createToggleGroup<Direction>(tokenPanel.header, {
    label: "Direction",
    options: [
      { value: "from", text: "query → keys", help: "Colour tokens by the attention the hovered token pays them" },
      { value: "to", text: "key ← queries", help: "Colour tokens by the attention they pay the hovered token" },
    ],
    onPick: (d) => setDirection(d),
  });
  const strip = createTokenStrip(tokenPanel.body, {
    label: "Tokens, coloured by attention in the selected head",
    onInspect: (i, span) => hoverToken(i, span),
    onLeave: () => {
      focus.hover(null);
      tooltip.hide();
      paintTokens();
    },
    onSelect: (i) => lockToken(i),
  });
  const legend = createLegend(frame.body, {
    title: "Attention weight",
    ticks: [0, 0.25, 0.5, 0.75, 1],
    format: formatTick,
    swatches: [{ label: "masked (key after query)", className: "cw-ae-masked" }],
  });

  frame.camera.addSvg(overview.panel.header, "heads", "every head's thumbnail", () =>
    headGridSvg(overview.grid, `Attention heads: ${model.get("model_name")}`, svgColors(palette), "each cell: the head's attention pattern (thumbnail)"),
  );
  frame.camera.addSvg(headPanel.header, "head", "the attention pattern", () =>
    heatmap.toSvg(`Attention · ${headPanel.title.textContent}`, svgColors(palette)),
  );

  // ---- state --------------------------------------------------------------------------------
  let tokens: string[] = [];
  let thumbs: NDArray | null = null;
  let scores: Score[] = [];
  let direction: Direction = "from";
  // the token hovered in the strip (or row/col hovered on the map), else the locked query/key
  const focus = createHoverLock<number>(() => (direction === "from" ? position("query") : position("key")));
  let drawn: { layer: number; head: number; run: number } | null = null;
  let current: HeadPattern | null = null;
  let palette = readPalette(root);
  let scale: ColorScale = sequential(palette);
  let masked: [number, number, number] = [240, 240, 240];
  let colourEpoch = 0; // bumped per theme change: colours must be recomputed

  const run = () => model.get("run_id");
  const nLayers = () => model.get("n_layers");
  const nHeads = () => model.get("n_heads");

  const selection = connectSelection(model, {
    signal,
    canSave: () => !model.get("_static"),
    onChange(changed) {
      if (changed.has("layer") || changed.has("head")) {
        showHead();
        markTiles();
      }
      if (changed.has("query") || changed.has("key")) showLocks();
    },
  });

  /** The selected head if this model has it, else what is drawn (or 0.0). */
  function selectedHead() {
    return headOf(selection, nLayers(), nHeads(), drawn);
  }
  const position = (field: "query" | "key") => {
    const v = selection.get(field);
    return v !== null && v < tokens.length ? v : null;
  };

  // ---- patterns -----------------------------------------------------------------------------

  function preview(layer: number, head: number): HeadPattern | null {
    if (!thumbs) return null;
    const t = thumbs.shape[2] as number;
    const start = (layer * nHeads() + head) * t * t;
    const block = (thumbs.data as Uint8Array).subarray(start, start + t * t);
    return { n: tokens.length, levels: upsample(block, t, tokens.length), values: null };
  }

  const patterns = createHeadPatterns(model, {
    run,
    canFetch: () => !model.get("_static"),
    signal,
    onArrive(layer, head) {
      const sel = selectedHead();
      if (sel.layer === layer && sel.head === head) showHead();
    },
  });

  /** The head's full pattern if the page has it, else (while it is fetched, or in a static
   * export without it) a preview from its thumbnail. */
  const patternFor = (layer: number, head: number): HeadPattern | null =>
    patterns.get(layer, head) ?? preview(layer, head);

  // ---- drawing ------------------------------------------------------------------------------

  function showHead() {
    if (tokens.length === 0) return;
    const { layer, head } = selectedHead();
    const pattern = patternFor(layer, head);
    if (!pattern) return;
    const keepView = drawn !== null && drawn.run === run();
    current = pattern;
    drawn = { layer, head, run: run() };
    heatmap.setData({ n: pattern.n, levels: pattern.levels, rowLabels: tokens, colLabels: tokens, causal: true }, keepView);
    const full = pattern.values !== null;
    headPanel.title.textContent = `Layer ${layer} · Head ${head}`;
    Object.assign(headPanel.element.dataset, {
      layer: String(layer),
      head: String(head),
      resolution: full ? "full" : "preview",
      run: String(run()),
      drawMs: heatmap.lastDrawMs.toFixed(2),
    });
    previewNote.hidden = full;
    previewNote.textContent = model.get("_static")
      ? STATIC_PREVIEW
      : patterns.error(layer, head) || "Loading the full pattern…";
    const shown = scores.filter((s) => s.spec.key === "entropy" || s.spec.key === "bos_share" || s.spec.key === overview.scoreKey());
    headStats.replaceChildren(
      ...shown.map((s) => {
        const item = document.createElement("span");
        item.textContent = `${s.spec.label} ${formatScore(s.values, layer, head)}`;
        return item;
      }),
    );
    showLocks();
    paintTokens();
  }

  function formatScore(values: NDArray, layer: number, head: number): string {
    const v = headValue(values, layer, head);
    return Number.isFinite(v) ? v.toFixed(2) : "—";
  }

  function weight(q: number, k: number): number {
    if (!current || q >= current.n || k >= current.n) return NaN;
    if (k > q) return NaN;
    const i = q * current.n + k;
    return current.values ? (current.values[i] as number) : (current.levels[i] as number) / 255;
  }

  function showLocks() {
    const q = position("query");
    const k = position("key");
    heatmap.setMarks(q, k);
    if (q === null && k === null) {
      lockLine.textContent = "Click a cell to lock its query; click it again to unlock.";
    } else {
      const parts = [];
      if (q !== null) parts.push(`query ${q} ${JSON.stringify(tokens[q] ?? "")}`);
      if (k !== null) parts.push(`key ${k} ${JSON.stringify(tokens[k] ?? "")}`);
      lockLine.textContent = `Locked: ${parts.join(", ")} — click the cell again to unlock.`;
    }
    root.dataset.query = q === null ? "" : String(q);
    root.dataset.key = k === null ? "" : String(k);
    paintTokens();
  }

  /** Colour the token strip: by the row (direction "from") or column ("to") of the hovered
   * token, else of the locked query / key. */
  let painted = "";
  function paintTokens() {
    const source = focus.shown();
    // Hovering along a row (or column) keeps the same colours: repaint only on a change.
    const what = `${source}|${direction}|${drawn?.run}.${drawn?.layer}.${drawn?.head}|${current?.values ? "full" : "preview"}|${strip.length}|${colourEpoch}`;
    if (what === painted) return;
    painted = what;
    strip.element.dataset.source = source === null ? "" : String(source);
    strip.element.querySelector(".cw-ae-source")?.classList.remove("cw-ae-source");
    if (source === null || !current) {
      strip.paint(() => PLAIN);
      return;
    }
    strip.paint((i) => {
      const w = direction === "from" ? weight(source, i) : weight(i, source);
      if (i === source) return PLAIN;
      return Number.isFinite(w) ? scale(w) : null;
    });
    strip.tokenAt(source)?.classList.add("cw-ae-source");
  }

  function hoverCell(cell: Cell | null, anchor: HTMLElement) {
    if (!cell) {
      tooltip.hide();
      focus.hover(null);
      paintTokens();
      return;
    }
    const w = weight(cell.row, cell.col);
    const title = document.createDocumentFragment();
    title.append(visibleToken(tokens[cell.row] ?? ""), " → ", visibleToken(tokens[cell.col] ?? ""));
    tooltip.show(anchor, {
      title,
      rows: [
        ["query", `${cell.row}`],
        ["key", `${cell.col}`],
        ["weight", cell.col > cell.row ? "masked" : formatProbability(w)],
      ],
      note: current?.values ? undefined : "preview: the largest weight in this block",
    });
    heatmap.element.dataset.hoverWeight = Number.isFinite(w) ? String(w) : "";
    focus.hover(direction === "from" ? cell.row : cell.col);
    paintTokens();
  }

  function hoverToken(i: number, span: HTMLElement) {
    focus.hover(i);
    paintTokens();
    const rows: [string, string][] = [["position", String(i)]];
    const q = position("query");
    if (direction === "from" && q !== null && q !== i) rows.push([`weight from query ${q}`, formatProbability(weight(q, i))]);
    tooltip.show(span, { title: visibleToken(tokens[i] ?? ""), rows, note: direction === "from" ? "colours: attention this token pays" : "colours: attention paid to this token" });
  }

  function lockCell(cell: Cell) {
    const same = position("query") === cell.row && position("key") === cell.col;
    selection.set(same ? { query: null, key: null } : { query: cell.row, key: cell.col });
  }

  function lockToken(i: number) {
    const field = direction === "from" ? "query" : "key";
    selection.set({ [field]: position(field) === i ? null : i });
  }

  function markTiles() {
    const { layer, head } = selectedHead();
    overview.mark(layer, head);
  }

  const setDirection = (d: Direction) => {
    direction = d;
    directions.show(d);
    strip.element.dataset.direction = d;
    paintTokens();
  };
  setDirection("from");

  // ---- model state -> view ------------------------------------------------------------------

  function drawData() {
    const nextTokens = model.get("tokens");
    const wireThumbs = model.get("thumbnails");
    if (!wireThumbs || nextTokens.length === 0) return;
    tokens = nextTokens;
    thumbs = decode(wireThumbs);
    scores = model.get("head_scores").map((spec) => ({ spec, values: decode(spec.values) }));
    overview.setData(nLayers(), nHeads(), thumbs, tokens.length, scores);
    patterns.reset();
    patterns.loadBank(model.get("_bank"));
    tooltip.hide();
    focus.hover(null);
    strip.setTokens(tokens);
    painted = ""; // new spans: paint them all
    overview.paint(scale.lut, masked, palette);
    markTiles();
    showHead();
    root.dataset.tokenCount = String(tokens.length);
    frame.setMeta([
      model.get("model_name"),
      `${tokens.length} tokens`,
      `${nLayers()} layers × ${nHeads()} heads`,
    ]);
  }

  function recolour() {
    colourEpoch++;
    palette = readPalette(root);
    scale = sequential(palette);
    masked = maskedRgb(palette);
    root.style.setProperty("--cw-ae-masked", `rgb(${masked.join(" ")})`);
    heatmap.setColors(scale.lut, masked);
    legend.setScale(scale);
    overview.paint(scale.lut, masked, palette);
    paintTokens();
  }

  watch(model, ["tokens", "thumbnails", "head_scores", "_bank", "run_id", "n_layers", "n_heads"], drawData, signal);
  onThemeChange(root, recolour, signal);

  recolour();
  drawData();
  whenInDocument(root, () => {
    recolour();
    showHead();
    root.dataset.ready = "true";
  }, signal);
}

export default { render: withSignal(render) };
