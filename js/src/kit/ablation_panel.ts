/**
 * The ablation panel of AttentionExplorer and LogitLens: switch heads off (A toggles the selected
 * head, or the panel's button) and see the prediction at the view's position with and without
 * them, side by side — the target's probability and rank, and the top predictions.
 *
 * Python's half: circuitwidgets/widgets/_ablation.py. The set is the synced `ablated` trait
 * (`[[layer, head], ...]`) and `ablation_mode` ("zero" | "mean"); a toggle writes the trait
 * (checked by Python as an assignment is) and the numbers are asked for with
 * `invoke("ablate", {run, heads, mode, position, target})`. An answer about anything no longer
 * on screen is dropped.
 *
 * For tests and tools, the panel `.cw-ablation` carries data-state ("idle" | "pending" |
 * "ready" | "error" | "static"), data-heads ("L1H3,L0H1"), data-mode, data-position,
 * data-target, data-prob-before, data-prob-after, data-rank-before, data-rank-after, and
 * data-latency-ms (from the toggle to the new numbers drawn).
 */
import type { AnyModel } from "@anywidget/types";
import { createButton } from "./button";
import { failureText, invoke, isQuiet } from "./channel";
import type { NDArray } from "./decode";
import { formatProbability } from "./format";
import { createPanel } from "./panel";
import { visibleToken } from "./token_strip";
import { createToggleGroup } from "./toggle_group";
import { watch } from "./watch";
import {
  ablationKey, headLabel, headPairs, isAblated, isToggleKey, probChange, toggleHead,
  type AblationMode, type HeadPair,
} from "./ablation_state";
import "./ablation.css";

interface Reading {
  prob: number;
  logit: number;
  rank: number;
}

export interface AblationAnswer {
  run: number;
  heads: HeadPair[];
  mode: AblationMode;
  position: number;
  target: number;
  target_str: string;
  before: Reading;
  after: Reading;
  top_ids_before: NDArray;
  top_probs_before: NDArray;
  top_ids_after: NDArray;
  top_probs_after: NDArray;
  vocab: Record<string, string>;
}

export interface AblationOptions {
  model: AnyModel<any>;
  signal: AbortSignal;
  /** The view's root: the A key is heard anywhere inside it. */
  root: HTMLElement;
  selectedHead(): { layer: number; head: number } | null;
  /** Where the prediction is read (null: nothing to show yet). */
  position(): number | null;
  /** The token read there (null: the kernel's default, the next token of the text). */
  target(): number | null;
  tokens(): string[];
  /** The ablated set changed (e.g. to mark the heads in a grid). */
  onHeads?(heads: HeadPair[]): void;
}

export interface AblationPanel {
  readonly element: HTMLElement;
  /** Ask for (or redraw) the numbers of what is on screen now. */
  refresh(): void;
  /** Ablate the selected head, or bring it back. */
  toggle(): void;
}

const CAPTION =
  "Switch heads off and watch the prediction move. A (or the button) toggles the selected head; " +
  "zero sets its output to 0, mean to its average over this text. Before and after, side by side.";

export function createAblationPanel(parent: HTMLElement, options: AblationOptions): AblationPanel {
  const { model, signal, root } = options;
  const panel = createPanel(parent, { className: "cw-ablation", title: "Ablation", caption: CAPTION, captionFirst: true });
  const el = panel.element;
  const mode = createToggleGroup<AblationMode>(panel.header, {
    label: "Ablation mode",
    options: [
      { value: "zero", text: "zero", help: "Replace each ablated head's output by zeros" },
      { value: "mean", text: "mean", help: "Replace each ablated head's output by its mean over this text's positions" },
    ],
    onPick: (m) => {
      model.set("ablation_mode", m);
      model.save_changes();
    },
  });
  const toggleButton = createButton("Ablate", "Switch the selected head off, or back on (A)");
  toggleButton.classList.add("cw-ablation-toggle");
  const clear = createButton("Clear", "Bring every head back");
  panel.header.append(toggleButton, clear);
  const chips = element("div", "cw-ablation-heads");
  const line = element("div", "cw-ablation-line");
  line.setAttribute("aria-live", "polite");
  const compare = element("div", "cw-ablation-compare");
  panel.body.append(chips, line, compare);

  let pending: AbortController | null = null;
  let askedKey = "";
  let askedAt: number | null = null;
  const heads = () => headPairs(model.get("ablated"));
  const currentMode = (): AblationMode => (model.get("ablation_mode") === "mean" ? "mean" : "zero");

  function setHeads(next: HeadPair[]) {
    askedAt = performance.now();
    model.set("ablated", next);
    model.save_changes();
    refresh();
  }

  function toggle() {
    const sel = options.selectedHead();
    if (!sel || model.get("_static")) return;
    setHeads(toggleHead(heads(), sel.layer, sel.head));
  }

  function showControls(list: HeadPair[]) {
    const sel = options.selectedHead();
    const on = sel !== null && isAblated(list, sel.layer, sel.head);
    const label = sel ? headLabel(sel.layer, sel.head) : "";
    toggleButton.textContent = on ? `Restore ${label}` : `Ablate ${label}`;
    toggleButton.setAttribute("aria-pressed", String(on));
    const live = !model.get("_static");
    toggleButton.disabled = !live || sel === null;
    clear.disabled = !live || list.length === 0;
    mode.show(currentMode());
    chips.replaceChildren(
      ...list.map(([l, h]) => {
        const chip = createButton(`${headLabel(l, h)} ×`, `Bring ${headLabel(l, h)} back`);
        chip.classList.add("cw-ablation-chip");
        chip.disabled = !live;
        chip.addEventListener("click", () => setHeads(toggleHead(heads(), l, h)));
        return chip;
      }),
    );
    Object.assign(el.dataset, { heads: list.map(([l, h]) => headLabel(l, h)).join(","), mode: currentMode() });
  }

  function refresh() {
    const list = heads();
    showControls(list);
    options.onHeads?.(list);
    const p = options.position();
    if (model.get("_static")) {
      state("static", "Ablation runs the model again: it needs a running kernel (this is a static copy).");
      return;
    }
    if (list.length === 0) {
      askedKey = "";
      pending?.abort();
      compare.replaceChildren();
      state("idle", "No head is ablated. Select a head and press A (or Ablate) to switch it off.");
      return;
    }
    if (p === null) return;
    const run = model.get("run_id") as number;
    const target = options.target();
    const key = ablationKey(run, list, currentMode(), p, target);
    if (key === askedKey) return; // asked already: drawn, on its way, or refused
    askedKey = key;
    pending?.abort();
    const mine = new AbortController();
    pending = mine;
    signal.addEventListener("abort", () => mine.abort(), { once: true });
    state("pending", `Running the model with ${list.map(([l, h]) => headLabel(l, h)).join(", ")} ${currentMode() === "zero" ? "zeroed" : "mean-ablated"}…`);
    const payload = { run, heads: list, mode: currentMode(), position: p, target };
    invoke<AblationAnswer>(model, "ablate", payload, { signal: mine.signal })
      .then((answer) => {
        if (mine !== pending) return;
        draw(answer);
      })
      .catch((e) => {
        if (isQuiet(e) || mine !== pending) return;
        state("error", failureText(e));
      });
  }

  function state(name: string, text: string) {
    el.dataset.state = name;
    line.textContent = text;
  }

  function draw(a: AblationAnswer) {
    const strong = document.createElement("strong");
    strong.append(visibleToken(a.target_str));
    const at = options.tokens()[a.position] ?? "";
    line.replaceChildren("Target at position ", String(a.position), " (after ", visibleToken(at), "): ", strong, " · p ",
      probChange(a.before.prob, a.after.prob, formatProbability), ` · rank ${a.before.rank} → ${a.after.rank}`);
    const label = a.heads.map(([l, h]) => headLabel(l, h)).join(", ");
    compare.replaceChildren(
      column("before", "the model as it is", a.before, a.top_ids_before, a.top_probs_before, a),
      column("after", `${label} ${a.mode === "zero" ? "zeroed" : "mean-ablated"}`, a.after, a.top_ids_after, a.top_probs_after, a),
    );
    el.dataset.state = "ready";
    Object.assign(el.dataset, {
      position: String(a.position), target: String(a.target),
      probBefore: String(a.before.prob), probAfter: String(a.after.prob),
      rankBefore: String(a.before.rank), rankAfter: String(a.after.rank),
    });
    if (askedAt !== null) {
      el.dataset.latencyMs = (performance.now() - askedAt).toFixed(1);
      askedAt = null;
    }
  }

  toggleButton.addEventListener("click", toggle);
  clear.addEventListener("click", () => setHeads([]));
  root.addEventListener("keydown", (e) => {
    const tag = e.target instanceof HTMLElement ? e.target.tagName : "";
    if (!isToggleKey(e, tag)) return;
    e.preventDefault();
    toggle();
  }, { signal });
  watch(model, ["ablated", "ablation_mode", "run_id", "_static"], refresh, signal);
  return { element: el, refresh, toggle };
}

/** One side of the comparison: the target's numbers and the top predictions. */
function column(side: string, title: string, r: Reading, ids: NDArray, probs: NDArray, a: AblationAnswer): HTMLElement {
  const box = element("div", `cw-ablation-side cw-ablation-${side}`);
  const head = element("div", "cw-ablation-side-title");
  head.textContent = `${side === "before" ? "Before" : "After"}: ${title}`;
  const numbers = element("div", "cw-ablation-numbers");
  numbers.textContent = `p(target) = ${formatProbability(r.prob)} · rank ${r.rank} · logit ${r.logit.toFixed(2)}`;
  const list = element("ol", "cw-ablation-top");
  for (let i = 0; i < ids.data.length; i++) {
    const id = Number(ids.data[i]);
    const item = document.createElement("li");
    if (id === a.target) item.classList.add("cw-ablation-is-target");
    const tok = element("span", "cw-ablation-token");
    tok.append(visibleToken(a.vocab[String(id)] ?? `#${id}`));
    item.append(tok, ` ${formatProbability(Number(probs.data[i]))}`);
    list.append(item);
  }
  box.append(head, numbers, list);
  return box;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  el.className = className;
  return el;
}
