/**
 * LogitLens's "who wrote it" panel: the direct contribution of every head and MLP to the
 * target's logit at the selected position, asked of the kernel through the channel
 * (`invoke("attribution", {run, position, target})`) and kept in an LRU; a refusal shows in
 * the panel (data-state="error").
 */
import { cardOnHover, createBar, createBarList } from "../kit/bar_list";
import { createButton } from "../kit/button";
import { failureText, invoke, isQuiet } from "../kit/channel";
import { LRU } from "../kit/lru";
import { createPanel } from "../kit/panel";
import { tokenLabel, visibleToken } from "../kit/token_strip";
import type { TooltipContent } from "../kit/tooltip";
import { addVocab, barsToShow, decodeAttribution, headTop, writtenBy, type Attribution, type AttributionWire, type Bar } from "./data";
import type { LensNow } from "./shared";
import { barGeometry, signed } from "./state";

/** Bars shown before "show all". */
const BAR_LIMIT = 14;
const CACHE_SIZE = 24;
export const STATIC_NOTE = "Static export: new targets and other positions' contributions need a running Python kernel.";
const CAPTION = "How much each part of the model adds straight to the target's logit at the output (through the final norm, its scale frozen). Bars right push the target up. Faded: written after the slider's readout. Click a head to select it; hover it to see what it writes.";

export interface WhoPanel {
  /** Draw the selected position's attribution (asking for it if the page lacks it). */
  show(): void;
  /** Redraw the bars at a new readout, if the attribution is here. */
  showReadout(): void;
  /** Mark the selected head's bar. */
  markHead(): void;
  /** Keep an attribution (sent with the state, or answered). */
  remember(wire: AttributionWire): void;
  /** A new run: forget every attribution. */
  clear(): void;
}

export function createWhoPanel(parent: HTMLElement, now: LensNow, vocab: Map<number, string>): WhoPanel {
  const { model, selection, tooltip } = now;
  const panel = createPanel(parent, { className: "cw-ll-who", title: "Who wrote it", captionFirst: true, caption: CAPTION });
  const whoLine = document.createElement("div");
  whoLine.className = "cw-ll-who-line";
  panel.body.append(whoLine);
  const bars = createBarList(panel.body, "cw-ll-bars");
  const showAll = createButton("Show all", "Show every component");
  const note = document.createElement("div");
  note.className = "cw-ll-note";
  panel.body.append(showAll, note);

  const attributions = new LRU<string, Attribution>(CACHE_SIZE);
  const pending = new Set<string>();
  const refused = new Map<string, string>(); // why the kernel could not attribute (by key)
  let showingAll = false;
  const run = () => model.get("run_id");
  const keyOf = (p: number, t: number) => `${run()}:${p}:${t}`;

  function attributionFor(p: number, t: number): Attribution | null {
    const key = keyOf(p, t);
    const known = attributions.get(key);
    if (known) return known;
    if (!now.isStatic() && !pending.has(key) && !refused.has(key) && t >= 0) ask(key, p, t);
    return null;
  }

  function ask(key: string, p: number, t: number) {
    pending.add(key);
    invoke<AttributionWire>(model, "attribution", { run: run(), position: p, target: t }, { signal: now.signal }).then(
      (wire) => {
        pending.delete(key);
        if (wire.run !== run()) return;
        remember(wire);
        if (wire.position === now.position() && wire.target === now.targetId(now.position())) show();
      },
      (e) => {
        pending.delete(key);
        if (isQuiet(e)) return;
        refused.set(key, failureText(e));
        show();
      },
    );
  }

  function remember(wire: AttributionWire) {
    addVocab(vocab, wire.vocab);
    const a = decodeAttribution(wire);
    attributions.set(keyOf(a.position, a.target), a);
  }

  function show() {
    if (!now.lens()) return;
    const p = now.position();
    const t = now.targetId(p);
    const a = attributionFor(p, t);
    const why = a ? undefined : refused.get(keyOf(p, t));
    panel.element.dataset.position = String(p);
    panel.element.dataset.state = a ? "ready" : now.isStatic() ? "missing" : why ? "error" : "loading";
    if (!a) {
      bars.replaceChildren();
      showAll.hidden = true;
      whoLine.textContent = "";
      note.textContent = now.isStatic()
        ? `${STATIC_NOTE} This file holds the contributions at the position that was selected when it was saved.`
        : why ?? (t < 0 ? "Computing this position's lens…" : "Computing the contributions…");
      return;
    }
    const strong = document.createElement("strong");
    strong.className = "cw-ll-token";
    strong.append(visibleToken(a.targetStr));
    whoLine.replaceChildren("Logit of ", strong, ` at position ${p}: ${a.logit.toFixed(2)} = the sum of all ${a.bars.length} bars.`);
    note.textContent = "";
    drawBars(a);
  }

  function drawBars(a: Attribution) {
    const r = now.lensLayer();
    const shown = barsToShow(a.bars, showingAll ? null : BAR_LIMIT);
    const limit = Math.max(1e-9, ...a.bars.map((b) => Math.abs(b.value)));
    bars.replaceChildren(...shown.map((bar) => barRow(bar, limit, writtenBy(bar, r), a)));
    showAll.hidden = a.bars.length <= BAR_LIMIT;
    showAll.textContent = showingAll ? `Show the ${BAR_LIMIT} largest` : `Show all ${a.bars.length}`;
    markHead();
  }

  function barRow(bar: Bar, limit: number, written: boolean, a: Attribution): HTMLElement {
    const row = createBarRow(bar, limit, written);
    if (bar.kind === "head") {
      row.addEventListener("click", () => selection.set({ layer: bar.layer, head: bar.head }));
      cardOnHover(row, tooltip, () => headCard(a, bar));
    }
    return row;
  }

  function headCard(a: Attribution, bar: Bar): TooltipContent {
    const top = headTop(a, bar.layer, bar.head);
    return {
      title: `layer ${bar.layer} head ${bar.head}`,
      rows: [
        ["adds to the target's logit", signed(bar.value, 3)],
        ...top.map(({ id, value }) => [tokenLabel(now.tokenStr(id)), signed(value, 2)] as [string, string]),
      ],
      note: "The tokens this head's output here pushes up most (through W_O and the unembedding).",
    };
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
    show();
  });

  return {
    show,
    showReadout() {
      const a = attributions.get(keyOf(now.position(), now.targetId(now.position())));
      if (a) drawBars(a);
    },
    markHead,
    remember,
    clear() {
      attributions.clear();
      pending.clear();
      refused.clear();
    },
  };
}

/** One component's bar: its label, a fill from the middle of the track, its value; a head's
 * is a button, and a component written after the readout is faded. */
function createBarRow(bar: Bar, limit: number, written: boolean): HTMLElement {
  const isHead = bar.kind === "head";
  const { left, width, up } = barGeometry(bar.value, limit);
  const row = createBar({
    name: "cw-ll-bar",
    kind: bar.kind,
    label: bar.label,
    value: bar.value,
    valueText: signed(bar.value, 2),
    fill: { left, width, tone: up ? "up" : "down" },
    zero: "50%",
    button: isHead,
    ariaLabel: isHead ? `layer ${bar.layer} head ${bar.head}` : undefined,
  });
  if (isHead) {
    row.dataset.layer = String(bar.layer);
    row.dataset.head = String(bar.head);
  }
  row.classList.toggle("cw-ll-bar-later", !written);
  row.title = written ? "" : `written by layer ${bar.layer}, after this readout`;
  return row;
}
