import { describe, expect, it } from "vitest";
import {
  actionOf, clipToken, edgeWidth, initialCollapsed, largestContribution, layout, neighbour, rankValue, visible,
  type FlowEdge, type FlowNode, type Graph, type NodeKind,
} from "../src/flow_graph/state";
import { filterRows, formatDelta } from "../src/flow_graph/graph_panel";

let next = 0;
function node(id: string, kind: NodeKind, where: Partial<FlowNode> = {}): FlowNode {
  return {
    index: next++, id, kind, label: id, layer: null, head: null, source: null, neuron: null,
    contribution: NaN, prob: 0.1, rank: 3, entropy: 1, top: [{ id: 7, prob: 0.5 }], alwaysOn: false,
    norm: null, filter: null, ...where,
  };
}

/** One attention-and-MLP layer (layer 0) the way analysis.flow builds it. */
function oneLayer(): Graph {
  next = 0;
  const nodes = [
    node("embed", "embed", { contribution: 0.5 }),
    node("L0 resid_pre", "resid_pre", { layer: 0 }),
    node("L0H1@2", "memory", { layer: 0, head: 1, source: 2, contribution: 3 }),
    node("L0H1@0", "memory", { layer: 0, head: 1, source: 0, contribution: 0.1 }),
    node("L0H1", "head", { layer: 0, head: 1, contribution: 3.1 }),
    node("L0H2@1", "memory", { layer: 0, head: 2, source: 1, contribution: 0.2 }),
    node("L0H2", "head", { layer: 0, head: 2, contribution: 0.2 }),
    node("L0 attn", "attn_out", { layer: 0, contribution: 3.3 }),
    node("L0 resid_mid", "resid_mid", { layer: 0 }),
    node("L0N5", "neuron", { layer: 0, neuron: 5, contribution: -1 }),
    node("L0 MLP", "mlp_out", { layer: 0, contribution: -1.2 }),
    node("L0 resid_post", "resid_post", { layer: 0, rank: 1, prob: 0.9 }),
    node("output", "output", { contribution: 9, rank: 1 }),
  ];
  const at = new Map(nodes.map((n) => [n.id, n.index]));
  const e = (s: string, t: string, kind: FlowEdge["kind"], score: number): FlowEdge => ({
    source: at.get(s) as number, target: at.get(t) as number, kind, score, contribution: NaN,
  });
  const edges = [
    e("embed", "L0 resid_pre", "writes", 2),
    e("L0H1@2", "L0H1", "attention", 0.9), e("L0H1@0", "L0H1", "attention", 0.1), e("L0H1", "L0 attn", "writes", 4),
    e("L0H2@1", "L0H2", "attention", 0.5), e("L0H2", "L0 attn", "writes", 1),
    e("L0 attn", "L0 resid_mid", "writes", 4), e("L0 resid_pre", "L0 resid_mid", "writes", 2),
    e("L0 resid_mid", "L0N5", "coefficient", -2), e("L0N5", "L0 MLP", "writes", 1),
    e("L0 MLP", "L0 resid_post", "writes", 1), e("L0 resid_mid", "L0 resid_post", "writes", 3),
    e("L0 resid_post", "output", "writes", 3),
  ];
  return { nodes, edges, position: 4, target: 7, targetStr: " d", logit: 9, layers: [0, 1] };
}

/** oneLayer with its norms, as analysis.flow adds them: ln1 after the stream, ln2 after the
 * middle stream (the neurons read it), the final norm before the output. */
function withNorms(): Graph {
  const g = oneLayer();
  const filter = {
    raised: [{ id: 7, delta: 0.012 }], lowered: [{ id: 3, delta: -0.5 }],
    controlRaised: [{ id: 7, delta: 0.001 }], controlLowered: [{ id: 4, delta: -0.002 }], overlap: 1,
  };
  const norms = [
    node("L0 ln1", "ln", { layer: 0, norm: "ln1", filter }), node("L0 ln2", "ln", { layer: 0, norm: "ln2", filter }),
    node("ln_final", "ln", { norm: "ln_final", filter, rank: 1 }),
  ];
  const nodes = [...g.nodes, ...norms];
  const at = new Map(nodes.map((n) => [n.id, n.index]));
  const e = (s: string, t: string): FlowEdge => ({ source: at.get(s) as number, target: at.get(t) as number, kind: "norm", score: 1, contribution: NaN });
  const edges = g.edges.filter((x) => !(x.kind === "coefficient" || x.target === at.get("output")));
  edges.push(e("L0 resid_pre", "L0 ln1"), e("L0 resid_mid", "L0 ln2"), e("L0 resid_post", "ln_final"), e("ln_final", "output"));
  edges.push({ source: at.get("L0 ln2") as number, target: at.get("L0N5") as number, kind: "coefficient", score: -2, contribution: NaN });
  return { ...g, nodes, edges };
}

describe("norm nodes", () => {
  it("sit on the stream's row: ln1 before the heads, ln2 before the neurons, the final norm before the output", () => {
    const g = withNorms();
    const lay = layout(visible(g, 0, new Set()), g);
    const x = (id: string) => lay.at.get(id)?.x as number;
    const order = ["L0 resid_pre", "L0 ln1", "L0H1@2", "L0 resid_mid", "L0 ln2", "L0N5", "L0 resid_post", "ln_final", "output"];
    for (let i = 1; i < order.length; i++) expect(x(order[i] as string)).toBeGreaterThan(x(order[i - 1] as string));
    for (const id of ["L0 ln1", "L0 ln2", "ln_final"]) expect(lay.at.get(id)?.y).toBe(lay.spine);
  });

  it("stay at any threshold, and go inside their collapsed layer (the final norm stays)", () => {
    const g = withNorms();
    expect(visible(g, 1, new Set()).nodes.filter((n) => n.kind === "ln")).toHaveLength(3);
    const collapsed = visible(g, 0, new Set([0]));
    expect(collapsed.nodes.map((n) => n.id)).toEqual(["embed", "L0 resid_pre", "L0", "L0 resid_post", "output", "ln_final"]);
    expect(collapsed.edges.map((e) => `${e.source}>${e.target}`)).toContain("ln_final>output");
  });

  it("list what they raise and lower, and the control's, in their card", () => {
    const vocab = new Map([[7, " d"], [3, " the"]]);
    const rows = filterRows(withNorms().nodes.find((n) => n.id === "L0 ln1")?.filter as NonNullable<FlowNode["filter"]>, vocab);
    expect(rows).toEqual([
      ["raises", '" d" +1.20 pp'], ["lowers", '" the" −50.00 pp'], ["control raises", '" d" +0.10 pp'],
      ["control lowers", '"#4" −0.20 pp'], ["raised by the control too", "100%"],
    ]);
    expect(formatDelta(NaN)).toBe("—");
  });
});

describe("visible: the threshold and collapsed layers", () => {
  it("keeps every node and edge at threshold 0", () => {
    const g = oneLayer();
    const shown = visible(g, 0, new Set());
    expect(shown.nodes).toHaveLength(g.nodes.length);
    expect(shown.edges).toHaveLength(g.edges.length);
  });

  it("hides writers under the share of the largest contribution, and their edges", () => {
    const g = oneLayer();
    expect(largestContribution(g)).toBe(3.3); // attn_out; the output's is the logit, a stream's
    const shown = visible(g, 0.2, new Set()); // cut 0.66: L0H1@0, L0H2 (and its value) go
    const ids = shown.nodes.map((n) => n.id);
    expect(ids).not.toContain("L0H1@0");
    expect(ids).not.toContain("L0H2");
    expect(ids).not.toContain("L0H2@1"); // a memory value goes with its head
    expect(ids).toContain("L0N5"); // |-1| passes
    expect(ids).toContain("L0 MLP"); // structure stays whatever its contribution
    expect(shown.edges.every((e) => ids.includes(e.source) && ids.includes(e.target))).toBe(true);
    expect(shown.edges).toHaveLength(g.edges.length - 3); // into L0H1, into and out of L0H2
    expect(visible(g, 1, new Set()).nodes.map((n) => n.kind)).not.toContain("head");
  });

  it("collapses a layer to one node with the edges around it merged", () => {
    const g = oneLayer();
    const shown = visible(g, 0, new Set([0]));
    expect(shown.nodes.map((n) => n.id)).toEqual(["embed", "L0 resid_pre", "L0", "L0 resid_post", "output"]);
    const layer = shown.nodes[2] as FlowNode;
    expect(layer.kind).toBe("layer");
    expect(layer.contribution).toBeCloseTo(3.3 - 1.2);
    expect(layer.rank).toBe(1); // the stream after it
    const pairs = shown.edges.map((e) => `${e.source}>${e.target}`).sort();
    expect(pairs).toEqual(["L0 resid_post>output", "L0 resid_pre>L0", "L0>L0 resid_post", "embed>L0 resid_pre"]);
    expect(shown.edges.find((e) => e.source === "L0")?.score).toBe(3); // the widest merged edge
  });

  it("collapses every layer of a big graph at first", () => {
    expect([...initialCollapsed([2, 20], 12)]).toHaveLength(18);
    expect(initialCollapsed([0, 12], 12).size).toBe(0);
  });
});

describe("layout", () => {
  it("puts layers left to right and the streams on one row", () => {
    const g = oneLayer();
    const lay = layout(visible(g, 0, new Set()), g);
    const x = (id: string) => lay.at.get(id)?.x as number;
    const y = (id: string) => lay.at.get(id)?.y as number;
    const order = ["embed", "L0 resid_pre", "L0H1@2", "L0H1", "L0 attn", "L0 resid_mid", "L0N5", "L0 MLP", "L0 resid_post", "output"];
    for (let i = 1; i < order.length; i++) expect(x(order[i] as string)).toBeGreaterThan(x(order[i - 1] as string));
    for (const id of ["embed", "L0 resid_pre", "L0 attn", "L0 resid_mid", "L0 MLP", "L0 resid_post", "output"]) expect(y(id)).toBe(lay.spine);
    expect(y("L0H1@0")).toBeLessThan(y("L0H1@2")); // memory values by head, then source
    expect(y("L0H1@2")).toBeLessThan(y("L0H2@1"));
    expect(x("L0H1@0")).toBe(x("L0H2@1")); // one column of memory values
    expect(lay.layers).toEqual([{ layer: 0, left: x("L0H1@2") - 52, right: x("L0 resid_post") + 52 }]);
    for (const p of lay.at.values()) {
      expect(p.x).toBeGreaterThan(0);
      expect(p.x).toBeLessThan(lay.width);
      expect(p.y).toBeGreaterThan(0);
      expect(p.y).toBeLessThan(lay.height);
    }
  });

  it("drops empty columns (a collapsed layer takes one)", () => {
    const g = oneLayer();
    expect(layout(visible(g, 0, new Set([0])), g).columns).toHaveLength(5);
  });

  it("moves the focus with the arrow keys", () => {
    const g = oneLayer();
    const lay = layout(visible(g, 0, new Set()), g);
    expect(neighbour(lay, "L0H1@0", "ArrowDown")).toBe("L0H1@2");
    expect(neighbour(lay, "L0H1@0", "ArrowUp")).toBe("L0H1@0"); // stops at the end
    expect(neighbour(lay, "L0 resid_pre", "ArrowRight")).toBe("L0H1@2"); // the nearest row
    expect(neighbour(lay, "L0H1", "ArrowLeft")).toBe("L0H1@0"); // a tie goes to the upper node
    expect(neighbour(lay, "L0 resid_mid", "ArrowLeft")).toBe("L0 attn");
    expect(neighbour(lay, "L0H1", "End")).toBe("output");
    expect(neighbour(lay, "L0H1", "Home")).toBe("embed");
    expect(neighbour(lay, "L0H1", "x")).toBeNull();
  });
});

describe("what a node looks like and does", () => {
  it("widens edges by score within their kind", () => {
    expect(edgeWidth(2, 4)).toBe(3.5);
    expect(edgeWidth(-4, 4)).toBe(6);
    expect(edgeWidth(1, 0)).toBe(1);
  });

  it("clips long token text", () => {
    expect(clipToken(" the")).toBe('" the"');
    expect(clipToken("<|endoftext|>")).toBe('"<|endof…"');
    expect(clipToken("<|endoftext|>")).toHaveLength(10);
  });

  it("colours by the target's rank on a log scale", () => {
    expect(rankValue(1, 1000)).toBe(1);
    expect(rankValue(1000, 1000)).toBe(0);
    expect(rankValue(10, 1000)).toBeCloseTo(2 / 3);
    expect(rankValue(NaN, 1000)).toBeNaN();
  });

  it("selects a head, locks a memory value's key, expands a layer", () => {
    const g = oneLayer();
    const byId = (id: string) => g.nodes.find((n) => n.id === id) as FlowNode;
    expect(actionOf(byId("L0H1"), 4)).toEqual({ kind: "head", layer: 0, head: 1 });
    expect(actionOf(byId("L0H1@2"), 4)).toEqual({ kind: "memory", layer: 0, head: 1, query: 4, key: 2 });
    expect(actionOf(byId("L0N5"), 4)).toBeNull();
    const shown = visible(g, 0, new Set([0]));
    expect(actionOf(shown.nodes[2] as FlowNode, 4)).toEqual({ kind: "expand", layer: 0 });
  });
});
