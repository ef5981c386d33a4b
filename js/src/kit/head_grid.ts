/**
 * A layers x heads grid of buttons, one per attention head, each filled by a value (a head
 * score) — the "which head does this?" overview that several views share.
 *
 * Every cell is a `<button>` named `layer L head H` (its accessible name), showing its value
 * with two decimals, with `data-layer`,
 * `data-head` and `data-value` (the number it is coloured by, for tests and tools). The
 * grid is one tab stop: the selected head's cell is focusable, and the grid keys
 * (kit/grid_keys.ts) move the focus *and* the selection (so the selection follows the
 * keyboard, as in AttentionExplorer's overview). Layer numbers label the rows, head numbers the columns.
 *
 *     const grid = createHeadGrid(parent, {
 *       label: "Induction score of every head",
 *       onSelect: (layer, head) => selection.set({ layer, head }),
 *       onHover: (layer, head, cell) => ...,        // layer === null: the pointer left
 *     });
 *     grid.setShape(12, 12);
 *     grid.paint((layer, head) => ({ value: v[layer * 12 + head], swatch: scale(v[...]) }));
 *     grid.select(1, 3);
 */
import "./head_grid.css";
import type { Swatch } from "./color_scale";
import { gridMove } from "./grid_keys";

export { gridMove, gridMoveIndex } from "./grid_keys";

export interface HeadGridOptions {
  /** Accessible name of the grid as a whole. */
  label: string;
  onSelect: (layer: number, head: number) => void;
  /** The pointer (or focus) is on a cell, or (`null`s) has left the grid. */
  onHover?: (layer: number | null, head: number | null, cell: HTMLElement | null) => void;
}

export interface CellPaint {
  value: number;
  swatch: Swatch | null;
}

export interface HeadGrid {
  readonly element: HTMLElement;
  setShape(nLayers: number, nHeads: number): void;
  paint(paintFor: (layer: number, head: number) => CellPaint): void;
  /** Mark the selected head (`aria-pressed`, the one tab stop); `null`: none. */
  select(layer: number | null, head: number | null): void;
  cell(layer: number, head: number): HTMLButtonElement | undefined;
}

export function createHeadGrid(parent: HTMLElement, options: HeadGridOptions): HeadGrid {
  const element = document.createElement("div");
  element.className = "cw-head-grid";
  element.setAttribute("role", "group");
  element.setAttribute("aria-label", `${options.label}: arrow keys move, the selection follows`);
  parent.append(element);

  let nLayers = 0;
  let nHeads = 0;
  let cells: HTMLButtonElement[] = [];
  let selected: { layer: number; head: number } | null = null;

  const at = (layer: number, head: number) => cells[layer * nHeads + head];
  const position = (el: EventTarget | null) => {
    const cell = el instanceof Element ? el.closest<HTMLButtonElement>(".cw-head-grid-cell") : null;
    return cell && element.contains(cell) ? { layer: Number(cell.dataset.layer), head: Number(cell.dataset.head), cell } : null;
  };

  function setTabStop() {
    cells.forEach((c) => (c.tabIndex = -1));
    const stop = (selected && at(selected.layer, selected.head)) ?? cells[0];
    if (stop) stop.tabIndex = 0;
  }

  element.addEventListener("click", (e) => {
    const p = position(e.target);
    if (p) options.onSelect(p.layer, p.head);
  });
  element.addEventListener("pointerover", (e) => {
    const p = position(e.target);
    if (p) options.onHover?.(p.layer, p.head, p.cell);
  });
  element.addEventListener("pointerleave", () => options.onHover?.(null, null, null));
  element.addEventListener("focusin", (e) => {
    const p = position(e.target);
    if (p && e.target instanceof HTMLElement && e.target.matches(":focus-visible")) options.onHover?.(p.layer, p.head, p.cell);
  });
  element.addEventListener("focusout", () => options.onHover?.(null, null, null));
  element.addEventListener("keydown", (e) => {
    const p = position(document.activeElement);
    if (!p) return;
    const next = gridMove(e.key, p, nLayers, nHeads, e.ctrlKey || e.metaKey);
    if (!next) return;
    e.preventDefault();
    e.stopPropagation(); // keep JupyterLab's notebook shortcuts out
    at(next.layer, next.head)?.focus();
    options.onSelect(next.layer, next.head);
  });

  return {
    element,
    setShape(layers, heads) {
      if (layers === nLayers && heads === nHeads) return;
      nLayers = layers;
      nHeads = heads;
      element.style.setProperty("--cw-grid-heads", String(heads));
      const corner = document.createElement("span");
      corner.className = "cw-head-grid-corner";
      corner.textContent = "layer \\ head";
      const nodes: HTMLElement[] = [corner];
      for (let h = 0; h < heads; h++) {
        const label = document.createElement("span");
        label.className = "cw-head-grid-label cw-head-grid-label-head";
        label.textContent = String(h);
        nodes.push(label);
      }
      cells = [];
      for (let l = 0; l < layers; l++) {
        const label = document.createElement("span");
        label.className = "cw-head-grid-label cw-head-grid-label-layer";
        label.textContent = String(l);
        nodes.push(label);
        for (let h = 0; h < heads; h++) {
          const b = document.createElement("button");
          b.type = "button";
          b.className = "cw-head-grid-cell";
          b.setAttribute("aria-label", `layer ${l} head ${h}`);
          b.setAttribute("aria-pressed", "false");
          b.dataset.layer = String(l);
          b.dataset.head = String(h);
          cells.push(b);
          nodes.push(b);
        }
      }
      element.replaceChildren(...nodes);
      setTabStop();
    },
    paint(paintFor) {
      cells.forEach((cell) => {
        const { value, swatch } = paintFor(Number(cell.dataset.layer), Number(cell.dataset.head));
        cell.dataset.value = String(value);
        cell.style.background = swatch?.background ?? "";
        cell.style.color = swatch?.color ?? "";
        cell.textContent = Number.isFinite(value) ? value.toFixed(2) : "—";
      });
    },
    select(layer, head) {
      selected = layer === null || head === null ? null : { layer, head };
      for (const cell of cells) {
        const on = selected !== null && Number(cell.dataset.layer) === selected.layer && Number(cell.dataset.head) === selected.head;
        cell.setAttribute("aria-pressed", String(on));
      }
      setTabStop();
    },
    cell: (layer, head) => at(layer, head),
  };
}
