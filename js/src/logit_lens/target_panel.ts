/**
 * LogitLens's target panel: the token followed (typed, or the model's final prediction), its
 * probability and rank at every readout of the selected position, and the kernel's refusal of
 * a typed token.
 */
import { createButton } from "../kit/button";
import { invoke } from "../kit/channel";
import { formatProbability } from "../kit/format";
import { createPanel } from "../kit/panel";
import { createTargetBox } from "../kit/target_box";
import { visibleToken } from "../kit/token_strip";
import { createLineChart } from "./chart";
import type { LensNow } from "./shared";
import { targetSeries } from "./state";

export interface TargetPanel {
  /** Draw the target at the selected position and readout. */
  show(): void;
  /** Show the model's `target_error`. */
  showError(): void;
  /** Static export or live kernel: whether a new target can be typed. */
  showMode(): void;
}

const CAPTION = "How likely the target token is at each readout of the selected position, and its rank among all tokens (1 = the top guess). Click a readout to move the slider there.";

export function createTargetPanel(parent: HTMLElement, now: LensNow): TargetPanel {
  const { model, selection, root } = now;
  const panel = createPanel(parent, { className: "cw-ll-target", title: "Target", captionFirst: true, caption: CAPTION });
  // a refusal shows in `target_error`; any other failure beside the box too
  const box = createTargetBox({
    placeholder: "a token, e.g. ␣the → type \" the\"",
    button: ["Follow", "Follow this token at every position (Enter)"],
    isStatic: now.isStatic,
    submit: (text) => invoke(model, "target", { text }, { signal: now.signal, timeout: 0 }),
  });
  const { form: picker, input, button: follow, message } = box;
  message.classList.add("cw-ll-target-error"); // the view's name for tests and tools
  const reset = createButton("Final prediction", "Go back to the model's final prediction at each position");
  picker.append(reset);
  const line = document.createElement("div");
  line.className = "cw-ll-target-line";
  const charts = document.createElement("div");
  charts.className = "cw-ll-charts";
  const pickReadout = (i: number) => selection.set({ lens_layer: i });
  const probChart = createLineChart(charts, { title: "probability", axis: "linear", format: formatProbability, onPick: pickReadout });
  const rankChart = createLineChart(charts, { title: "rank (log scale)", axis: "rank", format: (v) => String(v), onPick: pickReadout });
  panel.body.append(picker, message, line, charts);

  function show() {
    const lens = now.lens();
    const target = now.target();
    if (!lens || !target) return;
    const p = now.position();
    const r = now.lensLayer();
    const tid = now.targetId(p);
    const readouts = now.readouts();
    const labels = readouts.map((x) => x.short);
    const dVocab = model.get("d_vocab");
    panel.element.dataset.state = now.ready(p) ? "ready" : "pending";
    reset.disabled = !target.picked || now.isStatic();
    if (!now.ready(p)) {  // its page is on its way: empty axes, and say so
      probChart.set([], labels, r);
      rankChart.set([], labels, r, dVocab);
      line.textContent = `Target at position ${p}: computing this position's lens…`;
      return;
    }
    const { probs, ranks } = targetSeries(lens, target, p);
    probChart.set(probs, labels, r);
    rankChart.set(ranks, labels, r, dVocab);
    const strong = document.createElement("strong");
    strong.className = "cw-ll-token";
    strong.append(visibleToken(now.tokenStr(tid)));
    line.replaceChildren(
      "Target at position ",
      String(p),
      " (after ",
      visibleToken(now.tokens()[p] ?? ""),
      "): ",
      strong,
      target.picked ? " — picked" : " — the model's final prediction here",
      ` · at ${readouts[r]?.short ?? r}: p = ${formatProbability(target.prob(r, p))}, rank ${target.rank(r, p)}`,
    );
    Object.assign(panel.element.dataset, {
      target: String(tid),
      picked: String(target.picked),
      prob: String(target.prob(r, p)),
      rank: String(target.rank(r, p)),
    });
    root.dataset.target = String(tid);
  }

  reset.addEventListener("click", (e) => {
    e.preventDefault();
    input.value = "";
    box.send("");
  });

  return {
    show,
    showError() {
      const text = model.get("target_error");
      box.showError(text);
      root.dataset.targetError = text ? "true" : "false";
    },
    showMode() {
      const isStatic = now.isStatic();
      input.readOnly = isStatic;
      follow.disabled = isStatic;
      if (isStatic) input.placeholder = "new targets need a running kernel";
      panel.element.dataset.static = String(isStatic);
    },
  };
}
