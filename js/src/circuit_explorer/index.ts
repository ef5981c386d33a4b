/**
 * CircuitExplorer: linked views in one responsive layout (the four by default).
 *
 * State (Python: circuitwidgets/widgets/circuit_explorer.py):
 *   attention, ov, lens, induction,  references ("IPY_MODEL_<id>") to the panels' view models
 *   patching, flow, composition,     (null for a panel not shown)
 *   paths
 *   panels                           the panels shown, in layout order
 *   text, error                      the shared text and why it is not shown
 *   collapsed                        names of the collapsed panels
 *   model_name, n_layers, n_heads    for the meta line
 *   _static                          true in an HTML export (no kernel: the text is read-only)
 *
 * No ipywidgets Box, no jslink, no `create_view`: each panel asks the widget manager for its
 * view's model (`get_model`, which every front end that runs anywidget has: JupyterLab,
 * Notebook 7, marimo, the html-manager of a static export) and draws it with that view's own
 * `render` — the same code as when the view is displayed alone. The views link through their
 * shared Selection model as they always do (kit/selection.ts), so the dashboard adds nothing
 * to linking.
 *
 * Layout: the root carries data-layout="stack" (one column) or "tiles" (two), chosen from the
 * width it gets (a ResizeObserver), so it follows the notebook column, not the window. Each
 * panel `.cw-ce-panel[data-panel]` has a toggle button (aria-expanded, aria-controls) and
 * carries data-expanded and data-mounted ("true" once its view is drawn, "error" if not).
 */
import type { AnyModel, RenderProps } from "@anywidget/types";
import "./circuit_explorer.css";
import attentionExplorer from "../attention_explorer";
import inductionScores from "../induction_scores";
import logitLens from "../logit_lens";
import ovBrowser from "../ov_browser";
import patchingExplorer from "../patching_explorer";
import flowGraph from "../flow_graph";
import compositionGraph from "../composition_graph";
import pathExplorer from "../path_explorer";
import { modelIdOf } from "../kit/selection";
import { createView } from "../kit/view";
import { watch } from "../kit/watch";
import { withSignal } from "../kit/render";

type PanelName = "attention" | "ov" | "lens" | "induction" | "patching" | "flow" | "composition" | "paths";

interface State {
  [key: string]: unknown;
  attention: string;
  ov: string;
  lens: string;
  induction: string;
  patching: string;
  flow: string;
  composition: string;
  paths: string;
  panels: PanelName[];
  text: string;
  error: string;
  collapsed: string[];
  model_name: string;
  n_layers: number;
  n_heads: number;
  _static: boolean;
}

type ViewModule = { render: (props: RenderProps<any>) => unknown };

/** Every panel a dashboard can show (Python's `_PANEL_VIEWS`): the view drawn in it and what
 * it is for, in plain words. The model's `panels` says which are shown, in what order. */
const PANELS: { name: PanelName; view: ViewModule; title: string; blurb: string }[] = [
  { name: "attention", view: attentionExplorer, title: "Attention", blurb: "where each head looks" },
  { name: "ov", view: ovBrowser, title: "OV circuits", blurb: "what each head writes" },
  { name: "lens", view: logitLens, title: "Logit lens", blurb: "what each layer would predict" },
  { name: "induction", view: inductionScores, title: "Head scores", blurb: "induction and previous-token heads" },
  { name: "patching", view: patchingExplorer, title: "Activation patching", blurb: "where the clean answer comes back" },
  { name: "flow", view: flowGraph, title: "Flow graph", blurb: "what wrote the last prediction" },
  { name: "composition", view: compositionGraph, title: "Composition", blurb: "which heads read which" },
  { name: "paths", view: pathExplorer, title: "Paths", blurb: "the logit as a sum of paths" },
];

/** Two columns from this many CSS pixels of the dashboard's own width: each view then gets
 * about 420 px or more, which every view fits. A 1440 px JupyterLab window with the file
 * browser open gives the dashboard 978 px; a static export's page at most 1038 px. */
const TILE_WIDTH = 900;


/**
 * A view model as a view sees it, with every listener the view adds removed again when
 * `signal` aborts (the same contract anywidget gives a view's own model). Only the methods of
 * anywidget's AnyModel are used, so this works on any front end's model object.
 */
function childModel(child: AnyModel, signal: AbortSignal): AnyModel {
  const added: [string, (...args: any[]) => void][] = [];
  signal.addEventListener("abort", () => {
    for (const [name, callback] of added) child.off(name, callback);
    added.length = 0;
  });
  return {
    get: (key) => child.get(key),
    set: (key, value) => child.set(key, value),
    save_changes: () => child.save_changes(),
    send: (content, callbacks, buffers) => child.send(content, callbacks, buffers),
    on(name: string, callback: (...args: any[]) => void) {
      if (signal.aborted) return;
      added.push([name, callback]);
      child.on(name, callback);
    },
    off(name?: string | null, callback?: ((...args: any[]) => void) | null) {
      for (let i = added.length - 1; i >= 0; i--) {
        const [n, c] = added[i]!;
        if ((name == null || n === name) && (callback == null || c === callback)) {
          child.off(n, c);
          added.splice(i, 1);
        }
      }
    },
    widget_manager: child.widget_manager,
  } as AnyModel;
}

function render({ model, el, signal, host, experimental }: RenderProps<State>) {
  const { frame, root } = createView(model as unknown as AnyModel<Record<string, unknown>>, el, signal, {
    title: "Circuit explorer",
    className: "cw-circuit-explorer",
    textInput: { label: "Text" },
  });
  const intro = document.createElement("p");
  intro.className = "cw-ce-intro";
  intro.textContent =
    "Views of the same model, linked: select a head in any of them and the others show it too.";
  const grid = document.createElement("div");
  grid.className = "cw-ce-grid";
  frame.body.append(intro, grid);

  let uid = 0;
  const prefix = `cw-ce-${Math.random().toString(36).slice(2, 8)}`;

  const shown = model.get("panels") ?? [];
  const specs = shown.map((name) => PANELS.find((p) => p.name === name)).filter((p) => p !== undefined);
  const panels = specs.map((spec) => {
    const element = document.createElement("section");
    element.className = "cw-ce-panel";
    element.dataset.panel = spec.name;
    element.setAttribute("aria-label", spec.title);
    const heading = document.createElement("h3");
    heading.className = "cw-ce-panel-heading";
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "cw-ce-toggle";
    const chevron = document.createElement("span");
    chevron.className = "cw-ce-chevron";
    chevron.setAttribute("aria-hidden", "true");
    const title = document.createElement("span");
    title.className = "cw-ce-panel-title";
    title.textContent = spec.title;
    const blurb = document.createElement("span");
    blurb.className = "cw-ce-panel-blurb";
    blurb.textContent = spec.blurb;
    toggle.append(chevron, title, blurb);
    heading.append(toggle);
    const body = document.createElement("div");
    body.className = "cw-ce-panel-body";
    body.id = `${prefix}-${uid++}`;
    toggle.setAttribute("aria-controls", body.id);
    element.append(heading, body);
    grid.append(element);
    toggle.addEventListener("click", () => {
      const collapsed = new Set(model.get("collapsed") ?? []);
      if (collapsed.has(spec.name)) collapsed.delete(spec.name);
      else collapsed.add(spec.name);
      model.set("collapsed", specs.map((p) => p.name).filter((n) => collapsed.has(n)));
      if (!model.get("_static")) model.save_changes();
    });
    return { spec, element, toggle, body, controller: null as AbortController | null, generation: 0 };
  });

  /** Draw the view a panel references (again, when the reference changes). */
  async function mount(panel: (typeof panels)[number]) {
    const mine = ++panel.generation;
    panel.controller?.abort();
    panel.controller = null;
    const id = modelIdOf(model.get(panel.spec.name));
    if (id === null) return;
    let child: AnyModel;
    try {
      child = await model.widget_manager.get_model(id);
    } catch (error) {
      panel.element.dataset.mounted = "error";
      panel.body.textContent = `This panel's view could not be found (${String(error)}).`;
      return;
    }
    if (mine !== panel.generation || signal.aborted) return;
    const controller = new AbortController();
    signal.addEventListener("abort", () => controller.abort());
    panel.controller = controller;
    const host_el = document.createElement("div");
    host_el.className = "cw-ce-view";
    panel.body.replaceChildren(host_el);
    await panel.spec.view.render({
      model: childModel(child, controller.signal),
      el: host_el,
      signal: controller.signal,
      host,
      experimental,
    });
    if (mine === panel.generation) panel.element.dataset.mounted = "true";
  }

  const drawCollapsed = () => {
    const collapsed = new Set(model.get("collapsed") ?? []);
    for (const p of panels) {
      const open = !collapsed.has(p.spec.name);
      p.toggle.setAttribute("aria-expanded", String(open));
      p.toggle.title = `${open ? "Hide" : "Show"} the ${p.spec.title.toLowerCase()} panel`;
      p.element.dataset.expanded = String(open);
      p.body.hidden = !open; // the views' heatmaps re-measure themselves (ResizeObserver)
    }
  };

  const drawMeta = () => {
    frame.setMeta([model.get("model_name"), `${model.get("n_layers")} layers × ${model.get("n_heads")} heads`]);
  };

  const layout = (width: number) => {
    const next = width >= TILE_WIDTH ? "tiles" : "stack";
    if (root.dataset.layout !== next) root.dataset.layout = next;
  };
  const observer = new ResizeObserver((entries) => {
    for (const entry of entries) layout(entry.contentRect.width);
  });
  observer.observe(root);
  signal.addEventListener("abort", () => observer.disconnect());
  layout(root.getBoundingClientRect().width);

  for (const p of panels) {
    watch(model, [p.spec.name], () => void mount(p), signal);
  }
  watch(model, ["collapsed"], drawCollapsed, signal);
  watch(model, ["model_name", "n_layers", "n_heads"], drawMeta, signal);

  drawMeta();
  drawCollapsed();
  void Promise.all(panels.map(mount)).then(() => {
    if (!signal.aborted) root.dataset.ready = "true";
  });
}

export default { render: withSignal(render) };
