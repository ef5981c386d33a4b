/**
 * FlowGraph: one prediction as a graph of what wrote it (VISIT's flow graph).
 *
 * State (Python: circuitwidgets/widgets/flow_graph.py):
 *   text, position, target, layers   what is explained (a click on the token strip asks the
 *                                    kernel for another position through the "position" request)
 *   threshold                        the pruning slider's share (0..1), written back on change
 *   _graph                           the graph, column by column (data.ts)
 *   _knowledge                       the knowledge neurons listed (null until the button's
 *                                    "knowledge" request has been answered)
 *   tokens, model_name, n_layers, n_heads, d_vocab, collapse_at, busy, error
 *   selection                        the shared Selection: a head node selects (layer, head); a
 *                                    memory value also locks (query, key) on (position, source)
 *
 * Its parts: data.ts (the wire form), state.ts (pure: shown nodes, layout, widths, keys),
 * graph_panel.ts (the SVG), knowledge_panel.ts (the knowledge neurons' list). For tests: `.cw-fg-graph[data-nodes][data-edges]` count what is
 * drawn; `.cw-flow-graph[data-position][data-threshold]` say what it shows, `data-drawn-at`
 * when (browser wall clock, for benchmarks/bench_flow.py).
 */
import type { RenderProps } from "@anywidget/types";
import "./flow_graph.css";
import { failureText, invoke, isQuiet } from "../kit/channel";
import { sequential, type ColorScale } from "../kit/color_scale";
import { createLegend } from "../kit/legend";
import { createPanel } from "../kit/panel";
import { withSignal } from "../kit/render";
import { connectSelection } from "../kit/selection";
import { createSlider } from "../kit/slider";
import { readPalette } from "../kit/theme";
import { startDrawing } from "../kit/lifecycle";
import { createTokenStrip } from "../kit/token_strip";
import { createView } from "../kit/view";
import { watch } from "../kit/watch";
import { readGraph, readKnowledge, type FlowWire, type KnowledgeWire } from "./data";
import { createGraphPanel } from "./graph_panel";
import { createKnowledgePanel } from "./knowledge_panel";
import { actionOf, initialCollapsed, knowledgeStatus, visible, type FlowNode, type Graph, type Knowledge, type Shown } from "./state";

export interface State {
  [key: string]: unknown;
  text: string;
  position: number;
  target: string | number | null;
  layers: [number, number];
  threshold: number;
  model_name: string;
  n_layers: number;
  n_heads: number;
  d_vocab: number;
  collapse_at: number;
  tokens: string[];
  _graph: FlowWire | null;
  _knowledge: KnowledgeWire | null;
  busy: string;
  error: string;
  _static: boolean;
  selection: string;
}

/** The slider's steps: thresholds 0, 5% ... 100% of the largest contribution. */
const STEPS = 20;
const CAPTION =
  "Left to right: the residual stream through each layer; in a layer the heads that wrote the target most, " +
  "fed by the memory values they recalled, then the MLP's most active neurons. Colour: the target's rank in " +
  "the node's projection to the vocabulary; edge width: attention weight, neuron coefficient or norm written. " +
  "Click a head to select it, a layer's title to collapse it, a token to explain that position.";

const KNOWLEDGE_CAPTION =
  "The MLP neurons whose integrated-gradients attribution to the target is highest (Dai et al.): each neuron scaled " +
  "from zero to its value, the gain in the target's probability. Hover or click a row to find its node in the graph.";

/** The row above the graph: the threshold's label (its slider is added after it) and the legend. */
function thresholdControls(parent: HTMLElement) {
  const controls = document.createElement("div");
  controls.className = "cw-fg-controls";
  const sliderLabel = document.createElement("span");
  sliderLabel.className = "cw-fg-threshold-label";
  controls.append(sliderLabel);
  parent.append(controls);
  return { controls, sliderLabel };
}

/** The colours' legend: the target's rank in a node's projection, 1 to the vocabulary's size. */
function rankLegend(parent: HTMLElement, dVocab: () => number) {
  return createLegend(parent, {
    title: "rank of the target (log scale)", ticks: [0, 0.5, 1],
    format: (v) => (v === 1 ? "1" : v === 0 ? "last" : `≈${Math.round(Math.exp((1 - v) * Math.log(dVocab())))}`),
  });
}

function render({ model, el, signal }: RenderProps<State>) {
  const { frame, root, tooltip, banner } = createView(model, el, signal, {
    title: "Flow graph", className: "cw-flow-graph", textInput: { label: "Text" }, progress: "cw-fg-progress",
  });
  const isStatic = () => model.get("_static");
  let graph: Graph | null = null;
  let vocab = new Map<number, string>();
  let collapsed = new Set<number>();
  let drawnLayers = "";
  let scale: ColorScale = sequential(readPalette(root));

  const selection = connectSelection(model, {
    signal, canSave: () => !isStatic(),
    onChange: () => panel.markSelected(selection.get("layer"), selection.get("head")),
  });

  const strip = createTokenStrip(frame.body, {
    label: "The text's tokens: click one to explain the prediction there",
    onSelect: (i) => explain(i),
  });
  const { controls, sliderLabel } = thresholdControls(frame.body);
  const slider = createSlider(controls, {
    label: "Threshold: hide writers under this share of the largest contribution",
    onChange: (step) => {
      model.set("threshold", step / STEPS);
      if (!isStatic()) model.save_changes();
      draw();
    },
  });
  const legend = rankLegend(controls, () => dVocab());
  const box = createPanel(frame.body, { className: "cw-fg-panel", title: "Flow graph", caption: CAPTION, captionFirst: true });
  const panel = createGraphPanel(box.body, {
    tooltip, onActivate: activate, onToggleLayer: toggle,
    onHover: (n) => { hovered = n?.kind === "neuron" ? n.id : null; link(); },
  }, signal);
  const knowledgeBox = createPanel(frame.body, { className: "cw-fg-kn-panel", title: "Knowledge neurons", caption: KNOWLEDGE_CAPTION, captionFirst: true });
  const kPanel = createKnowledgePanel(knowledgeBox.body, {
    onAsk: askKnowledge,
    onHover: (id) => { hovered = id; link(); },
    onPick: (id) => { pinned = pinned === id ? null : id; link(); if (pinned) panel.reveal(pinned); },
  }, signal);
  let knowledge: Knowledge | null = null;
  let knowledgeVocab = new Map<number, string>();
  let shown: Shown | null = null;
  let hovered: string | null = null;
  let pinned: string | null = null;

  /** The neuron nodes and rows to mark: the hovered one and the pinned one. */
  function link() {
    const ids = new Set([hovered, pinned].filter((x): x is string => x !== null));
    panel.markLinked(ids);
    kPanel.highlight(ids);
    root.dataset.pinned = pinned ?? "";
  }

  function askKnowledge() {
    if (isStatic()) return;
    invoke(model, "knowledge", {}, { signal, timeout: 0 }).catch((e) => {
      if (!isQuiet(e)) banner.set(failureText(e));
    });
  }

  function drawKnowledge() {
    const hasNeurons = graph?.nodes.some((n) => n.kind === "mlp_out") ?? false;
    kPanel.draw({
      knowledge, canAsk: hasNeurons && !isStatic(), vocab: knowledgeVocab,
      status: (id) => (graph && shown ? knowledgeStatus(id, graph, shown) : "pruned"),
    });
    knowledgeBox.element.hidden = !hasNeurons && knowledge === null;
    link();
  }
  const dVocab = () => Math.max(2, model.get("d_vocab"));

  function activate(n: FlowNode) {
    const action = graph ? actionOf(n, graph.position) : null;
    if (!action) return;
    if (action.kind === "head") selection.set({ layer: action.layer, head: action.head });
    else if (action.kind === "memory") selection.set({ layer: action.layer, head: action.head, query: action.query, key: action.key });
    else toggle(action.layer);
  }

  function toggle(layer: number) {
    if (collapsed.has(layer)) collapsed.delete(layer);
    else collapsed.add(layer);
    draw();
  }

  function explain(position: number) {
    if (isStatic() || !graph || position === graph.position) return;
    invoke(model, "position", { position }, { signal }).catch((e) => {
      if (!isQuiet(e)) banner.set(failureText(e));
    });
  }

  function draw() {
    if (!graph) return;
    const threshold = model.get("threshold");
    const step = Math.round(threshold * STEPS);
    slider.set(step, Array.from({ length: STEPS + 1 }, (_, i) => (i % 5 === 0 ? `${(i * 100) / STEPS}%` : "")), `${Math.round(threshold * 100)}%`);
    sliderLabel.textContent = `Hide writers under ${Math.round(threshold * 100)}% of the largest contribution`;
    shown = visible(graph, threshold, collapsed);
    const tokens = model.get("tokens");
    panel.draw({
      graph, shown, tokens, vocab, dVocab: dVocab(), scale, collapsed,
      selected: { layer: selection.get("layer"), head: selection.get("head") },
    });
    root.dataset.threshold = String(threshold);
    drawKnowledge();
  }

  function readKnowledgeWire() {
    const wire = model.get("_knowledge");
    ({ knowledge, vocab: knowledgeVocab } = wire ? readKnowledge(wire) : { knowledge: null, vocab: new Map<number, string>() });
    if (!knowledge) pinned = null;
    drawKnowledge();
  }

  function drawData() {
    const wire = model.get("_graph");
    if (!wire) return;
    ({ graph, vocab } = readGraph(wire));
    const layers = graph.layers.join(":");
    if (layers !== drawnLayers) collapsed = initialCollapsed(graph.layers, model.get("collapse_at"));
    drawnLayers = layers;
    const tokens = model.get("tokens");
    const position = graph.position;
    strip.setTokens(tokens, (i): Record<string, string> => (i === position ? { "data-explained": "true", "aria-current": "true" } : {}));
    tooltip.hide();
    draw();
    root.dataset.position = String(position);
    root.dataset.drawnAt = String(Date.now()); // wall clock, for benchmarks/bench_flow.py
    frame.setMeta([
      model.get("model_name"), `position ${position} → ${JSON.stringify(graph.targetStr)}`,
      `logit ${graph.logit.toFixed(2)}`, `layers ${graph.layers[0]}..${graph.layers[1] - 1}`,
    ]);
  }

  const recolour = () => {
    scale = sequential(readPalette(root));
    legend.setScale(scale);
    draw();
  };
  watch(model, ["_graph", "tokens"], drawData, signal);
  watch(model, ["threshold"], draw, signal);
  watch(model, ["_knowledge"], readKnowledgeWire, signal);
  startDrawing(root, signal, { recolour, draw: () => { readKnowledgeWire(); drawData(); } });
}

export default { render: withSignal(render) };
