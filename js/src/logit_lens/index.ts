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
import { withSignal } from "../kit/render";
import { sequential } from "../kit/color_scale";
import { connectView, startDrawing } from "../kit/lifecycle";
import { createView } from "../kit/view";
import { watch } from "../kit/watch";
import { pageOf } from "./data";
import { createGridPanel } from "./grid_panel";
import { createPageFetcher, type PageAnswer } from "./pages";
import { createReadoutPanel } from "./readout_panel";
import { createLensNow } from "./now";
import type { State } from "./shared";
import { clamp, lastPage, pageComplete, readyCount } from "./state";
import { createTargetPanel } from "./target_panel";
import { createWhoPanel } from "./who_panel";

function render({ model, el, signal }: RenderProps<State>) {
  const { frame, root, tooltip } = createView(model, el, signal, {
    title: "Logit lens",
    className: "cw-logit-lens",
    textInput: { label: "Text" },
    progress: "cw-ll-progress",
  });

  const drawnPages = new Set<number>(); // pages already drawn complete (for data-page-drawn-at)
  const { look, selection } = connectView(model, root, signal, {
    scale: sequential,
    onSelection(changed) {
      if (changed.has("lens_layer")) showReadout();
      if (changed.has("position")) showPosition();
      if (changed.has("layer") || changed.has("head")) who.markHead();
    },
  });
  const now = createLensNow(model, root, look, selection, tooltip, signal);
  const pageSize = now.pageSize;

  const turnPage = (by: number) => setPage(now.page + by);
  const readout = createReadoutPanel(frame.body, now, turnPage);
  const grid = createGridPanel(frame.body, now, frame.camera, turnPage);
  const lower = document.createElement("div");
  lower.className = "cw-ll-lower";
  frame.body.append(lower);
  const targetPanel = createTargetPanel(lower, now);
  const who = createWhoPanel(lower, now, now.vocab);
  const pages = createPageFetcher(now, { page: () => now.page, pageSize, onAnswer: addPage, onFailure: (text) => readout.showFailure(text) });

  /** A page's answer arrived: redraw what it changes. */
  function addPage(answer: PageAnswer) {
    const added = now.addPage(answer);
    if (added === "stale") return;
    if (added === "shown") showPage();
    else if (added === "rescaled") {  // the KL scale grew: the page shown is recoloured
      grid.paintLegend();
      grid.draw();
    }
    countReady();
  }

  /** Show page `n` (the row of guesses and the grid's columns), asking for it if needed. */
  function setPage(n: number) {
    const lens = now.lens();
    if (!lens) return;
    now.page = clamp(n, 0, lastPage(lens.positions, pageSize()));
    readout.build();
    showPage();
    pages.fetch();
  }

  /** (Re)draw what depends on the page shown's numbers: guesses, grid, target, bars. */
  function showPage() {
    const lens = now.lens();
    if (!lens) return;
    const page = now.page;
    const { start, end } = now.span();
    const complete = pageComplete(lens, now.target(), start, end);
    readout.paint();
    grid.draw();
    grid.paintLegend();
    targetPanel.show();
    who.show();
    const last = lastPage(lens.positions, pageSize());
    for (const pager of [readout.pager, grid.pager]) pager.set(start, end, lens.positions, page > 0, page < last, complete);
    Object.assign(root.dataset, { page: String(page), pageState: complete ? "ready" : "pending" });
    countReady();
    noteDrawn();
  }

  /** data-page-drawn-at: when the page shown was first drawn complete in the document. */
  function noteDrawn() {
    if (root.dataset.pageState !== "ready" || !root.isConnected || drawnPages.has(now.page)) return;
    drawnPages.add(now.page);
    root.dataset.pageDrawnAt = String(Date.now());
  }

  /** How many positions have arrived (data-ready-count, for tests and benchmarks). */
  const countReady = () => (root.dataset.readyCount = String(readyCount(now.lens())));

  function showReadout() {
    if (!now.lens()) return;
    readout.showReadout();
    root.dataset.lensLayer = String(now.lensLayer());
    readout.paint();
    grid.mark();
    targetPanel.show();
    who.showReadout();
  }

  function showPosition() {
    if (!now.lens()) return;
    const p = now.position();
    root.dataset.position = String(p);
    if (pageOf(p, pageSize()) !== now.page) return setPage(pageOf(p, pageSize())); // the page follows
    readout.markPosition();
    grid.mark();
    grid.reveal();
    targetPanel.show();
    who.show();
  }

  function drawData() {
    if (!now.load(() => (who.clear(), drawnPages.clear(), pages.reset()))) return;
    const tokens = now.tokens();
    now.loadTarget(who);
    tooltip.hide();
    Object.assign(root.dataset, { tokenCount: String(tokens.length), run: String(model.get("lens")!.run) });
    frame.setMeta([model.get("model_name"), `${tokens.length} tokens`, `${model.get("n_layers")} layers`, `top ${model.get("k")} per position`]);
    showReadout();
    setPage(now.page);
  }

  function recolour() {
    look.read();
    grid.recolour();
    readout.paint();
    who.show();
  }

  watch(model, ["lens", "tokens", "readouts", "run_id"], drawData, signal);
  watch(model, ["_target", "_attribution"], () => (now.loadTarget(who), showPage(), pages.fetch()), signal);
  watch(model, ["target_error"], targetPanel.showError, signal);
  watch(model, ["_static"], targetPanel.showMode, signal);

  targetPanel.showMode();
  grid.setMode("top");
  targetPanel.showError();
  startDrawing(root, signal, {
    recolour,
    draw: drawData,
    ready() {
      const started = performance.now();
      grid.draw();
      root.dataset.drawMs = (performance.now() - started).toFixed(1);
      noteDrawn();
    },
  });
}

export default { render: withSignal(render) };
