/**
 * The copying map: one button per head, layers down and heads across, filled from a diverging
 * colour scale by the head's copying score and labelled with it.
 *
 * Each cell is a button named "layer L head H"; the selected one is `aria-pressed` and the
 * only one in the tab order (a roving tab stop): the kit's grid keys (kit/head_grid.ts
 * `gridMove`) move the selection.
 * Dense grids (more than {@link LABELLED_HEADS} heads a layer) drop the numbers in the cells;
 * the hover card always has them.
 */
import type { ColorScale } from "../kit/color_scale";
import { gridMoveIndex } from "../kit/grid_keys";

/** Up to this many heads per layer, each cell shows its score as text ... */
export const LABELLED_HEADS = 16;
/** ... and up to this many, in larger type (small models, projected in a classroom). */
const ROOMY_HEADS = 8;

export interface CopyingGridOptions {
  label: string;
  onSelect(layer: number, head: number): void;
  /** A cell was hovered or focused (`null`: the pointer left the grid). */
  onInspect(cell: HTMLElement | null, layer: number, head: number): void;
}

export interface CopyingGrid {
  readonly element: HTMLElement;
  setShape(nLayers: number, nHeads: number): void;
  /** Scores `[n_layers * n_heads]` (null while they are being computed). */
  setValues(values: ArrayLike<number> | null, scale: ColorScale): void;
  mark(layer: number, head: number): void;
  cell(layer: number, head: number): HTMLButtonElement | undefined;
}

/** A signed score with a real minus sign, two decimals ("−0.44", "0.97"). */
export function formatScore(v: number): string {
  if (!Number.isFinite(v)) return "—";
  const text = Math.abs(v).toFixed(2);
  return v < 0 && text !== "0.00" ? `−${text}` : text;
}

export function createCopyingGrid(parent: HTMLElement, options: CopyingGridOptions): CopyingGrid {
  const element = document.createElement("div");
  element.className = "cw-ov-grid";
  element.setAttribute("role", "group");
  element.setAttribute("aria-label", options.label);
  parent.append(element);

  let nLayers = 0;
  let nHeads = 0;
  let cells: HTMLButtonElement[] = [];

  const at = (el: EventTarget | null) => {
    const cell = el instanceof Element ? el.closest<HTMLButtonElement>(".cw-ov-cell") : null;
    return cell && element.contains(cell) ? cell : null;
  };
  const position = (cell: HTMLElement) => [Number(cell.dataset.layer), Number(cell.dataset.head)] as const;

  element.addEventListener("click", (e) => {
    const cell = at(e.target);
    if (cell) options.onSelect(...position(cell));
  });
  element.addEventListener("pointerover", (e) => {
    const cell = at(e.target);
    if (cell) options.onInspect(cell, ...position(cell));
  });
  element.addEventListener("pointerleave", () => options.onInspect(null, -1, -1));
  element.addEventListener("focusin", (e) => {
    const cell = at(e.target);
    if (cell && cell.matches(":focus-visible")) options.onInspect(cell, ...position(cell));
  });
  element.addEventListener("focusout", () => options.onInspect(null, -1, -1));
  element.addEventListener("keydown", (e) => {
    const cell = at(document.activeElement);
    if (!cell) return;
    const next = gridMoveIndex(e.key, cells.indexOf(cell), nLayers, nHeads, e.ctrlKey || e.metaKey);
    if (next === null) return;
    e.preventDefault();
    e.stopPropagation(); // keep JupyterLab's notebook shortcuts out
    const target = cells[next];
    if (!target) return;
    target.focus();
    options.onSelect(...position(target));
    options.onInspect(target, ...position(target));
  });

  function setShape(layers: number, heads: number) {
    if (layers === nLayers && heads === nHeads && cells.length) return;
    nLayers = layers;
    nHeads = heads;
    element.style.setProperty("--cw-ov-heads", String(heads));
    element.classList.toggle("cw-ov-grid-dense", heads > LABELLED_HEADS);
    element.classList.toggle("cw-ov-grid-roomy", heads <= ROOMY_HEADS);
    const nodes: HTMLElement[] = [corner()];
    for (let h = 0; h < heads; h++) nodes.push(axisLabel(`H${h}`, "cw-ov-col-label", `head ${h}`));
    cells = [];
    for (let l = 0; l < layers; l++) {
      nodes.push(axisLabel(`L${l}`, "cw-ov-row-label", `layer ${l}`));
      for (let h = 0; h < heads; h++) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "cw-ov-cell";
        b.dataset.layer = String(l);
        b.dataset.head = String(h);
        b.setAttribute("aria-label", `layer ${l} head ${h}`);
        b.setAttribute("aria-pressed", "false");
        b.tabIndex = -1;
        b.textContent = "…";
        cells.push(b);
        nodes.push(b);
      }
    }
    element.replaceChildren(...nodes);
  }

  return {
    element,
    setShape,
    setValues(values, scale) {
      cells.forEach((cell, i) => {
        const v = values ? (values[i] as number) : NaN;
        const swatch = scale(v);
        cell.textContent = values ? formatScore(v) : "…";
        cell.style.background = swatch?.background ?? "";
        cell.style.color = swatch?.color ?? "";
        cell.dataset.score = values ? String(v) : "";
      });
    },
    mark(layer, head) {
      for (const cell of cells) {
        const on = Number(cell.dataset.layer) === layer && Number(cell.dataset.head) === head;
        cell.setAttribute("aria-pressed", String(on));
        cell.tabIndex = on ? 0 : -1;
      }
    },
    cell: (layer, head) => cells[layer * nHeads + head],
  };
}

function corner(): HTMLElement {
  const span = document.createElement("span");
  span.className = "cw-ov-corner";
  span.setAttribute("aria-hidden", "true");
  return span;
}

function axisLabel(text: string, className: string, title: string): HTMLElement {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  span.title = title;
  span.setAttribute("aria-hidden", "true");
  return span;
}
