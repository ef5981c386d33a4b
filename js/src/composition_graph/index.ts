/**
 * CompositionGraph: which heads read what earlier heads write (Q-, K-, V-composition beyond
 * random heads), as a graph whose threshold prunes live, and as a heads x heads matrix.
 *
 * State (Python: circuitwidgets/widgets/composition_graph.py):
 *   kind, threshold              the switch and the slider (written back here)
 *   excess                       float32 [3, L, H, L, H]: score − baseline for Q, K, V
 *   baseline, baseline_std, draws, approximation   what random heads score; the rotary note
 *   model_name, n_layers, n_heads, max_edges, error
 *   selection                    the shared Selection: layer, head (a node), pair (an edge:
 *                                both heads, for every linked view; kit/selection.ts)
 *
 * Its parts: state.ts (pure: pruning, levels, steps, keys, geometry; unit-tested),
 * graph_panel.ts, matrix_panel.ts. For tests: the root's `data-edges` / `data-total` are the
 * edges drawn / above the threshold; `data-kind`, `data-threshold`, `data-tab`.
 */
import type { RenderProps } from "@anywidget/types";
import "./composition_graph.css";
import { maskedRgb } from "../kit/color_scale";
import { decode } from "../kit/decode";
import { withSignal } from "../kit/render";
import { connectSelection, pairedHead, selectedHead } from "../kit/selection";
import { createSlider } from "../kit/slider";
import { svgColors } from "../kit/svg_grid";
import { createTabs } from "../kit/tabs";
import { readPalette } from "../kit/theme";
import { startDrawing } from "../kit/lifecycle";
import { createToggleGroup } from "../kit/toggle_group";
import { createView } from "../kit/view";
import { watch } from "../kit/watch";
import { createGraphPanel } from "./graph_panel";
import { createMatrixPanel } from "./matrix_panel";
import type { GraphNow, State } from "./shared";
import { CHOICES, excessLimit, KIND_TEXT, nearestStep, pairOf, pruneEdges, summary, thresholdSteps, type Choice } from "./state";

type Tab = "graph" | "matrix";

function render({ model, el, signal }: RenderProps<State>) {
  const { frame, root, tooltip, body } = createView(model, el, signal, { title: "Composition", className: "cw-composition-graph" });
  const isStatic = () => model.get("_static");
  const L = () => model.get("n_layers");
  const kindOf = () => model.get("kind") as Choice;
  const H = () => model.get("n_heads");
  let excess: ArrayLike<number> = new Float32Array(0);
  let limit = 1e-6;
  let steps: number[] = [0];
  let tab: Tab = "graph";
  const save = () => { if (!isStatic()) model.save_changes(); };

  const selection = connectSelection(model, { signal, canSave: () => !isStatic(), onChange: () => mark() });
  const now: GraphNow = {
    model, selection, tooltip,
    excess: () => excess,
    limit: () => limit,
    selected: () => selectedHead(selection, L(), H(), null),
    pair: () => (pairedHead(selection, L(), H()) ? selection.pair() : null),
    pickHead(head) {
      selection.set({ layer: head.layer, head: head.head, pair: [] }); // one head: no pair
      mark();
    },
    pickEdge(edge) {
      selection.set({ pair: pairOf(edge) }); // both heads, the reading one selected
      mark();
    },
  };

  const controls = document.createElement("div");
  controls.className = "cw-cg-controls";
  body.append(controls);
  const kinds = createToggleGroup<Choice>(controls, {
    label: "Kind of composition", className: "cw-cg-kinds",
    options: CHOICES.map((c) => ({ value: c, text: c === "all" ? "all" : `${c}`, help: KIND_TEXT[c] })),
    onPick(choice) { model.set("kind", choice); save(); },
  });
  const sliderBox = document.createElement("div");
  sliderBox.className = "cw-cg-threshold";
  const sliderLabel = document.createElement("span");
  sliderLabel.className = "cw-cg-threshold-label";
  sliderBox.append(sliderLabel);
  controls.append(sliderBox);
  const slider = createSlider(sliderBox, {
    label: "Threshold on score − baseline",
    onChange(i) { model.set("threshold", steps[i] ?? 0); save(); },
  });
  const line = document.createElement("p");
  line.className = "cw-cg-summary";
  const note = document.createElement("p");
  note.className = "cw-cg-approximation";
  body.append(line, note);

  const tabs = createTabs<Tab>(body, body, {
    label: "Graph or matrix",
    tabs: [{ value: "graph", text: "Graph" }, { value: "matrix", text: "Matrix" }],
    onPick(next) { tab = next; showTab(); },
  });
  const graph = createGraphPanel(tabs.panel, now);
  const matrix = createMatrixPanel(tabs.panel, now, signal);
  frame.camera.addSvg(graph.panel.header, "graph", "the graph", () => new XMLSerializer().serializeToString(graph.svg));
  frame.camera.addSvg(matrix.panel.header, "matrix", "the matrix", () =>
    matrix.heatmap.toSvg(`${kindOf()}-composition − baseline: ${model.get("model_name")}`, svgColors(readPalette(root))),
  );

  function showTab() {
    tabs.show(tab);
    graph.panel.element.hidden = tab !== "graph";
    matrix.panel.element.hidden = tab !== "matrix";
    root.dataset.tab = tab;
  }

  function mark() {
    graph.mark();
    matrix.mark();
  }

  function drawEdges() {
    const choice = kindOf();
    const threshold = model.get("threshold");
    kinds.show(choice);
    const i = nearestStep(steps, threshold);
    slider.set(i, steps.map((s) => s.toFixed(3)), `above ${threshold.toFixed(3)}`);
    sliderLabel.textContent = `threshold ${threshold.toFixed(3)}`;
    const { edges, total } = pruneEdges(excess, L(), H(), choice, threshold, model.get("max_edges"));
    graph.draw(edges);
    line.textContent = summary(model.get("baseline"), model.get("baseline_std"), model.get("draws"), edges.length, total, threshold);
    root.dataset.edges = String(edges.length);
    root.dataset.total = String(total);
    root.dataset.kind = choice;
    root.dataset.threshold = String(threshold);
  }

  function drawData() {
    const started = performance.now();
    const wire = model.get("excess");
    const decoded = wire ? decode(wire) : null;
    excess = decoded ? (decoded.scale === 1 ? decoded.data : Array.from(decoded.data, (v) => v * decoded.scale)) : new Float32Array(0);
    limit = excessLimit(excess);
    steps = thresholdSteps(limit);
    frame.setMeta([model.get("model_name"), `${L()} layers × ${H()} heads`, `${L() * H()} heads, ${model.get("draws")} random pairs`]);
    note.textContent = model.get("approximation") ? `Approximate: ${model.get("approximation")}.` : "";
    note.hidden = !model.get("approximation");
    recolour();
    drawEdges();
    matrix.draw(kindOf());
    root.dataset.drawMs = (performance.now() - started).toFixed(1); // the browser's share, for the benchmark
  }

  function recolour() {
    const palette = readPalette(root);
    matrix.setPalette(palette, maskedRgb(palette));
  }

  watch(model, ["excess", "n_layers", "n_heads", "baseline", "baseline_std", "draws", "approximation"], drawData, signal);
  watch(model, ["kind", "threshold", "max_edges"], () => { drawEdges(); matrix.draw(kindOf()); }, signal);
  showTab();
  startDrawing(root, signal, {
    recolour,
    draw: drawData,
    ready: () => { root.dataset.readyAt = String(Date.now()); }, // wall clock, for benchmarks/bench_composition_graph.py
  });
}

export default { render: withSignal(render) };
