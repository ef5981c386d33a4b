/**
 * LogitLens's grid panel: every readout x every position of the page shown, each cell its top
 * guess, shaded by the chosen mode (toggle group), with its legend, a pager and an SVG export.
 */
import { mix, toCss } from "../kit/color";
import { sequential, type ColorScale } from "../kit/color_scale";
import type { Camera } from "../kit/camera";
import { createLegend } from "../kit/legend";
import { createPanel } from "../kit/panel";
import { createRectGrid } from "../kit/rect_grid";
import { svgColors } from "../kit/svg_grid";
import { createToggleGroup } from "../kit/toggle_group";
import { visibleToken } from "../kit/token_strip";
import { shade, topAt, type GridMode } from "./data";
import { createPager, type Pager } from "./pager";
import type { LensNow } from "./shared";
import { cellCardRows, gridHelp, gridKeyTarget, legendFor, MODES, modeSpec } from "./state";

export interface GridPanel {
  readonly pager: Pager;
  /** Redraw every cell of the page shown. */
  draw(): void;
  /** Mark the slider's readout and the selected position (if on the page shown). */
  mark(): void;
  /** Redraw the legend and help line (the mode, the target or the KL scale changed). */
  paintLegend(): void;
  setMode(mode: GridMode): void;
  /** New theme colours. */
  recolour(): void;
  /** Scroll the selected position into view. */
  reveal(): void;
}

const CAPTION = "Rows are readouts (embeddings at the top, the model's output at the bottom), columns are positions; each cell shows the top guess there. Click a cell to choose its readout and position.";

export function createGridPanel(
  parent: HTMLElement, now: LensNow, camera: Camera, turnPage: (by: number) => void,
): GridPanel {
  const { selection, tooltip, model } = now;
  let mode: GridMode = "top";
  let scale: ColorScale = sequential(now.palette());
  const panel = createPanel(parent, { className: "cw-ll-grid-panel", title: "Every readout", captionFirst: true, caption: CAPTION });
  const modes = createToggleGroup(panel.header, {
    label: "Shade cells by",
    className: "cw-ll-modes",
    options: MODES.map(({ mode, label, help }) => ({ value: mode, text: label, help })),
    onPick: (m) => setMode(m),
  });
  const grid = createRectGrid(panel.body, {
    label: "Top-1 token at every readout and position",
    roleDescription: "grid of readouts by positions",
    svg: { rowTitle: "readout", colTitle: "position", cellWidth: 44 },
    signal: now.signal,
    onHover: (cell, anchor) => {
      if (cell) showCard(cell.row, now.span().start + cell.col, anchor);
      else tooltip.hide();
    },
    onPick: (cell) => selection.set({ lens_layer: cell.row, position: now.span().start + cell.col }),
    onKey: (step) => {
      const lens = now.lens();
      if (lens) selection.set(gridKeyTarget(step, now.lensLayer(), now.position(), lens));
    },
  });
  grid.element.classList.add("cw-ll-grid"); // the view's names for tests and tools
  grid.plot.classList.add("cw-ll-grid-plot");
  camera.addSvg(panel.header, "grid", "the readouts grid", () =>
    grid.toSvg(`Logit lens: top-1 token at every readout (${modeSpec(mode).legend})`, svgColors(now.palette())),
  );
  const pager = createPager(panel.header, turnPage);
  const help = document.createElement("div");
  help.className = "cw-ll-note";
  panel.body.append(help);
  const legendBox = document.createElement("div");
  panel.body.append(legendBox);

  function draw() {
    const lens = now.lens();
    const target = now.target();
    if (!lens || !target) return;
    const dVocab = model.get("d_vocab");
    const { start, end } = now.span();
    const kl = now.klMax();
    grid.setData({
      rows: lens.readouts,
      cols: end - start,
      rowLabels: now.readouts().map((r) => r.short),
      colLabels: now.tokens().slice(start, end),
      firstColumn: start,
      pending: (c) => !lens.ready[start + c] || !target.ready(start + c),
      text: (r, c) => now.tokenStr(topAt(lens, r, start + c).id),
      value: (r, c) => shade(lens, target, mode, r, start + c, dVocab, kl),
    });
    mark();
  }

  function mark() {
    const { start, end } = now.span();
    const col = now.position() - start;
    grid.setMarks(now.lensLayer(), col >= 0 && col < end - start ? col : null);
  }

  function setMode(next: GridMode) {
    mode = next;
    modes.show(mode);
    panel.element.dataset.mode = mode;
    paintLegend();
    draw();
  }

  function paintLegend() {
    help.textContent = gridHelp(mode, now.target(), now.tokenStr);
    const { title, ticks, format } = legendFor(mode, model.get("d_vocab"), now.klMax());
    const fresh = createLegend(document.createElement("div"), { title, ticks, format });
    fresh.setScale(scale);
    legendBox.replaceChildren(fresh.element);
  }

  function showCard(r: number, p: number, anchor: HTMLElement) {
    const lens = now.lens();
    const target = now.target();
    if (!lens || !target) return;
    const readouts = now.readouts();
    if (!now.ready(p)) {
      tooltip.show(anchor, { title: `${readouts[r]?.short ?? r} · ${p}`, rows: [], note: "Computing this position's lens…" });
      return;
    }
    const title = document.createDocumentFragment();
    const top = topAt(lens, r, p);
    title.append(`${readouts[r]?.short ?? r} · ${p} `, visibleToken(now.tokens()[p] ?? ""), " → ", visibleToken(now.tokenStr(top.id)));
    tooltip.show(anchor, { title, rows: cellCardRows(lens, target, readouts, r, p, now.tokenStr), note: "click: choose this readout and position" });
  }

  return {
    pager,
    draw,
    mark,
    paintLegend,
    setMode,
    recolour() {
      const palette = now.palette();
      scale = sequential(palette);
      const muted = toCss(mix(palette.background, { ...palette.text, a: 1 }, 0.55));
      const line = toCss(mix(palette.background, { ...palette.text, a: 1 }, 0.1));
      grid.setScale(scale, muted, line);
      paintLegend();
    },
    reveal() {
      grid.reveal(now.position() - now.span().start);
    },
  };
}
