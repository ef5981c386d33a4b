/**
 * PatchingExplorer: activation patching of a clean and a corrupted prompt, grid by grid, exact
 * or estimated by attribution, linked to the shared selection.
 *
 * State (Python: circuitwidgets/widgets/patching_explorer.py):
 *   clean, corrupted, metric         the prompt pair and the named metric
 *   clean_tokens, corrupted_tokens   both tokenizations; differing: the positions that differ
 *   target_str, distractor_str       what the metric reads, at read_position
 *   clean_value, corrupted_value     the raw metric on each run
 *   grids                            the tabs this model has; grid: the open one
 *   method                           "attribution" or "exact": what the grids show
 *   approx, exact                    PatchingGridsWire {grid: float32 values | null}: every estimate; the exact grids computed
 *   run_id, busy, error              a counter per prompt pair, progress line, inline error
 *   selection                        the shared Selection (layer, head, lens_layer, position)
 *
 * Its parts: prompts_panel.ts (the pair and the metric), grid_panel.ts (tabs, the method
 * switch, compute / progress / cancel, over cell_grid.ts or canvas_grid.ts), scatter_panel.ts (exact against
 * estimate), compute.ts (the chunked "exact" requests), state.ts (the pure logic, unit-tested).
 *
 * For tests and tools: cells are buttons named as `cellName` says ("layer L head H", "layer L
 * position P", "layer L head H position P") with `data-value`, except in a grid of many cells,
 * which is one canvas (`usesCanvas`; canvas_grid.ts says what it carries); the root carries
 * `data-grid`, `data-method` and `data-shown` ("exact" or "attribution": what is drawn).
 */
import type { RenderProps } from "@anywidget/types";
import "./patching_explorer.css";
import { diverging, type ColorScale } from "../kit/color_scale";
import type { NDArray } from "../kit/decode";
import { withSignal } from "../kit/render";
import { connectSelection } from "../kit/selection";
import { readPalette } from "../kit/theme";
import { startDrawing } from "../kit/lifecycle";
import { createView } from "../kit/view";
import { watch } from "../kit/watch";
import { createExactRunner } from "./compute";
import { createGridPanel } from "./grid_panel";
import { createPromptsPanel } from "./prompts_panel";
import { createScatterPanel } from "./scatter_panel";
import { decodeGrids, type PatchingNow, type State } from "./shared";
import { cellName, colourLimit, gridLayout, selectedCell, selectionFor, showsNumbers, type GridName, type Layout, type Method } from "./state";

const STATIC_NOTE = "Static export: computing an exact grid needs a live Python kernel.";

function render({ model, el, signal }: RenderProps<State>) {
  const { frame, root, tooltip, banner } = createView(model, el, signal, {
    title: "Activation patching",
    className: "cw-patching-explorer",
    progress: "cw-pe-busy",
  });
  const isStatic = () => model.get("_static");
  let decoded = { approx: new Map<string, NDArray>(), exact: new Map<string, NDArray>() };
  let layout: Layout = gridLayout("heads", [0, 0], []);
  let scale: ColorScale = diverging(readPalette(root), 1);

  const selection = connectSelection(model, {
    signal,
    canSave: () => !isStatic(),
    onChange: () => markSelected(),
  });
  const save = (name: "grid" | "method", value: string) => {
    model.set(name, value as never);
    if (!isStatic()) model.save_changes();
  };
  const now: PatchingNow = {
    model, selection, tooltip,
    grid: () => model.get("grid"),
    method: () => model.get("method"),
    values: (g, m) => (m === "exact" ? decoded.exact : decoded.approx).get(g) ?? null,
    layout: () => layout,
    scale: () => scale,
    pick: (row, col) => selection.set(selectionFor(now.grid(), row, col, model.get("n_heads"))),
  };

  const prompts = createPromptsPanel(frame.body, model);
  const main = document.createElement("div");
  main.className = "cw-pe-main";
  frame.body.append(main);
  const runner = createExactRunner(model, signal, {
    progress: (g, done, total) => panel.showProgress({ grid: g, done, total }),
    finished: (_g, outcome, message) => {
      panel.showProgress(null);
      if (outcome === "failed") banner.set(message);
      drawControls();
    },
  });
  const panel = createGridPanel(main, now, {
    pickGrid: (g) => save("grid", g),
    pickMethod: (m) => save("method", m),
    compute: () => {
      if (isStatic()) return;
      runner.start(now.grid());
      drawControls();
    },
    cancel: () => runner.cancel(),
  });
  const scatter = createScatterPanel(main, now);

  function shown(): Method {
    return now.method() === "exact" && decoded.exact.has(now.grid()) ? "exact" : "attribution";
  }

  function markSelected() {
    const sel = {
      layer: selection.get("layer"), head: selection.get("head"),
      lens_layer: selection.get("lens_layer"), position: selection.get("position"),
    };
    panel.grid.select(selectedCell(now.grid(), sel, layout, model.get("n_heads")));
  }

  function drawControls() {
    const g = now.grid();
    const has = decoded.exact.has(g);
    panel.compute.hidden = has || runner.running !== null;
    panel.compute.disabled = isStatic();
    panel.compute.title = isStatic() ? STATIC_NOTE : "Patch every cell of this grid exactly (batched forward passes)";
    root.dataset.exactReady = String(has);
  }

  function drawGrid() {
    const g = now.grid();
    const values = now.values(g, shown());
    const approx = decoded.approx.get(g);
    if (!approx) return;
    panel.tabs.show(g);
    panel.method.show(now.method());
    layout = gridLayout(g, approx.shape, model.get("clean_tokens"));
    const differing = new Set(model.get("differing") ?? []);
    const nHeads = model.get("n_heads");
    panel.grid.setLayout(layout, (r, c) => cellName(g, r, c, nHeads), differing);
    scale = diverging(readPalette(root), colourLimit(approx.data, decoded.exact.get(g)?.data));
    panel.legend.setScale(scale, [-scale.domain[1], 0, 1, scale.domain[1]].filter((v, i, a) => a.indexOf(v) === i));
    panel.grid.paint((r, c) => {
      const v = values ? (values.data[r * layout.cols + c] as number) : NaN;
      return { value: v, swatch: scale(v) };
    }, showsNumbers(layout));
    markSelected();
    drawControls();
    scatter.draw((i) => cellName(g, Math.floor(i / layout.cols), i % layout.cols, nHeads));
    root.dataset.grid = g;
    root.dataset.method = now.method();
    root.dataset.shown = shown();
    panel.showProgress(runner.running ? { grid: runner.running, done: 0, total: 0 } : null);
  }

  function drawData() {
    decoded = { approx: decodeGrids(model.get("approx")), exact: decodeGrids(model.get("exact")) };
    panel.setTabs(model.get("grids") ?? []);
    prompts.draw();
    frame.setMeta([model.get("model_name"), `${model.get("n_layers")} layers × ${model.get("n_heads")} heads`, `${model.get("clean_tokens").length} tokens`]);
    drawGrid();
    root.dataset.run = String(model.get("run_id"));
  }

  watch(model, ["approx", "exact", "grids", "clean_tokens", "corrupted_tokens", "differing", "target_str",
    "distractor_str", "read_position", "clean_value", "corrupted_value", "run_id", "n_layers", "n_heads"], drawData, signal);
  watch(model, ["grid", "method"], drawGrid, signal);
  watch(model, ["_static"], drawControls, signal);
  startDrawing(root, signal, { recolour: drawGrid, draw: drawData });
}

export default { render: withSignal(render) };
