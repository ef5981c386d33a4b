// @vitest-environment happy-dom
/**
 * CircuitExplorer against mock widget models: its four panels each draw their view (the same
 * `render` as alone), and a click in one view moves the selection the four share, so the
 * others show the same head.
 */
import { describe, expect, it } from "vitest";
import circuitExplorer from "../src/circuit_explorer";
import { MockModel, mount, settle, stubCanvas } from "./mock_model";
import { AE, attentionState, inductionState, lensState, ovState, pageHandler, patternHandler, query, spectra } from "./view_fixtures";

stubCanvas();

const listeners = (model: MockModel) => [...model.listeners.values()].reduce((n, set) => n + set.size, 0);

describe("CircuitExplorer", () => {
  function dashboard() {
    const selection = new MockModel({ layer: 0, head: 0, query: null, key: null, token: null, lens_layer: null, position: null });
    const ov: MockModel = new MockModel(ovState(), {
      spectrum: () => {
        for (const [k, v] of Object.entries(spectra())) ov.set(k, v);
        return {};
      },
      query,
    });
    const views = {
      attention: new MockModel(attentionState(), { pattern: patternHandler(AE.S) }),
      ov,
      lens: new MockModel(lensState(), { page: pageHandler, attribution: () => ({}) }),
      induction: new MockModel(inductionState(), { pattern: patternHandler(5) }),
    };
    const model = new MockModel({
      text: "a b", error: "", collapsed: [], panels: ["attention", "ov", "lens", "induction"], model_name: "tiny", n_layers: 2, n_heads: 2, _static: false,
      ...Object.fromEntries(Object.keys(views).map((name) => [name, `IPY_MODEL_${name}`])),
    });
    for (const [name, view] of Object.entries(views)) {
      model.others.set(name, view);
      view.others.set("sel", selection);
      view.traits.set("selection", "IPY_MODEL_sel");
    }
    return { model, views, selection };
  }

  it("draws its four panels, each with its view, and links a click in one to the others", async () => {
    const { model, views, selection } = dashboard();
    const { el, unmount } = await mount(circuitExplorer, model);
    await settle(6);
    const panels = [...el.querySelectorAll<HTMLElement>(".cw-ce-panel")];
    expect(panels.map((p) => [p.dataset.panel, p.dataset.mounted, p.dataset.expanded])).toEqual([
      ["attention", "true", "true"], ["ov", "true", "true"], ["lens", "true", "true"], ["induction", "true", "true"],
    ]);
    const roots = ["cw-attention-explorer", "cw-ov-browser", "cw-logit-lens", "cw-induction-scores"];
    panels.forEach((panel, i) => expect(panel.querySelector(`.${roots[i]}`)?.getAttribute("data-ready")).toBe("true"));
    expect(el.querySelector<HTMLElement>(".cw-circuit-explorer")!.dataset.ready).toBe("true");

    // a click on layer 1 head 0 in the copying map: every view shows that head
    const pressed = (panel: string) =>
      [...el.querySelectorAll(`[data-panel='${panel}'] .cw-head-grid-cell[aria-pressed='true']`)].map((c) => c.getAttribute("aria-label"));
    expect(pressed("ov")).toEqual(["layer 0 head 0"]);
    el.querySelector<HTMLElement>("[data-panel='ov'] .cw-ov-cell[aria-label='layer 1 head 0']")!.click();
    expect([selection.get("layer"), selection.get("head")]).toEqual([1, 0]);
    await settle(6);
    for (const panel of ["attention", "ov", "induction"]) expect(pressed(panel)).toEqual(["layer 1 head 0"]);
    const drawn = (selector: string) => {
      const head = el.querySelector<HTMLElement>(selector)!;
      return [head.dataset.layer, head.dataset.head];
    };
    expect(drawn(".cw-ae-head")).toEqual(["1", "0"]);
    expect(drawn(".cw-ov-spectrum")).toEqual(["1", "0"]);
    expect(drawn(".cw-is-head")).toEqual(["1", "0"]);
    expect(views.attention.sent.filter((m) => m.name === "pattern").at(-1)?.payload).toEqual({ layer: 1, head: 0, run: 4 });

    // collapsing a panel goes to the model (the kernel keeps it)
    el.querySelector<HTMLButtonElement>("[data-panel='lens'] .cw-ce-toggle")!.click();
    expect(model.get("collapsed")).toEqual(["lens"]);

    await unmount();
    for (const m of [model, selection, ...Object.values(views)]) expect(listeners(m)).toBe(0);
  });
});
