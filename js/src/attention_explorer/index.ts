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
 *   selection             the shared Selection (layer, head, query, key): kit/selection.ts
 *
 * A head that is neither in the bank nor cached is drawn at once from its thumbnail (marked
 * "preview") and asked for through the request channel (kit/channel.ts) as `invoke("pattern",
 * {layer, head, run})`; the kernel answers with its float16 pattern as a binary buffer, or
 * with why not (shown in place of "Loading…"). The last few are cached.
 *
 * Its parts: overview.ts (every head), head_panel.ts (the selected head), token_panel.ts (the
 * text coloured by attention), state.ts (the pure logic, unit-tested).
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
import { sequential } from "../kit/color_scale";
import { decode, type NDArray } from "../kit/decode";
import { formatTick } from "../kit/format";
import { createHeadPatterns } from "../kit/head_patterns";
import { createLegend } from "../kit/legend";
import { withSignal } from "../kit/render";
import { connectView, startDrawing } from "../kit/lifecycle";
import { headGridSvg, svgColors } from "../kit/svg_grid";
import { createView } from "../kit/view";
import { watch } from "../kit/watch";
import { createExplorerAblation } from "./ablation_panel";
import { createHeadPanel } from "./head_panel";
import { createLongText } from "./long_text";
import { createOverview, type Score } from "./overview";
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

function render({ model, el, signal }: RenderProps<State>) {
  const modelFree = model.get("_model_free"); // fixed for the widget's life
  const { frame, root, tooltip } = createView(model, el, signal, {
    title: "Attention",
    className: "cw-attention-explorer",
    textInput: modelFree ? undefined : { label: "Text" },
    progress: "cw-ae-progress",
  });
  if (modelFree) {
    const note = document.createElement("div");
    note.className = "cw-ae-note cw-ae-model-free";
    note.textContent = modelFree;
    frame.body.append(note);
  }

  let tokens: string[] = [];
  let thumbs: NDArray | null = null;
  let scores: Score[] = [];
  let drawn: { layer: number; head: number; run: number } | null = null;
  let current: HeadPattern | null = null;
  const run = () => model.get("run_id");
  const view = connectView(model, root, signal, {
    scale: sequential,
    onSelection(changed) {
      if (changed.has("layer") || changed.has("head")) {
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
  };

  const main = document.createElement("div");
  main.className = "cw-ae-main";
  frame.body.append(main);
  const overview = createOverview(main, {
    onSelect: (layer, head) => selection.set({ layer, head }),
    onScoreChange: () => showHead(),
  });
  const isLong = () => tokens.length > model.get("_long_text_tokens");
  const long = createLongText(model, {
    run,
    canFetch: () => !model.get("_static"),
    signal,
    onArrive(kind) {
      // a block redraws the heatmap; a row or column only the hover card and the strip
      if (kind === "tile") showHead();
      else tokenPanel.paint();
      headPanel.refreshHover();
    },
  });
  let settle = 0;
  const headPanel = createHeadPanel(main, now, signal, (i) => tokenPanel.hover(i), (v, px) => {
    // once the view has settled (a zoom by wheel or keys passes many views: ask for the last)
    // and not inside the draw that reports it
    if (!isLong()) return;
    clearTimeout(settle);
    settle = window.setTimeout(() => {
      if (long.setView(v, px)) showHead();
    }, TILE_SETTLE_MS);
  });
  const tokenPanel = createTokenPanel(frame.body, now, {
    drawnKey: () => `${drawn?.run}.${drawn?.layer}.${drawn?.head}.${long.tiles.version}`,
    scale: () => look.scale,
  });
  const ablation = modelFree
    ? null
    : createExplorerAblation(frame.body, model, root, signal, now, overview.grid.element, () => (tokens.length ? selectedHead() : null));
  const legend = createLegend(frame.body, {
    title: "Attention weight",
    ticks: [0, 0.25, 0.5, 0.75, 1],
    format: formatTick,
    swatches: [{ label: "masked (key after query)", className: "cw-ae-masked" }],
  });
  frame.camera.addSvg(overview.panel.header, "heads", "every head's thumbnail", () =>
    headGridSvg(overview.grid.element, `Attention heads: ${model.get("model_name")}`, svgColors(look.palette), "each cell: the head's attention pattern (thumbnail)"),
  );
  frame.camera.addSvg(headPanel.panel.header, "head", "the attention pattern", () =>
    headPanel.heatmap.toSvg(`Attention · ${headPanel.panel.title.textContent}`, svgColors(look.palette)),
  );

  const patterns = createHeadPatterns(model, {
    run,
    canFetch: () => !model.get("_static"),
    signal,
    onArrive(layer, head) {
      const sel = selectedHead();
      if (sel.layer === layer && sel.head === head) showHead();
    },
  });

  function showHead() {
    if (tokens.length === 0) return;
    const { layer, head } = selectedHead();
    // The full pattern if the page has it, else (while it is fetched, or in a static export
    // without it) a preview from its thumbnail.
    const pattern = isLong()
      ? thumbs && long.pattern(layer, head, thumbs, nHeads(), tokens.length)
      : patterns.get(layer, head) ?? previewPattern(thumbs, nHeads(), layer, head, tokens.length);
    if (!pattern) return;
    const keepView = drawn !== null && drawn.run === run();
    current = pattern;
    drawn = { layer, head, run: run() };
    const note = isLong()
      ? model.get("_static") ? STATIC_LONG : long.tiles.error() || (long.drawnTile() ? "" : LONG_NOTE)
      : model.get("_static") ? STATIC_PREVIEW : patterns.error(layer, head) || "Loading the full pattern…";
    headPanel.show(layer, head, run(), pattern, keepView, note, headStats(scores, overview.scoreKey(), layer, head));
    headPanel.panel.element.dataset.tile = isLong() ? long.drawnTile() : "";
    showLocks();
    tokenPanel.paint();
  }

  function showLocks() {
    const q = now.position("query");
    const k = now.position("key");
    headPanel.showLocks(q, k);
    root.dataset.query = q === null ? "" : String(q);
    root.dataset.key = k === null ? "" : String(k);
    tokenPanel.paint();
    ablation?.refresh();
  }

  function markTiles() {
    const { layer, head } = selectedHead();
    overview.mark(layer, head);
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
    legend.setScale(look.scale);
    overview.paint(look.scale.lut, look.masked, look.palette);
    tokenPanel.paint(true); // colours must be recomputed
  }

  watch(model, ["tokens", "thumbnails", "head_scores", "_bank", "run_id", "n_layers", "n_heads"], drawData, signal);
  startDrawing(root, signal, { recolour, draw: drawData, ready: showHead });
}

export default { render: withSignal(render) };
