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
 *   _model_free           "" with a model; made from arrays (cw.attention_heads), why there is
 *                         no text box, ablation panel or model-run score: shown in their place
 *   selection             the shared Selection (layer, head, query, key, pair): kit/selection.ts
 *
 * A head that is neither in the bank nor cached is drawn at once from its thumbnail (marked
 * "preview") and asked for through the request channel (kit/channel.ts) as `invoke("pattern",
 * {layer, head, run})`; the kernel answers with its float16 pattern as a binary buffer, or
 * with why not (shown in place of "Loading…"). The last few are cached.
 *
 * Its parts: overview.ts (every head), head_panel.ts (the selected head), pair_panel.ts (when
 * the selection holds a pair of heads: the writer's pattern beside the selected reader's),
 * token_panel.ts (the text coloured by attention), state.ts and pair_state.ts (the pure
 * logic, unit-tested).
 *
 * The ablation panel (kit/ablation_panel.ts) switches heads off — A toggles the selected one —
 * and shows the prediction at the locked query (else the last position) before and after; the
 * ablated thumbnails carry data-ablated="true".
 *
 * For tests and tools: `.cw-ae-head[data-layer][data-head][data-resolution]` names what the
 * heatmap shows ("full" or "preview"); thumbnails are buttons named "layer L head H".
 */
import type { RenderProps } from "@anywidget/types";
import "./attention_explorer.css";
import { sequential, type Palette } from "../kit/color_scale";
import { decode, type NDArray } from "../kit/decode";
import { formatTick } from "../kit/format";
import type { Frame } from "../kit/frame";
import type { Viewport } from "../kit/heatmap_layout";
import { createHeadPatterns } from "../kit/head_patterns";
import { createLegend } from "../kit/legend";
import { withSignal } from "../kit/render";
import { connectView, startDrawing } from "../kit/lifecycle";
import { headGridSvg, svgColors } from "../kit/svg_grid";
import { createView } from "../kit/view";
import { watch } from "../kit/watch";
import { createExplorerAblation } from "./ablation_panel";
import { createHeadPanel, type HeadPanel } from "./head_panel";
import { createLongText, type LongText } from "./long_text";
import { createOverview, type Overview, type Score } from "./overview";
import { createPairPanel, type PairPanel } from "./pair_panel";
import { pairKey } from "./pair_state";
import type { ExplorerNow, State } from "./shared";
import { headStats, positionIn, previewPattern, type HeadPattern } from "./state";
import { createTokenPanel } from "./token_panel";

/** How long a long text's view must stay put before its block is asked for. */
const TILE_SETTLE_MS = 150;
const LONG_NOTE =
  "A long text: zoomed out, the pooled thumbnail; zoom in (Ctrl/⌘ + wheel, + / −, Shift + drag a box) for blocks at full resolution. Hover weights are exact.";
const STATIC_LONG = "This file holds only the pooled thumbnail of a long text: zoomed blocks and exact weights need the kernel.";
const STATIC_PREVIEW =
  "This file holds a preview of this head (block maxima). Save with heads=\"all\" for every head at full resolution.";

/** What the head view says under a pattern of an ordinary text. */
const fullNote = (isStatic: boolean, error: string | undefined | null) => (isStatic ? STATIC_PREVIEW : error || "Loading the full pattern…");

/** What it says under a long text's pattern (none once a block at full resolution is drawn). */
const longNote = (isStatic: boolean, long: LongText) =>
  isStatic ? STATIC_LONG : long.tiles.error() || (long.drawnTile() ? "" : LONG_NOTE);

/** `fn` once the calls have stopped for `ms` (the last call's arguments). */
function settled<A extends unknown[]>(fn: (...args: A) => unknown, ms: number): (...args: A) => void {
  let timer = 0;
  return (...args: A) => {
    clearTimeout(timer);
    timer = window.setTimeout(() => fn(...args), ms);
  };
}

/** The line that says why a view made from arrays has no text box, ablation or model score. */
function modelFreeNote(text: string): HTMLElement {
  const note = document.createElement("div");
  note.className = "cw-ae-note cw-ae-model-free";
  note.textContent = text;
  return note;
}

function createWeightLegend(parent: HTMLElement) {
  return createLegend(parent, {
    title: "Attention weight",
    ticks: [0, 0.25, 0.5, 0.75, 1],
    format: formatTick,
    swatches: [{ label: "masked (key after query)", className: "cw-ae-masked" }],
  });
}

/** With a pair drawn, the reader's title says it reads; the root says which pair it is. */
function markPair(root: HTMLElement, headPanel: HeadPanel, pairPanel: PairPanel, reader: { layer: number; head: number }) {
  if (pairPanel.writer()) headPanel.panel.title.textContent += " · reads";
  root.classList.toggle("cw-ae-paired", pairPanel.writer() !== null);
  root.dataset.pair = pairKey(pairPanel.writer(), reader);
}

/** "Save SVG" of every head's thumbnail and of the head's pattern. */
function addExports(frame: Frame, overview: Overview, headPanel: HeadPanel, modelName: () => string, palette: () => Palette) {
  frame.camera.addSvg(overview.panel.header, "heads", "every head's thumbnail", () =>
    headGridSvg(overview.grid.element, `Attention heads: ${modelName()}`, svgColors(palette()), "each cell: the head's attention pattern (thumbnail)"),
  );
  frame.camera.addSvg(headPanel.panel.header, "head", "the attention pattern", () =>
    headPanel.heatmap.toSvg(`Attention · ${headPanel.panel.title.textContent}`, svgColors(palette())),
  );
}

function render({ model, el, signal }: RenderProps<State>) {
  const modelFree = model.get("_model_free"); // fixed for the widget's life
  const { frame, root, tooltip } = createView(model, el, signal, {
    title: "Attention",
    className: "cw-attention-explorer",
    textInput: modelFree ? undefined : { label: "Text" },
    progress: "cw-ae-progress",
  });
  if (modelFree) frame.body.append(modelFreeNote(modelFree));

  let tokens: string[] = [];
  let thumbs: NDArray | null = null;
  let scores: Score[] = [];
  let drawn: { layer: number; head: number; run: number } | null = null;
  let current: HeadPattern | null = null;
  const run = () => model.get("run_id");
  const view = connectView(model, root, signal, {
    scale: sequential,
    onSelection(changed) {
      if (changed.has("layer") || changed.has("head") || changed.has("pair")) {
        showHead();
        markTiles();
      }
      if (changed.has("query") || changed.has("key")) showLocks();
    },
  });
  const { look, selection, nLayers, nHeads } = view;
  /** The selected head if this model has it, else what is drawn (or 0.0). */
  const selectedHead = () => view.selectedHead(drawn);
  const now: ExplorerNow = {
    selection, tooltip,
    tokens: () => tokens,
    current: () => current,
    direction: () => tokenPanel.direction(),
    position: (field) => positionIn(selection.get(field), tokens.length),
    pairHover: (cell, anchor) => (pairPanel.writer() ? (pairPanel.hover(cell, anchor), true) : false),
  };

  const main = frame.body.appendChild(Object.assign(document.createElement("div"), { className: "cw-ae-main" }));
  const overview = createOverview(main, { onSelect: (layer, head) => selection.set({ layer, head }), onScoreChange: () => showHead() });
  const isLong = () => tokens.length > model.get("_long_text_tokens");
  const canFetch = () => !model.get("_static");
  const long = createLongText(model, {
    run, canFetch, signal,
    onArrive(kind) {
      // a block redraws the heatmap; a row or column only the hover card and the strip
      if (kind === "tile") showHead();
      else tokenPanel.paint();
      headPanel.refreshHover();
    },
  });
  // once the view has settled (a zoom by wheel or keys passes many views: ask for the last)
  // and not inside the draw that reports it
  const onView = settled((v: Viewport, px: number) => long.setView(v, px) && showHead(), TILE_SETTLE_MS);
  const headPanel = createHeadPanel(main, now, signal, (i) => tokenPanel.hover(i), (v, px) => isLong() && onView(v, px));
  const pairPanel = createPairPanel(main, headPanel.panel.element, now, signal, {
    readerHeatmap: () => headPanel.heatmap,
    readerPattern: () => current,
    colors: () => [look.scale.lut, look.masked],
    onFocus: (i) => tokenPanel.hover(i),
  });
  const tokenPanel = createTokenPanel(frame.body, now, {
    drawnKey: () => `${drawn?.run}.${drawn?.layer}.${drawn?.head}.${long.tiles.version}`,
    scale: () => look.scale,
  });
  const ablation = modelFree
    ? null
    : createExplorerAblation(frame.body, model, root, signal, now, overview.grid.element, () => (tokens.length ? selectedHead() : null));
  const legend = createWeightLegend(frame.body);
  addExports(frame, overview, headPanel, () => model.get("model_name"), () => look.palette);

  const drawsHead = (layer: number, head: number) => [selectedHead(), view.pairedHead()].some((h) => h?.layer === layer && h.head === head);
  const patterns = createHeadPatterns(model, { run, canFetch, signal, onArrive: (layer, head) => drawsHead(layer, head) && showHead() });
  /** A head's full pattern if the page has it, else (while it is fetched, or in a static export
   * without it) a preview from its thumbnail. */
  const headPattern = (layer: number, head: number) => patterns.get(layer, head) ?? previewPattern(thumbs, nHeads(), layer, head, tokens.length);

  function showHead() {
    if (tokens.length === 0) return;
    const { layer, head } = selectedHead();
    const pattern = isLong() ? thumbs && long.pattern(layer, head, thumbs, nHeads(), tokens.length) : headPattern(layer, head);
    if (!pattern) return;
    const keepView = drawn !== null && drawn.run === run();
    current = pattern;
    drawn = { layer, head, run: run() };
    const note = isLong() ? longNote(model.get("_static"), long) : fullNote(model.get("_static"), patterns.error(layer, head));
    headPanel.show(layer, head, run(), pattern, keepView, note, headStats(scores, overview.scoreKey(), layer, head));
    headPanel.panel.element.dataset.tile = isLong() ? long.drawnTile() : "";
    showPair({ layer, head }, keepView);
    showLocks();
    tokenPanel.paint();
  }

  /** The pair's writer beside the reader (the selected head), or no pair panel. */
  function showPair(reader: { layer: number; head: number }, keepView: boolean) {
    const writer = view.pairedHead();
    const pattern = writer && headPattern(writer.layer, writer.head);
    if (writer && pattern) pairPanel.show(writer, reader, run(), pattern, keepView, fullNote(model.get("_static"), patterns.error(writer.layer, writer.head)));
    else pairPanel.hide();
    markPair(root, headPanel, pairPanel, reader);
  }

  function showLocks() {
    const [q, k] = [now.position("query"), now.position("key")];
    for (const p of [headPanel, pairPanel]) p.showLocks(q, k);
    Object.assign(root.dataset, { query: q === null ? "" : String(q), key: k === null ? "" : String(k) });
    tokenPanel.paint();
    ablation?.refresh();
  }

  function markTiles() {
    const { layer, head } = selectedHead();
    overview.mark(layer, head, view.pairedHead());
  }

  function drawData() {
    const nextTokens = model.get("tokens");
    const wireThumbs = model.get("thumbnails");
    if (!wireThumbs || nextTokens.length === 0) return;
    tokens = nextTokens;
    thumbs = decode(wireThumbs);
    scores = model.get("head_scores").map((spec) => ({ spec, values: decode(spec.values) }));
    overview.setData(nLayers(), nHeads(), thumbs, tokens.length, scores);
    patterns.reset();
    long.reset();
    patterns.loadBank(model.get("_bank"));
    tooltip.hide();
    tokenPanel.setTokens(tokens);
    overview.paint(look.scale.lut, look.masked, look.palette);
    markTiles();
    showHead();
    root.dataset.tokenCount = String(tokens.length);
    frame.setMeta([model.get("model_name"), `${tokens.length} tokens`, `${nLayers()} layers × ${nHeads()} heads`]);
  }

  function recolour() {
    look.read();
    headPanel.heatmap.setColors(look.scale.lut, look.masked);
    pairPanel.recolour(); // the same scale as the reader's: the two compare
    legend.setScale(look.scale);
    overview.paint(look.scale.lut, look.masked, look.palette);
    tokenPanel.paint(true); // colours must be recomputed
  }

  watch(model, ["tokens", "thumbnails", "head_scores", "_bank", "run_id", "n_layers", "n_heads"], drawData, signal);
  startDrawing(root, signal, { recolour, draw: drawData, ready: showHead });
}

export default { render: withSignal(render) };
