/**
 * The one grid of attention heads every view shows (InductionScores' scores, OVBrowser's
 * copying map, AttentionExplorer's thumbnails): one `<button>` per head, layers down and
 * heads across, each coloured by a value (a head score).
 *
 * The contract, the same in every view (docs/architecture.md, "The head grid"):
 * - every cell is `.cw-head-grid-cell` (plus the view's `cellClass`), a button named
 *   `layer L head H` with `data-layer`, `data-head` and `data-score` (the number it is
 *   coloured by; `""` while there is none yet), its text the score ({@link formatScore});
 * - the grid is one tab stop (the selected cell, else the first); the grid keys
 *   (kit/grid_keys.ts) move the focus *and* the selection, in the order the cells are shown;
 * - the selected cell is `aria-pressed="true"`; when the selection holds a pair of heads, the
 *   pair's other (writing) head is `data-second="true"` (a dashed ring; its description says so);
 * - hovering or keyboard focus calls `onHover`.
 *
 *     const grid = createHeadGrid(parent, {
 *       label: "Induction score of every head",
 *       onSelect: (layer, head) => selection.set({ layer, head }),
 *       onHover: (layer, head, cell) => ...,        // layer === null: the pointer left
 *     });
 *     grid.setShape(12, 12);
 *     grid.paint((layer, head) => ({ value: headValue(v, layer, head), swatch: scale(...) }));
 *     grid.select(1, 3);
 *     grid.select(1, 3, { layer: 0, head: 1 });   // a pair: L1H3 selected, L0H1 ringed
 *
 * A view with richer cells (AttentionExplorer's thumbnails) passes `build`, which fills a new
 * cell and returns the element that shows the score; `axes: false` drops the L/H labels, and
 * `setOrder` shows the cells in another order (sorted by score).
 */
import "./head_grid.css";
import type { Swatch } from "./color_scale";
import { formatScore } from "./format";
import { gridMoveIndex } from "./grid_keys";

export { gridMove, gridMoveIndex } from "./grid_keys";

/** Up to this many heads per layer, each cell shows its score as text ... */
export const LABELLED_HEADS = 16;
/** ... and up to this many, in larger type (small models, projected in a classroom). */
export const ROOMY_HEADS = 8;

export interface HeadGridOptions {
  /** Accessible name of the grid as a whole (the keys' hint is added to it). */
  label: string;
  onSelect: (layer: number, head: number) => void;
  /** The pointer (or keyboard focus) is on a cell, or (`null`s) has left the grid. */
  onHover?: (layer: number | null, head: number | null, cell: HTMLElement | null) => void;
  /** Classes added to the grid and to every cell (the view's own look). */
  className?: string;
  cellClass?: string;
  /** Row and column labels (`L0`, `H0`); default true. */
  axes?: boolean;
  /** Fill a new cell; returns the element that shows the score (default: the cell). */
  build?: (cell: HTMLButtonElement, layer: number, head: number) => HTMLElement;
}

export interface CellPaint {
  /** The score; `null` while it is not computed yet (the cell shows "…"). */
  value: number | null;
  swatch: Swatch | null;
  /** The cell's tooltip text (`title`), if the view has one. */
  title?: string;
}

export interface HeadGrid {
  readonly element: HTMLElement;
  setShape(nLayers: number, nHeads: number): void;
  paint(paintFor: (layer: number, head: number) => CellPaint): void;
  /** Mark the selected head (`aria-pressed`, the one tab stop; `null`: none) and the pair's
   * other head (`data-second`; `null`: no pair). */
  select(layer: number | null, head: number | null, second?: { layer: number; head: number } | null): void;
  cell(layer: number, head: number): HTMLButtonElement | undefined;
  /** Show the cells in this order of flat indices `layer * nHeads + head`; `null`: by layer. */
  setOrder(order: readonly number[] | null): void;
}

export function createHeadGrid(parent: HTMLElement, options: HeadGridOptions): HeadGrid {
  const axes = options.axes ?? true;
  const element = document.createElement("div");
  element.className = ["cw-head-grid", axes ? "" : "cw-head-grid-bare", options.className ?? ""].filter(Boolean).join(" ");
  element.setAttribute("role", "group");
  element.setAttribute("aria-label", `${options.label}: arrow keys move, the selection follows`);
  element.setAttribute("data-lm-suppress-shortcuts", "true"); // arrows here move the selection
  parent.append(element);

  let nLayers = 0;
  let nHeads = 0;
  let cells: HTMLButtonElement[] = []; // by layer
  let shown: HTMLButtonElement[] = []; // in the order drawn
  const faces = new Map<HTMLButtonElement, HTMLElement>();
  let selected: { layer: number; head: number } | null = null;

  const at = (layer: number, head: number) => cells[layer * nHeads + head];
  const headOf = (cell: HTMLElement) => [Number(cell.dataset.layer), Number(cell.dataset.head)] as const;
  const cellAt = (target: EventTarget | null) => {
    const cell = target instanceof Element ? target.closest<HTMLButtonElement>(".cw-head-grid-cell") : null;
    return cell && element.contains(cell) ? cell : null;
  };
  const hover = (cell: HTMLElement | null) => (cell ? options.onHover?.(...headOf(cell), cell) : options.onHover?.(null, null, null));

  function setTabStop() {
    for (const c of cells) c.tabIndex = -1;
    const stop = (selected && at(selected.layer, selected.head)) ?? shown[0];
    if (stop) stop.tabIndex = 0;
  }

  function layout() {
    const nodes: HTMLElement[] = [];
    if (axes) {
      nodes.push(axisLabel("", "cw-head-grid-corner", ""));
      for (let h = 0; h < nHeads; h++) nodes.push(axisLabel(`H${h}`, "cw-head-grid-label cw-head-grid-label-head", `head ${h}`));
    }
    shown.forEach((cell, i) => {
      if (axes && i % nHeads === 0) nodes.push(axisLabel(`L${i / nHeads}`, "cw-head-grid-label cw-head-grid-label-layer", `layer ${i / nHeads}`));
      nodes.push(cell);
    });
    element.replaceChildren(...nodes);
  }

  element.addEventListener("click", (e) => {
    const cell = cellAt(e.target);
    if (cell) options.onSelect(...headOf(cell));
  });
  element.addEventListener("pointerover", (e) => {
    const cell = cellAt(e.target);
    if (cell) hover(cell);
  });
  element.addEventListener("pointerleave", () => hover(null));
  element.addEventListener("focusin", (e) => {
    const cell = cellAt(e.target);
    if (cell && cell.matches(":focus-visible")) hover(cell);
  });
  element.addEventListener("focusout", () => hover(null));
  element.addEventListener("keydown", (e) => {
    const cell = cellAt(document.activeElement);
    if (!cell || nHeads === 0) return;
    const next = gridMoveIndex(e.key, shown.indexOf(cell), Math.ceil(shown.length / nHeads), nHeads, e.ctrlKey || e.metaKey);
    if (next === null) return;
    e.preventDefault();
    e.stopPropagation(); // keep JupyterLab's notebook shortcuts out
    const target = shown[next];
    if (!target) return;
    target.focus();
    options.onSelect(...headOf(target));
    hover(target);
  });

  return {
    element,
    setShape(layers, heads) {
      if (layers === nLayers && heads === nHeads && cells.length) return;
      nLayers = layers;
      nHeads = heads;
      element.style.setProperty("--cw-grid-heads", String(heads));
      element.classList.toggle("cw-head-grid-dense", heads > LABELLED_HEADS);
      element.classList.toggle("cw-head-grid-roomy", heads <= ROOMY_HEADS);
      faces.clear();
      cells = [];
      for (let l = 0; l < layers; l++) {
        for (let h = 0; h < heads; h++) cells.push(headCell(l, h));
      }
      shown = cells;
      layout();
      setTabStop();
    },
    paint(paintFor) {
      for (const cell of cells) {
        const { value, swatch, title } = paintFor(...headOf(cell));
        const face = faces.get(cell) ?? cell;
        cell.dataset.score = value === null ? "" : String(value);
        face.textContent = value === null ? "…" : formatScore(value);
        face.style.background = swatch?.background ?? "";
        face.style.color = swatch?.color ?? "";
        if (title !== undefined) cell.title = title;
      }
    },
    select(layer, head, second = null) {
      selected = layer === null || head === null ? null : { layer, head };
      for (const cell of cells) {
        const [l, h] = headOf(cell);
        cell.setAttribute("aria-pressed", String(selected !== null && l === selected.layer && h === selected.head));
        const paired = second !== null && l === second.layer && h === second.head;
        if (paired) {
          cell.dataset.second = "true";
          cell.setAttribute("aria-description", "paired with the selected head");
        } else if (cell.dataset.second) {
          delete cell.dataset.second;
          cell.removeAttribute("aria-description");
        }
      }
      setTabStop();
    },
    cell: (layer, head) => at(layer, head),
    setOrder(order) {
      shown = order ? order.map((i) => cells[i]).filter((c): c is HTMLButtonElement => c !== undefined) : cells;
      layout();
      setTabStop();
    },
  };

  function headCell(layer: number, head: number): HTMLButtonElement {
    const b = document.createElement("button");
    b.type = "button";
    b.className = ["cw-head-grid-cell", options.cellClass ?? ""].filter(Boolean).join(" ");
    b.setAttribute("aria-label", `layer ${layer} head ${head}`);
    b.setAttribute("aria-pressed", "false");
    b.dataset.layer = String(layer);
    b.dataset.head = String(head);
    b.dataset.score = "";
    b.tabIndex = -1;
    if (options.build) faces.set(b, options.build(b, layer, head));
    else b.textContent = "…";
    return b;
  }
}

function axisLabel(text: string, className: string, title: string): HTMLElement {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  if (title) span.title = title;
  span.setAttribute("aria-hidden", "true");
  return span;
}
