/**
 * LogitLens's readout panel: the readout line and slider, the hit summary, a pager and the
 * row of top-1 guesses for the page shown (hover for the top-k, click or arrow keys to choose
 * a position).
 */
import { createPanel } from "../kit/panel";
import { createSlider } from "../kit/slider";
import { visibleToken } from "../kit/token_strip";
import { isHit, topAt } from "./data";
import { createPager, type Pager } from "./pager";
import type { LensNow } from "./shared";
import { formatPercent, guessCardNote, guessCardRows, guessKeyTarget, guessLabel, hitMark, hitSummary, readoutText } from "./state";

export interface ReadoutPanel {
  readonly pager: Pager;
  /** How many guesses the page shown has. */
  readonly count: number;
  /** The slider and readout line at the current readout. */
  showReadout(): void;
  /** Rebuild the row of guesses for the page shown. */
  build(): void;
  /** Paint every guess at the current readout (and the summary). */
  paint(): void;
  /** Mark the selected position's guess. */
  markPosition(): void;
  /** Say why a page could not be fetched (in the summary line). */
  showFailure(text: string): void;
}

const CAPTION = "Stop the model after a layer and unembed its residual stream: what would it predict next? ✓ marks a guess that is the token that really came next. Hover a position for its top guesses; click to select it.";

export function createReadoutPanel(parent: HTMLElement, now: LensNow, turnPage: (by: number) => void): ReadoutPanel {
  const { selection, tooltip } = now;
  const panel = createPanel(parent, { className: "cw-ll-lens", title: "Readout", captionFirst: true, caption: CAPTION });
  const readoutLine = document.createElement("div");
  readoutLine.className = "cw-ll-readout";
  panel.header.append(readoutLine);
  const slider = createSlider(panel.body, {
    label: "Logit lens readout",
    onChange: (value) => selection.set({ lens_layer: value }),
  });
  const summary = document.createElement("div");
  summary.className = "cw-ll-summary";
  panel.body.append(summary);
  const pager = createPager(panel.body, turnPage);
  const preds = document.createElement("div");
  preds.className = "cw-ll-preds";
  preds.tabIndex = 0;
  preds.setAttribute("role", "listbox");
  preds.setAttribute("aria-label", "Top guess at each position: arrow keys choose a position");
  preds.setAttribute("data-lm-suppress-shortcuts", "true");
  panel.body.append(preds);
  let cells: HTMLElement[] = []; // the shown page's, in order

  function build() {
    if (!now.lens()) return;
    const { start, end } = now.span();
    cells = now.tokens().slice(start, end).map((token, j) => guessCell(start + j, token));
    preds.replaceChildren(...cells);
    preds.dataset.count = String(cells.length);
  }

  function paint() {
    const lens = now.lens();
    if (!lens) return;
    const r = now.lensLayer();
    const p = now.position();
    const tokens = now.tokens();
    for (const cell of cells) {
      const i = Number(cell.dataset.index);
      cell.dataset.pending = String(!lens.ready[i]);
      if (!lens.ready[i]) {
        paintPending(cell, i, tokens[i], p);
        continue;
      }
      const { id, prob } = topAt(lens, r, i);
      const hit = isHit(lens, r, i);
      const swatch = now.probScale()(prob);
      part(cell, "out").replaceChildren(visibleToken(now.tokenStr(id)));
      part(cell, "p").textContent = formatPercent(prob);
      part(cell, "mark").textContent = hitMark(hit);
      const line = part(cell, "line");
      line.style.background = swatch?.background ?? "";
      line.style.color = swatch?.color ?? "";
      cell.dataset.token = String(id);
      cell.dataset.prob = String(prob);
      cell.dataset.hit = hit === null ? "none" : String(hit);
      cell.setAttribute("aria-selected", String(i === p));
      cell.setAttribute("aria-label", guessLabel(i, tokens[i], now.tokenStr(id), prob, hit));
    }
    summary.textContent = hitSummary(lens, r);
  }

  function showCard(i: number, anchor: HTMLElement) {
    const lens = now.lens();
    if (!lens) return;
    if (!lens.ready[i]) {
      tooltip.show(anchor, { title: `${i}`, rows: [], note: "Computing this position's lens…" });
      return;
    }
    const r = now.lensLayer();
    const tokens = now.tokens();
    const title = document.createDocumentFragment();
    title.append(`${i} `, visibleToken(tokens[i] ?? ""), " → ?");
    tooltip.show(anchor, { title, rows: guessCardRows(lens, r, i, now.tokenStr), note: guessCardNote(lens, now.readouts(), tokens, r, i) });
  }

  const cellOf = (e: Event) => (e.target instanceof Element ? e.target.closest<HTMLElement>(".cw-ll-pred") : null);
  preds.addEventListener("pointerover", (e) => {
    const cell = cellOf(e);
    if (cell) showCard(Number(cell.dataset.index), cell);
  });
  preds.addEventListener("pointerleave", () => tooltip.hide());
  preds.addEventListener("click", (e) => {
    const cell = cellOf(e);
    if (cell) selection.set({ position: Number(cell.dataset.index) });
  });
  preds.addEventListener("keydown", (e) => {
    const lens = now.lens();
    if (!lens) return;
    const to = guessKeyTarget(e.key, now.position(), lens.positions);
    if (to === null) return;
    e.preventDefault();
    e.stopPropagation();
    selection.set({ position: to });
    const cell = cells.find((c) => Number(c.dataset.index) === to);
    if (cell) {
      cell.scrollIntoView({ block: "nearest", inline: "nearest" });
      showCard(to, cell);
    }
  });
  preds.addEventListener("blur", () => tooltip.hide());

  return {
    pager,
    get count() {
      return cells.length;
    },
    showReadout() {
      const r = now.lensLayer();
      const readouts = now.readouts();
      slider.set(r, readouts.map((x) => x.short), readoutText(readouts, r));
      readoutLine.textContent = readouts[r]?.long ?? "";
    },
    build,
    paint,
    markPosition() {
      const p = now.position();
      cells.forEach((c) => c.setAttribute("aria-selected", String(Number(c.dataset.index) === p)));
    },
    showFailure(text) {
      summary.textContent = text;
    },
  };
}

const part = (cell: HTMLElement, name: string) => cell.querySelector(`.cw-ll-pred-${name}`) as HTMLElement;

/** One position's guess: its input token over a line with the guess, its mark and probability. */
function guessCell(i: number, token: string): HTMLElement {
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
}

/** A position whose lens has not arrived: its input token, and "…" where the guess goes. */
function paintPending(cell: HTMLElement, i: number, token: string | undefined, selected: number) {
  part(cell, "out").textContent = "…";
  part(cell, "p").textContent = "";
  part(cell, "mark").textContent = "";
  const line = part(cell, "line");
  line.style.background = line.style.color = "";
  delete cell.dataset.token;
  delete cell.dataset.prob;
  cell.dataset.hit = "none";
  cell.setAttribute("aria-selected", String(i === selected));
  cell.setAttribute("aria-label", `position ${i} ${JSON.stringify(token)}: computing`);
}
