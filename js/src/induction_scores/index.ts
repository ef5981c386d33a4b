/**
 * InductionScores: which heads are induction, previous-token and duplicate-token heads, from
 * the repeated-random-tokens experiment (or the user's own text), and why.
 *
 * State (Python: circuitwidgets/widgets/induction_scores.py):
 *   half, seed, batch, mode, text   the experiment (edited here through a "run" request that
 *                                   Python checks, so a bad value shows inline and stays typed)
 *   kind                            the open tab ("induction", "previous_token", "duplicate_token")
 *   tokens                          display strings of the sequence shown (first of the batch)
 *   _scores                         KindScores: {kind: float32 [L, H]}
 *   _top                            TopHeads: {kind: [[layer, head], ...]} best first
 *   _targets                        TargetRuns: {kind: [[row, col, length], ...]} the cells each score counts
 *   _shown                          Shown: what the drawn data is (mode, seq, half/seed/batch or queries)
 *   _bank, run_id                   full patterns the page has (kit/head_patterns.ts)
 *   busy, error                     progress line / inline error (the last good view stays)
 *   selection                       the shared Selection (layer, head): kit/selection.ts
 *
 * Its parts: experiment.ts (the controls), scores_panel.ts (the tabs, the head grid, the top
 * heads), pattern_panel.ts (the selected head's pattern and its guides), state.ts (the pure
 * logic, unit-tested).
 *
 * For tests and tools: grid cells are the kit's head grid (kit/head_grid.ts), buttons named
 * "layer L head H" with `data-score` (the open tab's score) and `data-<kind>` for every kind; `.cw-is-head[data-layer][data-head]
 * [data-resolution]` names the pattern drawn ("full", or "missing" while it is fetched or
 * when a static export does not hold it); the guides are SVG paths
 * `.cw-heatmap-guide[data-guide=<kind>]` whose `d` is in plot pixels and `data-runs` in cells.
 */
import type { RenderProps } from "@anywidget/types";
import "./induction_scores.css";
import { failureText, invoke, isQuiet } from "../kit/channel";
import { sequential } from "../kit/color_scale";
import { decodePayload, headValue, type NDArray } from "../kit/decode";
import { createHeadPatterns } from "../kit/head_patterns";
import { withSignal } from "../kit/render";
import { connectView, startDrawing } from "../kit/lifecycle";
import { headGridSvg, svgColors } from "../kit/svg_grid";
import { createView } from "../kit/view";
import { watch } from "../kit/watch";
import { createExperiment } from "./experiment";
import { createPatternPanel } from "./pattern_panel";
import { createScoresPanel } from "./scores_panel";
import type { ScoresNow, State } from "./shared";
import { CAPTION, KINDS, shownText, TEXT, type Kind } from "./state";

const STATIC_NOTE = "Static export: running the model again needs a live Python kernel.";

function render({ model, el, signal }: RenderProps<State>) {
  const { frame, root, tooltip, banner } = createView(model, el, signal, {
    title: "Induction heads",
    className: "cw-induction-scores",
    progress: "cw-is-progress",
  });

  let tokens: string[] = [];
  let values = new Map<Kind, NDArray>();
  let drawn: { layer: number; head: number; run: number } | null = null;
  const isStatic = () => model.get("_static");
  const { look, selection, nLayers, nHeads, selectedHead, pairedHead } = connectView(model, root, signal, {
    scale: sequential,
    onSelection(changed) {
      if (changed.has("layer") || changed.has("head")) {
        scores.markSelected();
        showHead();
      } else if (changed.has("pair")) scores.markSelected();
    },
  });
  const now: ScoresNow = {
    model, selection, tooltip,
    kind: () => model.get("kind"),
    score: (k, layer, h) => headValue(values.get(k) ?? null, layer, h),
    scale: () => look.scale,
    selectedHead: () => selectedHead(drawn),
    pairedHead,
  };
  const patterns = createHeadPatterns(model, {
    run: () => model.get("run_id"),
    canFetch: () => !isStatic(),
    signal,
    onArrive: (layer, h) => {
      const sel = now.selectedHead();
      if (sel.layer === layer && sel.head === h) showHead();
    },
  });

  const caption = document.createElement("p");
  caption.className = "cw-is-caption";
  const experiment = createExperiment({
    onRun: (content) => request(content),
    mode: () => model.get("mode"),
    onShowMode: (mode) => (root.dataset.mode = mode),
  });
  // The experiment comes first; the error banner and progress line right under it.
  banner.element.before(caption, ...experiment.elements);
  const main = document.createElement("div");
  main.className = "cw-is-main";
  frame.body.append(main);
  const scores = createScoresPanel(main, now, (next) => {
    model.set("kind", next);
    if (!isStatic()) model.save_changes();
  }, signal);
  const pattern = createPatternPanel(main, now, patterns, signal);
  frame.camera.addSvg(scores.panel.header, "scores", "the head scores", () =>
    headGridSvg(scores.grid.element, `${TEXT[now.kind()].tab} scores: ${model.get("model_name")}`, svgColors(look.palette)),
  );
  frame.camera.addSvg(pattern.panel.header, "pattern", "the attention pattern", () =>
    pattern.heatmap.toSvg(`Attention · ${pattern.panel.title.textContent}`, svgColors(look.palette)),
  );

  /** Run the experiment the user typed: Python checks it (a refusal shows in the banner). */
  function request(content: Record<string, unknown>) {
    if (isStatic()) return;
    invoke(model, "run", content, { signal, timeout: 0 }).catch((e) => {
      if (!isQuiet(e)) banner.set(failureText(e));
    });
  }

  function showHead() {
    if (tokens.length === 0) return;
    const run = model.get("run_id");
    const shown = pattern.show(tokens, drawn !== null && drawn.run === run);
    if (shown) drawn = { ...shown, run };
  }

  function describe() {
    const s = model.get("_shown");
    if (!s) return;
    caption.textContent = CAPTION[s.mode];
    frame.setMeta([model.get("model_name"), `${nLayers()} layers × ${nHeads()} heads`, ...shownText(s)]);
    root.dataset.shownMode = s.mode;
  }

  function drawData() {
    const next = model.get("tokens");
    const wire = model.get("_scores");
    if (next.length === 0 || !wire) return;
    tokens = next;
    const decoded = decodePayload(wire);
    values = new Map(KINDS.map((k) => [k, decoded[k]]));
    scores.grid.setShape(nLayers(), nHeads());
    patterns.reset();
    patterns.loadBank(model.get("_bank"));
    tooltip.hide();
    describe();
    scores.paint();
    pattern.paintGuides();
    showHead();
    root.dataset.tokenCount = String(tokens.length);
    root.dataset.run = String(model.get("run_id"));
    root.dataset.drawnAt = String(Date.now()); // wall clock, for benchmarks/bench_induction_scores.py
  }

  const syncSettings = () =>
    experiment.sync({
      mode: model.get("mode"), half: model.get("half"), seed: model.get("seed"), batch: model.get("batch"),
      max_half: model.get("max_half"), max_batch: model.get("max_batch"), text: model.get("text"),
    });

  function recolour() {
    look.read();
    pattern.heatmap.setColors(look.scale.lut, look.masked);
    scores.legend.setScale(look.scale);
    pattern.legend.setScale(look.scale);
    if (values.size) scores.paint();
  }

  const setStatic = () => experiment.setStatic(isStatic(), STATIC_NOTE);

  watch(model, ["tokens", "_scores", "_top", "_targets", "_shown", "_bank", "run_id", "n_layers", "n_heads"], drawData, signal);
  watch(model, ["kind"], () => {
    scores.paint();
    pattern.paintGuides();
    showHead();
  }, signal);
  watch(model, ["half", "seed", "batch", "mode", "text", "max_half"], syncSettings, signal);
  watch(model, ["_static"], setStatic, signal);

  setStatic();
  syncSettings();
  startDrawing(root, signal, {
    recolour,
    draw: drawData,
    ready() {
      showHead();
      root.dataset.readyAt = String(Date.now()); // wall clock, for benchmarks/bench_induction_scores.py
    },
  });
}

export default { render: withSignal(render) };
