// @vitest-environment happy-dom
/** CompositionGraph rendered against a mock widget model: edges, pair and head clicks, the
 * threshold and the kind switch, the rotary note, no listener left behind. */
import { describe, expect, it } from "vitest";
import compositionGraph from "../src/composition_graph";
import { MockModel, mount, settle, stubCanvas, wire, withSelection } from "./mock_model";

stubCanvas();

// 2 layers x 2 heads: excess [3, 2, 2, 2, 2]; K: L0H1 -> L1H0 0.3, L0H0 -> L1H1 0.1; Q: L0H0 -> L1H0 0.2
const L = 2, H = 2;
const at = (k: number, l1: number, h1: number, l2: number, h2: number) => (((k * L + l1) * H + h1) * L + l2) * H + h2;
function excess(): number[] {
  const x = new Array(3 * 16).fill(0);
  x[at(1, 0, 1, 1, 0)] = 0.3;
  x[at(1, 0, 0, 1, 1)] = 0.1;
  x[at(0, 0, 0, 1, 0)] = 0.2;
  return x;
}
const state = (approximation = "") => ({
  kind: "K", threshold: 0.05, model_name: "tiny", n_layers: L, n_heads: H, max_edges: 300,
  excess: wire("float32", [3, L, H, L, H], excess()), baseline: 0.09, baseline_std: 0.003, draws: 128, approximation,
  error: "", _static: false,
});
const listeners = (model: MockModel) => [...model.listeners.values()].reduce((n, set) => n + set.size, 0);

describe("CompositionGraph", () => {
  it("draws the edges above the threshold, and a click on an edge selects the pair and the reading head", async () => {
    const model = new MockModel(state());
    const selection = withSelection(model);
    const { el, unmount } = await mount(compositionGraph, model);
    const root = el.querySelector<HTMLElement>(".cw-composition-graph")!;
    expect(root.dataset.edges).toBe("2");
    expect(el.querySelectorAll(".cw-cg-node")).toHaveLength(4);
    expect(el.querySelector<HTMLElement>(".cw-cg-approximation")!.hidden).toBe(true);
    expect(el.querySelector(".cw-cg-summary")!.textContent).toContain("0.090 ± 0.003 (128 pairs drawn)");
    const strongest = el.querySelector<SVGGElement>('g.cw-cg-edge[data-pair="0 1 1 0"]')!;
    strongest.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    await settle();
    expect(selection.get("pair")).toEqual([0, 1, 1, 0]); // both heads, in the shared selection
    expect([selection.get("layer"), selection.get("head")]).toEqual([1, 0]);
    expect(strongest.classList.contains("cw-cg-picked")).toBe(true);
    // a head outside the pair clears it
    el.querySelector<SVGGElement>('g.cw-cg-node[data-layer="0"][data-head="0"]')!.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    await settle();
    expect(selection.get("pair")).toEqual([]);
    expect([selection.get("layer"), selection.get("head")]).toEqual([0, 0]);
    // the threshold prunes; the kind switch to "all" adds the Q edge
    model.set("threshold", 0.15);
    await settle();
    expect(root.dataset.edges).toBe("1");
    el.querySelector<HTMLButtonElement>('.cw-cg-kinds button[data-value="all"]')!.click();
    await settle();
    expect(model.get("kind")).toBe("all");
    expect(root.dataset.edges).toBe("2");
    await unmount();
    expect(listeners(model)).toBe(0);
  });

  it("says when Q/K composition is an approximation (rotary models)", async () => {
    const model = new MockModel(state("rotary model: Q- and K-composition use the positionless W_Q W_Kᵀ"));
    withSelection(model);
    const { el, unmount } = await mount(compositionGraph, model);
    const note = el.querySelector<HTMLElement>(".cw-cg-approximation")!;
    expect(note.hidden).toBe(false);
    expect(note.textContent).toBe("Approximate: rotary model: Q- and K-composition use the positionless W_Q W_Kᵀ.");
    await unmount();
  });
});
