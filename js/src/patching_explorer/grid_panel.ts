/**
 * PatchingExplorer's grid panel: a tab per grid, the exact / attribution switch, the button
 * that computes the exact grid with its progress bar and Cancel, the grid itself, its legend
 * and a help line.
 */
import { createButton } from "../kit/button";
import { formatTick } from "../kit/format";
import { createLegend, type Legend } from "../kit/legend";
import { createPanel, type Panel } from "../kit/panel";
import { createTabs, type Tabs } from "../kit/tabs";
import { createToggleGroup, type ToggleGroup } from "../kit/toggle_group";
import { createCanvasGrid } from "./canvas_grid";
import { createCellGrid, type CellGrid, type GridOptions } from "./cell_grid";
import type { PatchingNow } from "./shared";
import {
  formatValue, GRIDS, METHOD_TEXT, METHODS, progressText, TEXT, usesCanvas, type GridName, type Layout, type Method,
} from "./state";

export interface GridPanel {
  readonly panel: Panel;
  readonly tabs: Tabs<GridName>;
  readonly method: ToggleGroup<Method>;
  readonly grid: CellGrid;
  readonly legend: Legend;
  readonly compute: HTMLButtonElement;
  readonly cancel: HTMLButtonElement;
  /** Show the progress of an exact grid (`null`: nothing is computing). */
  showProgress(state: { grid: GridName; done: number; total: number } | null): void;
  /** Show only the tabs this model has. */
  setTabs(available: readonly GridName[]): void;
}

export function createGridPanel(
  parent: HTMLElement,
  now: PatchingNow,
  on: { pickGrid: (g: GridName) => void; pickMethod: (m: Method) => void; compute: () => void; cancel: () => void },
): GridPanel {
  const panel = createPanel(parent, { className: "cw-pe-grids", title: "Patching grids" });
  const controls = document.createElement("div");
  controls.className = "cw-pe-controls";
  panel.body.append(controls);
  const tabs = createTabs<GridName>(controls, panel.body, {
    label: "Patching grid",
    tabs: GRIDS.map((g) => ({ value: g, text: TEXT[g].tab })),
    onPick: on.pickGrid,
  });
  const method = createToggleGroup<Method>(controls, {
    label: "Numbers shown",
    options: METHODS.map((m) => ({ value: m, ...METHOD_TEXT[m] })),
    onPick: on.pickMethod,
    className: "cw-pe-method",
  });
  const tabPanel = tabs.panel;
  tabPanel.classList.add("cw-pe-tabpanel");

  const exactBar = document.createElement("div");
  exactBar.className = "cw-pe-exact";
  const compute = createButton("Compute exact grid", "Patch every cell of this grid exactly (batched forward passes)");
  compute.classList.add("cw-pe-compute");
  compute.addEventListener("click", on.compute);
  const bar = document.createElement("div");
  bar.className = "cw-pe-progress";
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.hidden = true;
  const fill = document.createElement("div");
  fill.className = "cw-pe-progress-fill";
  bar.append(fill);
  const words = document.createElement("span");
  words.className = "cw-pe-progress-text";
  const cancel = createButton("Cancel", "Stop computing the exact grid (the cells done so far are kept in the kernel)");
  cancel.classList.add("cw-pe-cancel");
  cancel.hidden = true;
  cancel.addEventListener("click", on.cancel);
  exactBar.append(compute, bar, words, cancel);

  const help = document.createElement("p");
  help.className = "cw-pe-help";
  tabPanel.append(exactBar, help);
  const grid = createPatchingGrid(tabPanel, {
    label: "Patching grid",
    onSelect: (row, col) => now.pick(row, col),
    onHover: (row, col, cell) => hover(row, col, cell),
  });
  const legend = createLegend(tabPanel, { title: "patched metric (clean 1, corrupted 0)", ticks: [-1, 0, 1], format: formatTick });

  function hover(row: number | null, col: number | null, cell: HTMLElement | null) {
    if (row === null || col === null || !cell) {
      now.tooltip.hide();
      return;
    }
    const g = now.grid();
    const cols = now.layout().cols;
    const at = (m: Method) => {
      const v = now.values(g, m);
      return v ? formatValue(v.data[row * cols + col] as number) : "not computed";
    };
    now.tooltip.show(cell, {
      title: cell.getAttribute("aria-label") ?? "",
      rows: [["exact", at("exact")], ["attribution", at("attribution")]],
      note: "click to select",
    });
  }

  return {
    panel, tabs, method, grid, legend, compute, cancel,
    showProgress(state) {
      bar.hidden = cancel.hidden = words.hidden = state === null;
      words.textContent = state ? progressText(state.grid, state.done, state.total) : "";
      const total = state?.total ?? 0;
      bar.setAttribute("aria-valuemax", String(total || 1));
      bar.setAttribute("aria-valuenow", String(state?.done ?? 0));
      fill.style.width = `${total ? (100 * (state?.done ?? 0)) / total : 0}%`;
      panel.element.dataset.computing = state ? state.grid : "";
      help.textContent = TEXT[now.grid()].help;
    },
    setTabs(available) {
      for (const g of GRIDS) tabs.buttons[g].hidden = !available.includes(g);
    },
  };
}

const EMPTY: Layout = { rows: 0, cols: 0, rowLabels: [], colLabels: [], byPosition: false };

/** The grid as buttons (cell_grid.ts) or, for a grid of many cells, on a canvas
 * (canvas_grid.ts; see `usesCanvas`): whichever the layout asks for is shown, the other emptied. */
function createPatchingGrid(parent: HTMLElement, options: GridOptions): CellGrid {
  const buttons = createCellGrid(parent, options);
  const canvas = createCanvasGrid(parent, options);
  canvas.element.hidden = true;
  let current: CellGrid = buttons;
  return {
    get element() {
      return current.element;
    },
    setLayout(layout, name, differing) {
      const next = usesCanvas(layout) ? canvas : buttons;
      if (next !== current) current.setLayout(EMPTY, name, differing);
      current = next;
      buttons.element.hidden = current !== buttons;
      canvas.element.hidden = current !== canvas;
      current.setLayout(layout, name, differing);
    },
    paint: (paintFor, numbers) => current.paint(paintFor, numbers),
    select: (cell) => current.select(cell),
    cell: (row, col) => current.cell(row, col),
  };
}
