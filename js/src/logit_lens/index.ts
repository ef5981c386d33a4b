/**
 * LogitLens: what the model would predict after each layer — a readout slider over a row of
 * top-1 guesses, a readouts x positions grid, the target's probability and rank across
 * readouts, and the direct contribution of every head and MLP to the target's logit.
 *
 * State (Python: circuitwidgets/widgets/logit_lens.py):
 *   text, tokens        the input and its tokens (display strings)
 *   readouts            [{short, long}] per readout (0 = embeddings ... n_layers = final)
 *   lens                the text's tokens and the pages of the lens sent with it (see
 *                       logit_lens/data.ts): top-k per (readout, position), each position's
 *                       final prediction with its probability/rank, KL
 *   page_size           positions per page: the row of guesses and the grid show one page
 *   _target             a picked target's probability/rank on the pages sent with it, or null
 *   _attribution        an attribution the page has without asking (static exports only)
 *   run_id, busy, error, target_error, _static
 *   selection           the shared Selection: lens_layer, position, layer, head
 *
 * Moving the slider, hovering and clicking positions are all answered in the browser. A page
 * not here yet is asked for through the request channel (kit/channel.ts) with
 * `invoke("page", {run, page, lens, target})` (the page shown first, then, once idle, the
 * pages on either side; one request at a time, so the kernel is never queued up for long);
 * its columns are drawn as pending until it arrives. The attribution of a (position, target)
 * is `invoke("attribution", {run, position, target})` (an error the kernel raises shows in
 * its panel, data-state="error"); a typed target `invoke("target", {text})`.
 *
 * For tests and tools: the root carries data-lens-layer, data-position, data-target, data-page,
 * data-page-state ("ready" | "pending"), data-page-drawn-at (Date.now() when the page shown
 * was first drawn complete) and data-ready-count; each prediction cell
 * `.cw-ll-pred[data-index]` carries data-token (the top-1 id), data-prob and data-pending.
 */
import type { RenderProps } from "@anywidget/types";
import "./logit_lens.css";
import { createButton } from "../kit/button";
import { createControl } from "../kit/control";
import { mix, toCss } from "../kit/color";
import { sequential, type ColorScale } from "../kit/color_scale";
import { failureText, invoke, isQuiet } from "../kit/channel";
import { LRU } from "../kit/lru";
import { formatProbability, formatTick } from "../kit/format";
import { createLegend } from "../kit/legend";
import { createPanel } from "../kit/panel";
import { connectSelection } from "../kit/selection";
import { createSlider } from "../kit/slider";
import { svgColors } from "../kit/svg_grid";
import { onThemeChange, readPalette, whenInDocument } from "../kit/theme";
import { visibleToken } from "../kit/token_strip";
import { createView } from "../kit/view";
import { watch } from "../kit/watch";
import { createLineChart } from "./chart";
import {
  addLensPage, addTargetPage, addVocab, allReady, barsToShow, decodeAttribution, decodeLens, headTop, isHit, klAt, maxKl,
  pageOf, pageSpan, shade, targetOf, topAt, writtenBy,
  type Attribution, type AttributionWire, type Bar, type GridMode, type Lens, type LensPageWire, type LensWire, type Target,
  type TargetPageWire, type TargetWire,
} from "./data";
import { createLensGrid, tokenLabel } from "./grid";
import { withSignal } from "../kit/render";
import { createToggleGroup } from "../kit/toggle_group";

interface Readout {
  short: string;
  long: string;
}

interface State {
  [key: string]: unknown;
  text: string;
  tokens: string[];
  readouts: Readout[];
  lens: LensWire | null;
  _target: TargetWire | null;
  _attribution: AttributionWire | null;
  target_error: string;
  run_id: number;
  busy: string;
  error: string;
  model_name: string;
  n_layers: number;
  n_heads: number;
  d_vocab: number;
  k: number;
  page_size: number;
  _static: boolean;
  selection: string;
}

/** Bars shown before "show all". */
const BAR_LIMIT = 14;
const CACHE_SIZE = 24;
const STATIC_NOTE = "Static export: new targets and other positions' contributions need a running Python kernel.";

const MODES: { mode: GridMode; label: string; legend: string; help: string }[] = [
  { mode: "top", label: "top-1 probability", legend: "P(top-1)", help: "Cells are shaded by how sure the readout is of its top guess." },
  { mode: "target_prob", label: "target probability", legend: "P(target)", help: "Cells are shaded by the target token's probability at that readout." },
  { mode: "target_rank", label: "target rank", legend: "rank of target", help: "Cells are shaded by the target's rank among all tokens: darkest = rank 1." },
  { mode: "kl", label: "KL to final", legend: "KL to final (nats)", help: "Cells are shaded by how far that readout's distribution is from the model's output (KL divergence)." },
];

function render({ model, el, signal }: RenderProps<State>) {
  const { frame, root, tooltip } = createView(model, el, signal, {
    title: "Logit lens",
    className: "cw-logit-lens",
    textInput: { label: "Text" },
    progress: "cw-ll-progress",
  });

  // ---- readout slider and the row of top-1 guesses -----------------------------------------
  const lensPanel = createPanel(frame.body, { className: "cw-ll-lens", title: "Readout", captionFirst: true, caption: "Stop the model after a layer and unembed its residual stream: what would it predict next? ✓ marks a guess that is the token that really came next. Hover a position for its top guesses; click to select it." });
  const readoutLine = document.createElement("div");
  readoutLine.className = "cw-ll-readout";
  lensPanel.header.append(readoutLine);
  const slider = createSlider(lensPanel.body, {
    label: "Logit lens readout",
    onChange: (value) => selection.set({ lens_layer: value }),
  });
  const summary = document.createElement("div");
  summary.className = "cw-ll-summary";
  lensPanel.body.append(summary);
  const pagers = [createPager(lensPanel.body)];
  const preds = document.createElement("div");
  preds.className = "cw-ll-preds";
  preds.tabIndex = 0;
  preds.setAttribute("role", "listbox");
  preds.setAttribute("aria-label", "Top guess at each position: arrow keys choose a position");
  preds.setAttribute("data-lm-suppress-shortcuts", "true");
  lensPanel.body.append(preds);

  // ---- grid ---------------------------------------------------------------------------------
  const gridPanel = createPanel(frame.body, { className: "cw-ll-grid-panel", title: "Every readout", captionFirst: true, caption: "Rows are readouts (embeddings at the top, the model's output at the bottom), columns are positions; each cell shows the top guess there. Click a cell to choose its readout and position." });
  const modes = createToggleGroup(gridPanel.header, {
    label: "Shade cells by",
    className: "cw-ll-modes",
    options: MODES.map(({ mode, label, help }) => ({ value: mode, text: label, help })),
    onPick: (m) => setMode(m),
  });
  const grid = createLensGrid(gridPanel.body, {
    label: "Top-1 token at every readout and position",
    signal,
    onHover: (cell, anchor) => {
      if (cell) showCellCard(cell.row, shownSpan().start + cell.col, anchor);
      else tooltip.hide();
    },
    onPick: (cell) => selection.set({ lens_layer: cell.row, position: shownSpan().start + cell.col }),
    onKey: (move) => {
      if (!lens) return;
      if (move === "home") return selection.set({ position: 0 });
      if (move === "end") return selection.set({ position: lens.positions - 1 });
      selection.set({
        lens_layer: clamp(lensLayer() + move.rows, 0, lens.readouts - 1),
        position: clamp(position() + move.cols, 0, lens.positions - 1),
      });
    },
  });
  frame.camera.addSvg(gridPanel.header, "grid", "the readouts grid", () =>
    grid.toSvg(`Logit lens: top-1 token at every readout (${MODES.find((m) => m.mode === mode)?.legend})`, svgColors(palette)),
  );
  pagers.push(createPager(gridPanel.header));
  const gridHelp = document.createElement("div");
  gridHelp.className = "cw-ll-note";
  gridPanel.body.append(gridHelp);
  const legendBox = document.createElement("div");
  gridPanel.body.append(legendBox);

  // ---- target and who wrote it ------------------------------------------------------------
  const lower = document.createElement("div");
  lower.className = "cw-ll-lower";
  frame.body.append(lower);
  const targetPanel = createPanel(lower, { className: "cw-ll-target", title: "Target", captionFirst: true, caption: "How likely the target token is at each readout of the selected position, and its rank among all tokens (1 = the top guess). Click a readout to move the slider there." });
  const picker = document.createElement("form");
  picker.className = "cw-ll-picker";
  const pickerInput = createControl("input", "cw-ll-picker-input");
  pickerInput.type = "text";
  pickerInput.spellcheck = false;
  pickerInput.setAttribute("aria-label", "Target token");
  pickerInput.setAttribute("data-lm-suppress-shortcuts", "true");
  pickerInput.placeholder = "a token, e.g. ␣the → type \" the\"";
  const follow = createButton("Follow", "Follow this token at every position (Enter)");
  follow.type = "submit";
  const reset = createButton("Final prediction", "Go back to the model's final prediction at each position");
  picker.append(pickerInput, follow, reset);
  const targetMessage = document.createElement("div");
  targetMessage.className = "cw-ll-target-error";
  targetMessage.setAttribute("role", "alert");
  targetMessage.hidden = true;
  const targetLine = document.createElement("div");
  targetLine.className = "cw-ll-target-line";
  const charts = document.createElement("div");
  charts.className = "cw-ll-charts";
  const pickReadout = (i: number) => selection.set({ lens_layer: i });
  const probChart = createLineChart(charts, { title: "probability", axis: "linear", format: formatProbability, onPick: pickReadout });
  const rankChart = createLineChart(charts, { title: "rank (log scale)", axis: "rank", format: (v) => String(v), onPick: pickReadout });
  targetPanel.body.append(picker, targetMessage, targetLine, charts);

  const whoPanel = createPanel(lower, { className: "cw-ll-who", title: "Who wrote it", captionFirst: true, caption: "How much each part of the model adds straight to the target's logit at the output (through the final norm, its scale frozen). Bars right push the target up. Faded: written after the slider's readout. Click a head to select it; hover it to see what it writes." });
  const whoLine = document.createElement("div");
  whoLine.className = "cw-ll-who-line";
  const bars = document.createElement("div");
  bars.className = "cw-ll-bars";
  bars.setAttribute("role", "list");
  const showAll = createButton("Show all", "Show every component");
  const whoNote = document.createElement("div");
  whoNote.className = "cw-ll-note";
  whoPanel.body.append(whoLine, bars, showAll, whoNote);

  // ---- state --------------------------------------------------------------------------------
  let tokens: string[] = [];
  let readouts: Readout[] = [];
  let lens: Lens | null = null;
  let target: Target | null = null;
  let klMax = 1;
  let mode: GridMode = "top";
  let showingAll = false;
  const vocab = new Map<number, string>();
  const attributions = new LRU<string, Attribution>(CACHE_SIZE);
  const pending = new Set<string>();
  const refused = new Map<string, string>(); // why the kernel could not attribute (by key)
  let predCells: HTMLElement[] = []; // the shown page's, in order
  let page = 0; // the page shown
  let requested: string | null = null; // the one page request in flight ("lens|target:page")
  const drawnPages = new Set<number>(); // pages already drawn complete (for data-page-drawn-at)
  let palette = readPalette(root);
  let probScale: ColorScale = sequential(palette);
  let gridScale: ColorScale = sequential(palette);

  const selection = connectSelection(model, {
    signal,
    canSave: () => !model.get("_static"),
    onChange(changed) {
      if (changed.has("lens_layer")) showReadout();
      if (changed.has("position")) showPosition();
      if (changed.has("layer") || changed.has("head")) markHead();
    },
  });

  const run = () => model.get("run_id");
  const isStatic = () => model.get("_static");
  const tokenStr = (id: number) => vocab.get(id) ?? `#${id}`;
  /** The shared readout if this model has it, else the final one. */
  const lensLayer = () => {
    const v = selection.get("lens_layer");
    const R = lens?.readouts ?? 1;
    return v !== null && v < R ? v : R - 1;
  };
  const position = () => {
    const v = selection.get("position");
    const P = lens?.positions ?? 1;
    return v !== null && v < P ? v : P - 1;
  };
  const targetId = (p: number) => target?.idAt(p) ?? -1;
  const pageSize = () => Math.max(1, model.get("page_size"));
  const shownSpan = () => pageSpan(page, pageSize(), lens?.positions ?? 0);
  const ready = (p: number) => !!lens && lens.ready[p] === 1 && (target?.ready(p) ?? false);
  const keyOf = (p: number, t: number) => `${run()}:${p}:${t}`;

  // ---- the row of guesses -----------------------------------------------------------------

  /** The row of guesses for the page shown. */
  function buildPreds() {
    if (!lens) return;
    const { start, end } = shownSpan();
    predCells = tokens.slice(start, end).map((token, j) => {
      const i = start + j;
      const cell = document.createElement("div");
      cell.className = "cw-ll-pred";
      cell.setAttribute("role", "option");
      cell.dataset.index = String(i);
      const from = document.createElement("span");
      from.className = "cw-ll-pred-in";
      from.append(visibleToken(token));
      const guess = document.createElement("span");
      guess.className = "cw-ll-pred-out";
      const prob = document.createElement("span");
      prob.className = "cw-ll-pred-p";
      const mark = document.createElement("span");
      mark.className = "cw-ll-pred-mark";
      mark.setAttribute("aria-hidden", "true");
      const line = document.createElement("span");
      line.className = "cw-ll-pred-line";
      line.append(guess, mark);
      cell.append(from, line, prob);
      return cell;
    });
    preds.replaceChildren(...predCells);
    preds.dataset.count = String(predCells.length);
  }

  function paintPreds() {
    if (!lens) return;
    const r = lensLayer();
    const p = position();
    predCells.forEach((cell) => {
      const i = Number(cell.dataset.index);
      cell.dataset.pending = String(!lens!.ready[i]);
      if (!lens!.ready[i]) return paintPending(cell, i);
      const { id, prob } = topAt(lens!, r, i);
      const hit = isHit(lens!, r, i);
      const swatch = probScale(prob);
      const guess = cell.querySelector(".cw-ll-pred-out") as HTMLElement;
      guess.replaceChildren(visibleToken(tokenStr(id)));
      (cell.querySelector(".cw-ll-pred-p") as HTMLElement).textContent = formatPercent(prob);
      (cell.querySelector(".cw-ll-pred-mark") as HTMLElement).textContent = hit === null ? "" : hit ? "✓" : "✗";
      const line = cell.querySelector(".cw-ll-pred-line") as HTMLElement;
      line.style.background = swatch?.background ?? "";
      line.style.color = swatch?.color ?? "";
      cell.dataset.token = String(id);
      cell.dataset.prob = String(prob);
      cell.dataset.hit = hit === null ? "none" : String(hit);
      cell.setAttribute("aria-selected", String(i === p));
      cell.setAttribute(
        "aria-label",
        `position ${i} ${JSON.stringify(tokens[i])}: guesses ${JSON.stringify(tokenStr(id))} ${formatPercent(prob)}` +
          (hit === null ? "" : hit ? ", correct" : ", wrong"),
      );
    });
    let hits = 0, total = 0;
    for (let i = 0; i + 1 < lens.positions; i++) {
      if (!lens.ready[i]) continue;
      total++;
      if (isHit(lens, r, i)) hits++;
    }
    const some = total < lens.positions - 1 ? " computed" : "";
    summary.textContent = total > 0 ? `At this readout the top guess is the real next token at ${hits} of ${total}${some} positions.` : "";
  }

  /** A position whose lens has not arrived: its input token, and "…" where the guess goes. */
  function paintPending(cell: HTMLElement, i: number) {
    (cell.querySelector(".cw-ll-pred-out") as HTMLElement).textContent = "…";
    (cell.querySelector(".cw-ll-pred-p") as HTMLElement).textContent = "";
    (cell.querySelector(".cw-ll-pred-mark") as HTMLElement).textContent = "";
    const line = cell.querySelector(".cw-ll-pred-line") as HTMLElement;
    line.style.background = line.style.color = "";
    delete cell.dataset.token;
    delete cell.dataset.prob;
    cell.dataset.hit = "none";
    cell.setAttribute("aria-selected", String(i === position()));
    cell.setAttribute("aria-label", `position ${i} ${JSON.stringify(tokens[i])}: computing`);
  }

  function showPredCard(i: number, anchor: HTMLElement) {
    if (!lens) return;
    if (!lens.ready[i]) {
      tooltip.show(anchor, { title: `${i}`, rows: [], note: "Computing this position's lens…" });
      return;
    }
    const r = lensLayer();
    const rows: [string, string][] = [];
    for (let j = 0; j < lens.k; j++) {
      const { id, prob } = topAt(lens, r, i, j);
      rows.push([`${j + 1}. ${tokenLabel(tokenStr(id))}`, formatProbability(prob)]);
    }
    const next = i + 1 < lens.positions ? tokens[i + 1] ?? "" : null;
    const title = document.createDocumentFragment();
    title.append(`${i} `, visibleToken(tokens[i] ?? ""), " → ?");
    tooltip.show(anchor, {
      title,
      rows,
      note: `${readouts[r]?.long ?? ""}` + (next === null ? " · last position: nothing follows" : ` · really next: ${tokenLabel(next)}`),
    });
  }

  preds.addEventListener("pointerover", (e) => {
    const cell = e.target instanceof Element ? e.target.closest<HTMLElement>(".cw-ll-pred") : null;
    if (cell) showPredCard(Number(cell.dataset.index), cell);
  });
  preds.addEventListener("pointerleave", () => tooltip.hide());
  preds.addEventListener("click", (e) => {
    const cell = e.target instanceof Element ? e.target.closest<HTMLElement>(".cw-ll-pred") : null;
    if (cell) selection.set({ position: Number(cell.dataset.index) });
  });
  preds.addEventListener("keydown", (e) => {
    if (!lens) return;
    const p = position();
    const next: Record<string, number> = {
      ArrowRight: p + 1, ArrowLeft: p - 1, Home: 0, End: lens.positions - 1,
    };
    if (!(e.key in next)) return;
    e.preventDefault();
    e.stopPropagation();
    const to = clamp(next[e.key] as number, 0, lens.positions - 1);
    selection.set({ position: to });
    const cell = predCells.find((c) => Number(c.dataset.index) === to);
    if (cell) {
      cell.scrollIntoView({ block: "nearest", inline: "nearest" });
      showPredCard(to, cell);
    }
  });
  preds.addEventListener("blur", () => tooltip.hide());

  // ---- grid ---------------------------------------------------------------------------------

  function drawGrid() {
    if (!lens || !target) return;
    const L = lens, T = target;
    const dVocab = model.get("d_vocab");
    const { start, end } = shownSpan();
    grid.setData({
      rows: L.readouts,
      cols: end - start,
      rowLabels: readouts.map((r) => r.short),
      colLabels: tokens.slice(start, end),
      firstColumn: start,
      pending: (c) => !L.ready[start + c] || !T.ready(start + c),
      text: (r, c) => tokenStr(topAt(L, r, start + c).id),
      value: (r, c) => shade(L, T, mode, r, start + c, dVocab, klMax),
    });
    markGrid();
  }

  /** The slider's readout and the selected position (if on the page shown) on the grid. */
  function markGrid() {
    const col = position() - shownSpan().start;
    grid.setMarks(lensLayer(), col >= 0 && col < predCells.length ? col : null);
  }

  function setMode(next: GridMode) {
    mode = next;
    modes.show(mode);
    gridPanel.element.dataset.mode = mode;
    paintLegend();
    drawGrid();
  }

  function paintLegend() {
    const spec = MODES.find((m) => m.mode === mode)!;
    const dVocab = model.get("d_vocab");
    gridHelp.textContent = spec.help + (mode.startsWith("target") ? ` ${targetExplained()}` : "");
    let ticks: number[] = [0, 0.5, 1];
    let format: (v: number) => string = formatTick;
    if (mode === "target_rank") {
      // shade = 1 - log(rank)/log(V): label the bar with ranks.
      ticks = [0, 0.5, 1];
      format = (v) => String(Math.round(Math.exp((1 - v) * Math.log(dVocab))));
    } else if (mode === "kl") {
      format = (v) => (v * klMax).toFixed(klMax >= 10 ? 0 : 2);
    }
    const fresh = createLegend(document.createElement("div"), { title: spec.legend, ticks, format });
    fresh.setScale(gridScale);
    legendBox.replaceChildren(fresh.element);
  }

  function showCellCard(r: number, p: number, anchor: HTMLElement) {
    if (!lens || !target) return;
    if (!ready(p)) {
      tooltip.show(anchor, { title: `${readouts[r]?.short ?? r} · ${p}`, rows: [], note: "Computing this position's lens…" });
      return;
    }
    const top = topAt(lens, r, p);
    const tid = targetId(p);
    const title = document.createDocumentFragment();
    title.append(`${readouts[r]?.short ?? r} · ${p} `, visibleToken(tokens[p] ?? ""), " → ", visibleToken(tokenStr(top.id)));
    tooltip.show(anchor, {
      title,
      rows: [
        ["readout", readouts[r]?.long ?? String(r)],
        ["top-1", `${tokenLabel(tokenStr(top.id))}  ${formatProbability(top.prob)}`],
        [`target ${tokenLabel(tokenStr(tid))}`, `${formatProbability(target.prob(r, p))} · rank ${target.rank(r, p)}`],
        ["KL to final", `${klAt(lens, r, p).toFixed(3)} nats`],
      ],
      note: "click: choose this readout and position",
    });
  }

  // ---- target -------------------------------------------------------------------------------

  function targetExplained(): string {
    return target?.picked
      ? `Target: ${JSON.stringify(tokenStr(target.idAt(0)))} at every position.`
      : "Target: the model's final prediction at each position.";
  }

  function showTarget() {
    if (!lens || !target) return;
    const p = position();
    const r = lensLayer();
    const tid = targetId(p);
    const probs: number[] = [];
    const ranks: number[] = [];
    const labels = readouts.map((x) => x.short);
    targetPanel.element.dataset.state = ready(p) ? "ready" : "pending";
    if (!ready(p)) {  // its page is on its way: empty axes, and say so
      probChart.set([], labels, r);
      rankChart.set([], labels, r, model.get("d_vocab"));
      targetLine.textContent = `Target at position ${p}: computing this position's lens…`;
      reset.disabled = !target.picked || isStatic();
      return;
    }
    for (let i = 0; i < lens.readouts; i++) {
      probs.push(target.prob(i, p));
      ranks.push(target.rank(i, p));
    }
    probChart.set(probs, labels, r);
    rankChart.set(ranks, labels, r, model.get("d_vocab"));
    const strong = document.createElement("strong");
    strong.className = "cw-ll-token";
    strong.append(visibleToken(tokenStr(tid)));
    targetLine.replaceChildren(
      "Target at position ",
      String(p),
      " (after ",
      visibleToken(tokens[p] ?? ""),
      "): ",
      strong,
      target.picked ? " — picked" : " — the model's final prediction here",
      ` · at ${readouts[r]?.short ?? r}: p = ${formatProbability(target.prob(r, p))}, rank ${target.rank(r, p)}`,
    );
    Object.assign(targetPanel.element.dataset, {
      target: String(tid),
      picked: String(target.picked),
      prob: String(target.prob(r, p)),
      rank: String(target.rank(r, p)),
    });
    reset.disabled = !target.picked || isStatic();
    root.dataset.target = String(tid);
  }

  /** Set (or, with "", clear) the target; a refusal shows in `target_error`, any other
   * failure beside the box too. */
  function askTarget(text: string) {
    invoke(model, "target", { text }, { signal, timeout: 0 }).catch((e) => {
      if (isQuiet(e)) return;
      targetMessage.textContent = failureText(e);
      targetMessage.hidden = false;
    });
  }

  picker.addEventListener("submit", (e) => {
    e.preventDefault();
    if (isStatic()) return;
    askTarget(pickerInput.value);
  });
  pickerInput.addEventListener("keydown", (e) => e.stopPropagation());
  reset.addEventListener("click", (e) => {
    e.preventDefault();
    pickerInput.value = "";
    askTarget("");
  });

  // ---- who wrote it -------------------------------------------------------------------------

  function attributionFor(p: number, t: number): Attribution | null {
    const key = keyOf(p, t);
    const known = attributions.get(key);
    if (known) return known;
    if (!isStatic() && !pending.has(key) && !refused.has(key) && t >= 0) askAttribution(key, p, t);
    return null;
  }

  function askAttribution(key: string, p: number, t: number) {
    pending.add(key);
    invoke<AttributionWire>(model, "attribution", { run: run(), position: p, target: t }, { signal }).then(
      (wire) => {
        pending.delete(key);
        if (wire.run !== run()) return;
        addVocab(vocab, wire.vocab);
        remember(decodeAttribution(wire));
        if (wire.position === position() && wire.target === targetId(position())) showWho();
      },
      (e) => {
        pending.delete(key);
        if (isQuiet(e)) return;
        refused.set(key, failureText(e));
        showWho();
      },
    );
  }

  function remember(a: Attribution) {
    attributions.set(keyOf(a.position, a.target), a);
  }

  function showWho() {
    if (!lens) return;
    const p = position();
    const t = targetId(p);
    const a = attributionFor(p, t);
    const why = a ? undefined : refused.get(keyOf(p, t));
    whoPanel.element.dataset.position = String(p);
    whoPanel.element.dataset.state = a ? "ready" : isStatic() ? "missing" : why ? "error" : "loading";
    if (!a) {
      bars.replaceChildren();
      showAll.hidden = true;
      whoLine.textContent = "";
      whoNote.textContent = isStatic()
        ? `${STATIC_NOTE} This file holds the contributions at the position that was selected when it was saved.`
        : why ?? (t < 0 ? "Computing this position's lens…" : "Computing the contributions…");
      return;
    }
    const strong = document.createElement("strong");
    strong.className = "cw-ll-token";
    strong.append(visibleToken(a.targetStr));
    whoLine.replaceChildren(
      "Logit of ",
      strong,
      ` at position ${p}: ${a.logit.toFixed(2)} = the sum of all ${a.bars.length} bars.`,
    );
    whoNote.textContent = "";
    drawBars(a);
  }

  function drawBars(a: Attribution) {
    const r = lensLayer();
    const shown = barsToShow(a.bars, showingAll ? null : BAR_LIMIT);
    const limit = Math.max(1e-9, ...a.bars.map((b) => Math.abs(b.value)));
    bars.replaceChildren(...shown.map((bar) => barRow(a, bar, limit, writtenBy(bar, r))));
    showAll.hidden = a.bars.length <= BAR_LIMIT;
    showAll.textContent = showingAll ? `Show the ${BAR_LIMIT} largest` : `Show all ${a.bars.length}`;
    markHead();
  }

  function barRow(a: Attribution, bar: Bar, limit: number, written: boolean): HTMLElement {
    const isHead = bar.kind === "head";
    const row = document.createElement(isHead ? "button" : "div");
    row.className = `cw-ll-bar cw-ll-bar-${bar.kind}`;
    row.setAttribute("role", "listitem");
    if (isHead) {
      (row as HTMLButtonElement).type = "button";
      row.setAttribute("aria-label", `layer ${bar.layer} head ${bar.head}`);
      row.dataset.layer = String(bar.layer);
      row.dataset.head = String(bar.head);
      row.addEventListener("click", () => selection.set({ layer: bar.layer, head: bar.head }));
      row.addEventListener("pointerenter", () => showHeadCard(a, bar, row));
      row.addEventListener("focus", () => showHeadCard(a, bar, row));
      row.addEventListener("pointerleave", () => tooltip.hide());
      row.addEventListener("blur", () => tooltip.hide());
    }
    row.classList.toggle("cw-ll-bar-later", !written);
    row.dataset.value = String(bar.value);
    const label = document.createElement("span");
    label.className = "cw-ll-bar-label";
    label.textContent = bar.label;
    const track = document.createElement("span");
    track.className = "cw-ll-bar-track";
    const fill = document.createElement("span");
    fill.className = "cw-ll-bar-fill";
    const half = (Math.abs(bar.value) / limit) * 50;
    fill.style.left = bar.value >= 0 ? "50%" : `${50 - half}%`;
    fill.style.width = `${half}%`;
    fill.classList.add(bar.value >= 0 ? "cw-ll-bar-up" : "cw-ll-bar-down");
    track.append(fill);
    const value = document.createElement("span");
    value.className = "cw-ll-bar-value";
    value.textContent = (bar.value >= 0 ? "+" : "") + bar.value.toFixed(2);
    row.append(label, track, value);
    row.title = written ? "" : `written by layer ${bar.layer}, after this readout`;
    return row;
  }

  function showHeadCard(a: Attribution, bar: Bar, anchor: HTMLElement) {
    const top = headTop(a, bar.layer, bar.head);
    tooltip.show(anchor, {
      title: `layer ${bar.layer} head ${bar.head}`,
      rows: [
        ["adds to the target's logit", (bar.value >= 0 ? "+" : "") + bar.value.toFixed(3)],
        ...top.map(({ id, value }) => [tokenLabel(tokenStr(id)), (value >= 0 ? "+" : "") + value.toFixed(2)] as [string, string]),
      ],
      note: "The tokens this head's output here pushes up most (through W_O and the unembedding).",
    });
  }

  function markHead() {
    const layer = selection.get("layer");
    const head = selection.get("head");
    bars.querySelectorAll<HTMLElement>(".cw-ll-bar-head").forEach((b) => {
      const on = Number(b.dataset.layer) === layer && Number(b.dataset.head) === head;
      b.setAttribute("aria-pressed", String(on));
    });
  }

  showAll.addEventListener("click", () => {
    showingAll = !showingAll;
    showWho();
  });

  /** A page's answer arrived: add what it holds and redraw what it changes. */
  function addPage(answer: { run: number; page: number; lens?: LensPageWire; target?: TargetPageWire }) {
    if (!lens || answer.run !== lens.run) return;
    const before = klMax;
    if (answer.lens) {
      addVocab(vocab, answer.lens.vocab);
      addLensPage(lens, answer.lens);
      klMax = maxKl(lens);
    }
    if (answer.target && target) addTargetPage(target, answer.target, lens.positions);
    if (answer.page === page) showPage();
    else if (klMax !== before) {  // the KL scale grew: the page shown is recoloured
      paintLegend();
      drawGrid();
    }
    countReady();
  }

  // ---- pages: the one shown first, then its neighbours -----------------------------------------

  /** What page `n` still lacks: its lens, and/or the picked target's numbers on it. */
  function missing(n: number): { lens: boolean; target: number | null } | null {
    if (!lens || !target) return null;
    const { start, end } = pageSpan(n, pageSize(), lens.positions);
    const needLens = !allReady(lens.ready, start, end);
    const needTarget = target.arrays !== null && !allReady(target.arrays.ready, start, end);
    if (!needLens && !needTarget) return null;
    return { lens: needLens, target: needTarget ? target.arrays!.id : null };
  }

  /** Ask for the next page the view lacks: the one shown, else the ones on either side.
   * One request at a time: each blocks the kernel for one page's worth of arithmetic. */
  function fetchPages() {
    if (!lens || isStatic() || requested !== null) return;
    const last = pageOf(lens.positions - 1, pageSize());
    for (const n of [page, page + 1, page - 1]) {
      if (n < 0 || n > last) continue;
      const need = missing(n);
      if (!need) continue;
      const key = (requested = `${lens.run}:${n}`);
      const settled = () => {
        if (requested !== key) return false;
        requested = null;
        return true;
      };
      invoke<Parameters<typeof addPage>[0]>(model, "page", { run: lens.run, page: n, lens: need.lens, target: need.target }, { signal }).then(
        (answer) => {
          settled();
          addPage(answer);
          fetchPages();
        },
        (e) => {
          if (!settled() || isQuiet(e)) return;
          summary.textContent = failureText(e);
        },
      );
      return;
    }
  }

  /** Show page `n` (the row of guesses and the grid's columns), asking for it if needed. */
  function setPage(n: number) {
    if (!lens) return;
    page = clamp(n, 0, pageOf(lens.positions - 1, pageSize()));
    buildPreds();
    showPage();
    fetchPages();
  }

  /** (Re)draw what depends on the page shown's numbers: guesses, grid, target, bars. */
  function showPage() {
    if (!lens) return;
    const { start, end } = shownSpan();
    const complete = !!target && allReady(lens.ready, start, end) && (!target.arrays || allReady(target.arrays.ready, start, end));
    paintPreds();
    drawGrid();
    paintLegend();
    showTarget();
    showWho();
    const last = pageOf(lens.positions - 1, pageSize());
    for (const pager of pagers) pager.set(start, end, lens.positions, page > 0, page < last, complete);
    Object.assign(root.dataset, { page: String(page), pageState: complete ? "ready" : "pending" });
    countReady();
    noteDrawn();
  }

  /** data-page-drawn-at: when the page shown was first drawn complete in the document. */
  function noteDrawn() {
    if (root.dataset.pageState !== "ready" || !root.isConnected || drawnPages.has(page)) return;
    drawnPages.add(page);
    root.dataset.pageDrawnAt = String(Date.now());
  }

  /** How many positions have arrived (data-ready-count, for tests and benchmarks). */
  function countReady() {
    let count = 0;
    for (const v of lens?.ready ?? []) count += v;
    root.dataset.readyCount = String(count);
  }

  /** "Positions 480–511 of 512" with earlier/later buttons (hidden when one page holds all). */
  function createPager(parent: HTMLElement) {
    const bar = document.createElement("div");
    bar.className = "cw-ll-pager";
    const earlier = createButton("◀ Earlier", "Show the previous positions");
    earlier.setAttribute("aria-label", "Earlier positions");
    const label = document.createElement("span");
    label.className = "cw-ll-pager-label";
    label.setAttribute("aria-live", "polite");
    const later = createButton("Later ▶", "Show the next positions");
    later.setAttribute("aria-label", "Later positions");
    earlier.addEventListener("click", () => setPage(page - 1));
    later.addEventListener("click", () => setPage(page + 1));
    bar.append(earlier, label, later);
    parent.append(bar);
    return {
      set(start: number, end: number, total: number, hasEarlier: boolean, hasLater: boolean, complete: boolean) {
        bar.hidden = !hasEarlier && !hasLater;
        label.textContent = `positions ${start}–${end - 1} of ${total}` + (complete ? "" : " · computing…");
        earlier.disabled = !hasEarlier;
        later.disabled = !hasLater;
      },
    };
  }

  // ---- putting it together ------------------------------------------------------------------

  function showReadout() {
    if (!lens) return;
    const r = lensLayer();
    slider.set(r, readouts.map((x) => x.short), readoutText(r));
    readoutLine.textContent = readouts[r]?.long ?? "";
    root.dataset.lensLayer = String(r);
    paintPreds();
    markGrid();
    showTarget();
    const a = attributions.get(keyOf(position(), targetId(position())));
    if (a) drawBars(a);
  }

  function readoutText(r: number): string {
    const R = readouts.length;
    return `${readouts[r]?.long ?? r} (readout ${r} of ${R - 1})`;
  }

  function showPosition() {
    if (!lens) return;
    const p = position();
    root.dataset.position = String(p);
    if (pageOf(p, pageSize()) !== page) return setPage(pageOf(p, pageSize())); // the page follows
    predCells.forEach((c) => c.setAttribute("aria-selected", String(Number(c.dataset.index) === p)));
    markGrid();
    grid.reveal(p - shownSpan().start);
    showTarget();
    showWho();
  }

  function drawData() {
    const wire = model.get("lens");
    if (!wire) return;
    tokens = model.get("tokens");
    readouts = model.get("readouts");
    if (lens?.run !== wire.run) {
      attributions.clear();
      pending.clear();
      refused.clear();
      drawnPages.clear();
      requested = null;
    }
    lens = decodeLens(wire, readouts.length, model.get("k"));
    for (const sent of wire.pages) addVocab(vocab, sent.vocab);
    page = pageOf(position(), pageSize());
    addVocab(vocab, wire.vocab);
    klMax = maxKl(lens);
    loadTarget();
    tooltip.hide();
    root.dataset.tokenCount = String(tokens.length);
    root.dataset.run = String(wire.run);
    frame.setMeta([
      model.get("model_name"),
      `${tokens.length} tokens`,
      `${model.get("n_layers")} layers`,
      `top ${model.get("k")} per position`,
    ]);
    showReadout();
    setPage(page);
  }

  function loadTarget() {
    if (!lens) return;
    target = targetOf(lens, model.get("_target"));
    const picked = model.get("_target");
    if (picked) vocab.set(picked.id, picked.str);
    const a = model.get("_attribution");
    if (a && a.run === lens.run) {
      addVocab(vocab, a.vocab);
      remember(decodeAttribution(a));
    }
  }

  function onTargetChange() {
    loadTarget();
    showPage();
    fetchPages();
  }

  function recolour() {
    palette = readPalette(root);
    probScale = sequential(palette);
    gridScale = sequential(palette);
    const muted = toCss(mix(palette.background, { ...palette.text, a: 1 }, 0.55));
    const line = toCss(mix(palette.background, { ...palette.text, a: 1 }, 0.1));
    grid.setScale(gridScale, muted, line);
    paintLegend();
    paintPreds();
    showWho();
  }

  watch(model, ["lens", "tokens", "readouts", "run_id"], drawData, signal);
  watch(model, ["_target", "_attribution"], onTargetChange, signal);
  const showTargetError = () => {
    const message = model.get("target_error");
    targetMessage.textContent = message;
    targetMessage.hidden = message === "";
    root.dataset.targetError = message ? "true" : "false";
  };
  watch(model, ["target_error"], showTargetError, signal);
  const drawMode = () => {
    pickerInput.readOnly = isStatic();
    follow.disabled = isStatic();
    if (isStatic()) pickerInput.placeholder = "new targets need a running kernel";
    targetPanel.element.dataset.static = String(isStatic());
  };
  watch(model, ["_static"], drawMode, signal);
  onThemeChange(root, recolour, signal);

  drawMode();
  setMode("top");
  showTargetError();
  drawData();
  recolour();
  whenInDocument(root, () => {
    const started = performance.now();
    recolour();
    drawGrid();
    root.dataset.drawMs = (performance.now() - started).toFixed(1);
    root.dataset.ready = "true";
    noteDrawn();
  }, signal);
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** A probability as a short percentage for the row of guesses: "42%", "0.3%", "<0.1%". */
function formatPercent(p: number): string {
  if (!Number.isFinite(p)) return "—";
  const pct = p * 100;
  if (pct >= 9.5) return `${Math.round(pct)}%`;
  if (pct >= 0.1) return `${pct.toFixed(1)}%`;
  return "<0.1%";
}

export default { render: withSignal(render) };
