import { describe, expect, it } from "vitest";
import {
  edgePath, excessLimit, matrixLevels, nearestStep, nodeMove, nodePosition, pairOf, pairValue, pruneEdges, summary,
  thresholdSteps,
} from "../src/composition_graph/state";

// 3 layers x 2 heads: excess [3 kinds, 3, 2, 3, 2], flat
const L = 3, H = 2;
const idx = (k: number, l1: number, h1: number, l2: number, h2: number) => (((k * L + l1) * H + h1) * L + l2) * H + h2;
function excessWith(values: Array<[number, number, number, number, number, number]>): Float32Array {
  const x = new Float32Array(3 * L * H * L * H);
  for (const [k, l1, h1, l2, h2, v] of values) x[idx(k, l1, h1, l2, h2)] = v;
  return x;
}

describe("composition graph state: pruning", () => {
  const x = excessWith([
    [1, 0, 0, 1, 1, 0.3], // K: L0H0 -> L1H1
    [1, 0, 1, 2, 0, 0.25], // exactly a float32
    [1, 1, 0, 2, 1, 0.3], // a tie with the first: index order keeps it second
    [0, 0, 0, 1, 0, 0.5], // Q
    [2, 1, 1, 2, 1, 0.2], // V
    [1, 1, 1, 1, 0, 0.9], // same layer: never an edge
    [1, 2, 0, 1, 0, 0.9], // later writer: never an edge
  ]);
  it("keeps pairs above the threshold, writer earlier, strongest first, ties in index order", () => {
    const { edges, total } = pruneEdges(x, L, H, "K", 0.05, 100);
    expect(total).toBe(3);
    expect(edges.map(pairOf)).toEqual([[0, 0, 1, 1], [1, 0, 2, 1], [0, 1, 2, 0]]);
    expect(edges[0]!.excess).toBeCloseTo(0.3, 6);
    expect(pruneEdges(x, L, H, "K", 0.25, 100).total).toBe(2); // strictly above: 0.25 itself is out
  });
  it("moving the threshold prunes, and `all` draws every kind, capped to the strongest", () => {
    expect([0, 0.15, 0.25, 0.35, 0.6].map((t) => pruneEdges(x, L, H, "all", t, 100).total)).toEqual([5, 5, 3, 1, 0]);
    const capped = pruneEdges(x, L, H, "all", 0, 2);
    expect(capped.total).toBe(5);
    expect(capped.edges.map((e) => e.kind)).toEqual(["Q", "K"]);
    // every scored pair (writer layer < reader layer): 2 x 2 + 2 x 2 + 2 x 2 = 12
    expect(pruneEdges(x, L, H, "V", -1, 100).total).toBe(12);
  });
  it("the matrix: rows read, columns write; unscored cells at the middle level", () => {
    const limit = excessLimit(x);
    expect(limit).toBeCloseTo(0.9, 6);
    const levels = matrixLevels(x, L, H, "K", limit);
    const n = L * H;
    expect(levels.length).toBe(n * n);
    expect(levels[3 * n + 0]).toBe(Math.round(((0.3 / 0.9 + 1) / 2) * 255)); // reader L1H1 row, writer L0H0 column
    expect(levels[2 * n + 3]).toBe(128); // same layer: 0
    expect(pairValue(x, L, H, "all", { layer: 0, head: 0 }, { layer: 1, head: 0 })).toBeCloseTo(0.5, 6);
  });
});

describe("composition graph state: slider, keys, geometry, text", () => {
  it("steps of 0.005 past the largest excess, coarser past 100 steps", () => {
    expect(thresholdSteps(0.012)).toEqual([0, 0.005, 0.01, 0.015]);
    const many = thresholdSteps(0.9);
    expect(many.length).toBeLessThanOrEqual(101);
    expect(many.at(-1)!).toBeGreaterThanOrEqual(0.9);
    expect(nearestStep([0, 0.005, 0.01], 0.0071)).toBe(1);
  });
  it("node keys: layers are columns, heads rows; stops at the edges", () => {
    const at = { layer: 1, head: 0 };
    expect(nodeMove("ArrowRight", at, L, H)).toEqual({ layer: 2, head: 0 });
    expect(nodeMove("ArrowUp", at, L, H)).toEqual({ layer: 1, head: 0 });
    expect(nodeMove("ArrowDown", at, L, H)).toEqual({ layer: 1, head: 1 });
    expect(nodeMove("End", at, L, H)).toEqual({ layer: 1, head: 1 });
    expect(nodeMove("End", at, L, H, true)).toEqual({ layer: 2, head: 1 });
    expect(nodeMove("Home", { layer: 2, head: 1 }, L, H, true)).toEqual({ layer: 0, head: 0 });
    expect(nodeMove("a", at, L, H)).toBeNull();
  });
  it("positions, paths, pairs and the summary line", () => {
    expect(nodePosition({ layer: 0, head: 0 }, L, H, 200, 100)).toEqual({ x: 40, y: 18 });
    expect(nodePosition({ layer: 2, head: 1 }, L, H, 200, 100)).toEqual({ x: 160, y: 82 });
    expect(edgePath({ x: 0, y: 0 }, { x: 10, y: 4 })).toBe("M0.0,0.0 C5.0,0.0 5.0,4.0 10.0,4.0");
    expect(summary(0.0886, 0.0028, 128, 4, 4, 0.01)).toBe(
      "Random heads of these shapes score 0.089 ± 0.003 (128 pairs drawn); edges show score − that baseline above 0.010: 4 edges.",
    );
    expect(summary(0.1, 0.01, 64, 300, 9504, 0)).toContain("the strongest 300 of 9504 edges");
  });
});
