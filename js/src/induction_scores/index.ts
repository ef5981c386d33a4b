/**
 * InductionScores: which heads are induction, previous-token and duplicate-token heads, from
 * the repeated-random-tokens experiment (or the user's own text), and why.
 *
 * State (Python: circuitwidgets/widgets/induction_scores.py):
 *   half, seed, batch, mode, text   the experiment (edited here through a "run" request that
 *                                   Python checks, so a bad value shows inline and stays typed)
 *   kind                            the open tab ("induction", "previous_token", "duplicate_token")
 *   tokens                          display strings of the sequence shown (first of the batch)
 *   _scores                         {kind: float32 [L, H]}
 *   _top                            {kind: [[layer, head], ...]} best first
 *   _targets                        {kind: [[row, col, length], ...]} the cells each score counts
 *   _shown                          what the drawn data is (mode, half, seed, batch, seq ...)
 *   _bank, run_id                   full patterns the page has (kit/head_patterns.ts)
 *   busy, error                     progress line / inline error (the last good view stays)
 *   selection                       the shared Selection (layer, head): kit/selection.ts
 *
 * For tests and tools: grid cells are buttons named "layer L head H" with `data-value` (the
 * open tab's score) and `data-<kind>` for every kind; `.cw-is-head[data-layer][data-head]
 * [data-resolution]` names the pattern drawn ("full", or "missing" while it is fetched or
 * when a static export does not hold it); the guides are SVG paths
 * `.cw-heatmap-guide[data-guide=<kind>]` whose `d` is in plot pixels and `data-runs` in cells.
 */
import type { RenderProps } from "@anywidget/types";
import "./induction_scores.css";
import { decode, headValue, type NDArray, type WireArray } from "../kit/decode";
import { formatProbability, formatTick } from "../kit/format";
import { createHeadGrid } from "../kit/head_grid";
import { createExperiment, type Mode } from "./experiment";
import { createHeadPatterns, type PatternBank } from "../kit/head_patterns";
import { failureText, invoke, isQuiet } from "../kit/channel";
import { createHeatmap, type Cell, type Guide } from "../kit/heatmap";
import type { DiagonalRun } from "../kit/heatmap_layout";
import { createLegend } from "../kit/legend";
import { maskedRgb, sequential, type ColorScale } from "../kit/color_scale";
import { connectSelection, selectedHead as headOf } from "../kit/selection";
import { onThemeChange, readPalette, whenInDocument } from "../kit/theme";
import { createPanel } from "../kit/panel";
import { headGridSvg, svgColors } from "../kit/svg_grid";
import { visibleToken } from "../kit/token_strip";
import { createView } from "../kit/view";
import { watch } from "../kit/watch";
import { withSignal } from "../kit/render";
import { createTabs } from "../kit/tabs";

type Kind = "induction" | "previous_token" | "duplicate_token";

interface Shown {
  mode: Mode;
  seq: number;
  half?: number;
  seed?: number;
  batch?: number;
  queries?: Record<Kind, number>;
}

interface State {
  [key: string]: unknown;
  half: number;
  seed: number;
  batch: number;
  mode: Mode;
  text: string;
  kind: Kind;
  model_name: string;
  n_layers: number;
  n_heads: number;
  max_half: number;
  max_batch: number;
  tokens: string[];
  _scores: Record<Kind, WireArray>;
  _top: Record<Kind, [number, number][]>;
  _targets: Record<Kind, [number, number, number][]>;
  _shown: Shown;
  _bank: PatternBank | null;
  run_id: number;
  busy: string;
  error: string;
  _static: boolean;
  selection: string;
}

const KINDS: readonly Kind[] = ["induction", "previous_token", "duplicate_token"];

/** How each kind is named and explained (the grid's help line and the guide legend). */
const TEXT: Record<Kind, { tab: string; short: string; help: string; guide: (s: Shown) => string }> = {
  induction: {
    tab: "Induction",
    short: "induction",
    help: "Attention from each repeated token to the token that followed its earlier copy — what an induction head copies to predict the next token.",
    guide: (s) =>
      s.mode === "random" && s.half !== undefined
        ? `induction stripe: query i → key i − ${s.half - 1} (i − half + 1)`
        : "induction: the token after each earlier copy",
  },
  previous_token: {
    tab: "Previous token",
    short: "previous-token",
    help: "Attention from each token to the one just before it (counted on the second copy).",
    guide: () => "previous token: query i → key i − 1",
  },
  duplicate_token: {
    tab: "Duplicate token",
    short: "duplicate-token",
    help: "Attention from each repeated token to its own earlier copy.",
    guide: (s) =>
      s.mode === "random" && s.half !== undefined
        ? `duplicate stripe: query i → key i − ${s.half} (i − half)`
        : "duplicate: the earlier copies of the same token",
  },
};

const CAPTION: Record<Mode, string> = {
  random:
    "The model reads a run of random tokens and then the same run again, so in the second copy every token has been seen before. " +
    "A previous-token head looks one step back, and an induction head looks at the token that came right after the earlier copy of the current token — the one that comes next — which is how a model continues a pattern it has seen.",
  text:
    "Here the heads are scored on your text: only positions whose token already occurred earlier count for the induction and duplicate-token scores. " +
    "A head that looks at the token after an earlier copy of the current token is acting as an induction head on your text.",
};

const PATTERN_CAPTION =
  "Each row is a query (a position reading), each column a key (a position read); darker means more attention. " +
  "Lines bracket the cells each score counts.";

const STATIC_NOTE = "Static export: running the model again needs a live Python kernel.";

function render({ model, el, signal }: RenderProps<State>) {
  const { frame, root, tooltip, banner } = createView(model, el, signal, {
    title: "Induction heads",
    className: "cw-induction-scores",
    progress: "cw-is-progress",
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

  // ---- scores panel ---------------------------------------------------------------------------
  const scores = createPanel(main, { className: "cw-is-scores", title: "Head scores" });
  const tabs = createTabs<Kind>(scores.body, scores.body, {
    label: "Kind of head",
    tabs: KINDS.map((kind) => ({ value: kind, text: TEXT[kind].tab })),
    onPick: (next) => setKind(next),
  });
  const tabPanel = tabs.panel;
  tabPanel.classList.add("cw-is-tabpanel");
  const grid = createHeadGrid(tabPanel, {
    label: "Head scores, layers down and heads across",
    onSelect: (layer, head) => selection.set({ layer, head }),
    onHover: (layer, head, cell) => hoverHead(layer, head, cell),
  });
  const scoreLegend = createLegend(tabPanel, { title: "score", ticks: [0, 0.25, 0.5, 0.75, 1], format: formatTick });
  const help = document.createElement("p");
  help.className = "cw-is-help";
  tabPanel.append(help);
  const topBox = document.createElement("div");
  topBox.className = "cw-is-top";
  const topTitle = document.createElement("div");
  topTitle.className = "cw-is-top-title";
  const topList = document.createElement("ol");
  topList.className = "cw-is-top-list";
  topBox.append(topTitle, topList);
  tabPanel.append(topBox);

  // ---- pattern panel --------------------------------------------------------------------------
  const head = createPanel(main, { className: "cw-is-head", title: "" });
  const headStats = document.createElement("span");
  headStats.className = "cw-is-stats";
  head.header.append(headStats);
  const heatmap = createHeatmap(head.body, {
    label: "Attention pattern of the selected head on the sequence: queries down, keys across",
    rowTitle: "query",
    colTitle: "key",
    signal,
    maxSize: 460,
    onHover: (cell, anchor) => hoverCell(cell, anchor),
  });
  const guideLegend = document.createElement("div");
  guideLegend.className = "cw-is-guides";
  const missing = document.createElement("div");
  missing.className = "cw-is-note";
  missing.hidden = true;
  const patternCaption = document.createElement("p");
  patternCaption.className = "cw-is-help";
  patternCaption.textContent = PATTERN_CAPTION;
  head.body.append(guideLegend, missing, patternCaption);
  const weightLegend = createLegend(head.body, {
    title: "attention weight",
    ticks: [0, 0.5, 1],
    format: formatTick,
    swatches: [{ label: "masked (key after query)", className: "cw-is-masked" }],
  });

  frame.camera.addSvg(scores.header, "scores", "the head scores", () =>
    headGridSvg(grid.element, `${TEXT[kind()].tab} scores: ${model.get("model_name")}`, svgColors(palette)),
  );
  frame.camera.addSvg(head.header, "pattern", "the attention pattern", () =>
    heatmap.toSvg(`Attention · ${head.title.textContent}`, svgColors(palette)),
  );

  // ---- state ----------------------------------------------------------------------------------
  let tokens: string[] = [];
  let values = new Map<Kind, NDArray>();
  let drawn: { layer: number; head: number; run: number } | null = null;
  let current: Float32Array | null = null;
  let palette = readPalette(root);
  let scale: ColorScale = sequential(palette);
  let masked: [number, number, number] = [240, 240, 240];

  const isStatic = () => model.get("_static");
  const nLayers = () => model.get("n_layers");
  const nHeads = () => model.get("n_heads");
  const kind = () => model.get("kind");
  const shown = () => model.get("_shown");

  const selection = connectSelection(model, {
    signal,
    canSave: () => !isStatic(),
    onChange(changed) {
      if (changed.has("layer") || changed.has("head")) {
        markSelected();
        showHead();
      }
    },
  });
  const patterns = createHeadPatterns(model, {
    run: () => model.get("run_id"),
    canFetch: () => !isStatic(),
    signal,
    onArrive: (layer, h) => {
      const sel = selectedHead();
      if (sel.layer === layer && sel.head === h) showHead();
    },
  });

  function selectedHead() {
    return headOf(selection, nLayers(), nHeads(), drawn);
  }

  const score = (k: Kind, layer: number, h: number) => headValue(values.get(k) ?? null, layer, h);

  // ---- requests to Python ---------------------------------------------------------------------

  function request(content: Record<string, unknown>) {
    if (isStatic()) return;
    invoke(model, "run", content, { signal, timeout: 0 }).catch((e) => {
      if (!isQuiet(e)) banner.set(failureText(e));
    });
  }

  // ---- tabs -----------------------------------------------------------------------------------

  function setKind(next: Kind) {
    model.set("kind", next);
    if (!isStatic()) model.save_changes();
  }

  // ---- drawing --------------------------------------------------------------------------------

  function paintGrid() {
    const k = kind();
    tabs.show(k);
    tabPanel.dataset.kind = k;
    grid.paint((layer, h) => {
      const v = score(k, layer, h);
      return { value: v, swatch: scale(v) };
    });
    for (const other of KINDS) {
      for (let layer = 0; layer < nLayers(); layer++) {
        for (let h = 0; h < nHeads(); h++) {
          const cell = grid.cell(layer, h);
          if (cell) cell.dataset[camel(other)] = String(score(other, layer, h));
        }
      }
    }
    help.textContent = TEXT[k].help;
    scoreLegend.element.querySelector(".cw-legend-title")!.textContent = `${TEXT[k].short} score`;
    paintTop();
  }

  function paintTop() {
    const k = kind();
    topTitle.textContent = `Top ${TEXT[k].short} heads`;
    const top = model.get("_top")[k] ?? [];
    topList.replaceChildren(
      ...top.map(([layer, h], i) => {
        const li = document.createElement("li");
        const b = document.createElement("button");
        b.type = "button";
        b.className = "cw-is-top-head";
        b.dataset.layer = String(layer);
        b.dataset.head = String(h);
        b.dataset.rank = String(i + 1);
        const name = document.createElement("span");
        name.textContent = `L${layer}.H${h}`;
        const value = document.createElement("span");
        value.className = "cw-is-top-value";
        const v = score(k, layer, h);
        value.textContent = v.toFixed(2);
        const sw = scale(v);
        value.style.background = sw?.background ?? "";
        value.style.color = sw?.color ?? "";
        b.append(name, value);
        b.title = `Select layer ${layer} head ${h}`;
        b.addEventListener("click", () => selection.set({ layer, head: h }));
        li.append(b);
        return li;
      }),
    );
    markSelected();
  }

  function markSelected() {
    const { layer, head: h } = selectedHead();
    grid.select(layer, h);
    for (const b of topList.querySelectorAll<HTMLButtonElement>(".cw-is-top-head")) {
      b.setAttribute("aria-pressed", String(Number(b.dataset.layer) === layer && Number(b.dataset.head) === h));
    }
  }

  function guides(): Guide[] {
    const targets = model.get("_targets");
    const k = kind();
    const show = KINDS.filter((kk) => kk === k || kk !== "duplicate_token");
    return show.map((kk) => ({
      id: kk,
      className: `cw-is-guide-${kk}${kk === k ? " cw-is-guide-active" : ""}`,
      runs: (targets[kk] ?? []).map(([row, col, length]): DiagonalRun => ({ row, col, length })),
    }));
  }

  function paintGuides() {
    const list = guides();
    heatmap.setGuides(list);
    guideLegend.replaceChildren(
      ...list.map((g) => {
        const item = document.createElement("span");
        item.className = "cw-is-guide-key";
        const sample = document.createElementNS("http://www.w3.org/2000/svg", "svg");
        sample.setAttribute("width", "22");
        sample.setAttribute("height", "12");
        sample.setAttribute("aria-hidden", "true");
        const line = document.createElementNS("http://www.w3.org/2000/svg", "path");
        line.setAttribute("d", "M2 1L12 11M10 1L20 11");
        line.setAttribute("class", `cw-heatmap-guide ${g.className}`);
        sample.append(line);
        const label = document.createElement("span");
        label.textContent = TEXT[g.id as Kind].guide(shown());
        item.append(sample, label);
        return item;
      }),
    );
  }

  function showHead() {
    if (tokens.length === 0) return;
    const { layer, head: h } = selectedHead();
    const pattern = patterns.get(layer, h);
    const keepView = drawn !== null && drawn.run === model.get("run_id");
    head.title.textContent = `Layer ${layer} · Head ${h}`;
    headStats.replaceChildren(
      ...KINDS.map((k) => {
        const s = document.createElement("span");
        s.className = k === kind() ? "cw-is-stat cw-is-stat-active" : "cw-is-stat";
        s.textContent = `${TEXT[k].short} ${score(k, layer, h).toFixed(2)}`;
        return s;
      }),
    );
    Object.assign(head.element.dataset, { layer: String(layer), head: String(h), run: String(model.get("run_id")) });
    if (!pattern) {
      head.element.dataset.resolution = "missing";
      missing.hidden = false;
      missing.textContent = isStatic()
        ? "This export does not hold this head's pattern (only every head's scores). Save a smaller experiment to embed every head."
        : patterns.error(layer, h) || "Fetching this head's pattern…";
      return;
    }
    missing.hidden = true;
    current = pattern.values;
    drawn = { layer, head: h, run: model.get("run_id") };
    heatmap.setData({ n: pattern.n, levels: pattern.levels, rowLabels: tokens, colLabels: tokens, causal: true }, keepView);
    head.element.dataset.resolution = "full";
  }

  function hoverHead(layer: number | null, h: number | null, cell: HTMLElement | null) {
    if (layer === null || h === null || !cell) {
      tooltip.hide();
      return;
    }
    tooltip.show(cell, {
      title: `layer ${layer} head ${h}`,
      rows: KINDS.map((k) => [`${TEXT[k].short}${k === kind() ? " ●" : ""}`, formatProbability(score(k, layer, h))] as const),
      note: "click to show its attention pattern",
    });
  }

  function targetOf(row: number, col: number): Kind[] {
    const targets = model.get("_targets");
    return KINDS.filter((k) =>
      (targets[k] ?? []).some(([r, c, n]) => row - col === r - c && row >= r && row < r + n),
    );
  }

  function hoverCell(cell: Cell | null, anchor: HTMLElement) {
    if (!cell || !current) {
      tooltip.hide();
      return;
    }
    const n = tokens.length;
    const w = cell.col > cell.row ? NaN : (current[cell.row * n + cell.col] as number);
    const title = document.createDocumentFragment();
    title.append(visibleToken(tokens[cell.row] ?? ""), " → ", visibleToken(tokens[cell.col] ?? ""));
    const kinds = targetOf(cell.row, cell.col);
    tooltip.show(anchor, {
      title,
      rows: [
        ["query", String(cell.row)],
        ["key", String(cell.col)],
        ["weight", cell.col > cell.row ? "masked" : formatProbability(w)],
      ],
      note: kinds.length ? `counts for the ${kinds.map((k) => TEXT[k].short).join(" and ")} score` : undefined,
    });
    heatmap.element.dataset.hoverWeight = Number.isFinite(w) ? String(w) : "";
  }

  function describe() {
    const s = shown();
    caption.textContent = CAPTION[s.mode];
    const what =
      s.mode === "random"
        ? [`${s.batch} × random tokens repeated (BOS + 2 × ${s.half} = ${s.seq} tokens)`, `seed ${s.seed}`]
        : [`your text (${s.seq} tokens)`];
    frame.setMeta([model.get("model_name"), `${nLayers()} layers × ${nHeads()} heads`, ...what]);
    root.dataset.shownMode = s.mode;
  }

  function drawData() {
    const next = model.get("tokens");
    if (next.length === 0) return;
    tokens = next;
    values = new Map(KINDS.map((k) => [k, decode(model.get("_scores")[k])]));
    grid.setShape(nLayers(), nHeads());
    patterns.reset();
    patterns.loadBank(model.get("_bank"));
    tooltip.hide();
    describe();
    paintGrid();
    paintGuides();
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
    palette = readPalette(root);
    scale = sequential(palette);
    masked = maskedRgb(palette);
    root.style.setProperty("--cw-is-masked", `rgb(${masked.join(" ")})`);
    heatmap.setColors(scale.lut, masked);
    scoreLegend.setScale(scale);
    weightLegend.setScale(scale);
    if (values.size) paintGrid();
  }

  const setStatic = () => experiment.setStatic(isStatic(), STATIC_NOTE);

  watch(model, ["tokens", "_scores", "_top", "_targets", "_shown", "_bank", "run_id", "n_layers", "n_heads"], drawData, signal);
  watch(model, ["kind"], () => {
    paintGrid();
    paintGuides();
    showHead();
  }, signal);
  watch(model, ["half", "seed", "batch", "mode", "text", "max_half"], syncSettings, signal);
  watch(model, ["_static"], setStatic, signal);
  onThemeChange(root, recolour, signal);

  setStatic();
  syncSettings();
  recolour();
  drawData();
  whenInDocument(root, () => {
    recolour();
    showHead();
    root.dataset.ready = "true";
    root.dataset.readyAt = String(Date.now()); // wall clock, for benchmarks/bench_induction_scores.py
  }, signal);
}

/** `previous_token` -> `previousToken` (a dataset key, i.e. `data-previous-token`). */
function camel(name: string): string {
  return name.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
}

export default { render: withSignal(render) };
