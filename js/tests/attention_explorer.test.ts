import { describe, expect, it } from "vitest";
import type { NDArray } from "../src/kit/decode";
import { formatProbability } from "../src/kit/format";
import {
  cellRows, formatScore, headStats, lockCellChange, lockText, positionIn, previewPattern, scoreRange, sortByScore, stripWeight, weightAt,
  type HeadPattern,
} from "../src/attention_explorer/state";
import type { Score } from "../src/attention_explorer/overview";

const array = (shape: number[], values: number[], scale = 1): NDArray =>
  ({ dtype: "float32", shape, data: Float32Array.from(values), scale });

/** A full 3-token pattern: row q holds what query q pays keys 0..q. */
const full: HeadPattern = {
  n: 3,
  levels: Uint8Array.from([255, 0, 0, 128, 128, 0, 51, 102, 102]),
  values: Float32Array.from([1, 0, 0, 0.5, 0.5, 0, 0.2, 0.4, 0.4]),
};

describe("attention explorer state (what the view derives)", () => {
  it("reads weights from a full pattern, a preview's levels, and masks keys after the query", () => {
    expect([weightAt(full, 2, 1), weightAt(full, 1, 0)]).toEqual([Math.fround(0.4), 0.5]);
    expect([weightAt(full, 0, 1), weightAt(full, 3, 0), weightAt(null, 0, 0)]).toEqual([NaN, NaN, NaN]);
    const preview = { ...full, values: null };
    expect(weightAt(preview, 1, 1)).toBeCloseTo(128 / 255);
    expect([stripWeight(full, "from", 2, 0), stripWeight(full, "to", 0, 2)]).toEqual([Math.fround(0.2), Math.fround(0.2)]);
  });
  it("previews a head from its thumbnail, upsampled to the text's length", () => {
    // 1 layer x 2 heads of 2x2 thumbnails; head 1's is [[10, 0], [20, 30]]
    const thumbs: NDArray = { dtype: "uint8", shape: [1, 2, 2, 2], data: Uint8Array.from([1, 2, 3, 4, 10, 0, 20, 30]), scale: 1 };
    const p = previewPattern(thumbs, 2, 0, 1, 4)!;
    expect([p.n, p.values]).toEqual([4, null]);
    expect(Array.from(p.levels.subarray(0, 4))).toEqual([10, 10, 0, 0]);
    expect(Array.from(p.levels.subarray(12, 16))).toEqual([20, 20, 30, 30]);
    expect(previewPattern(null, 2, 0, 1, 4)).toBeNull();
  });
  it("keeps a shared position only inside this text, and toggles a locked cell", () => {
    expect([positionIn(null, 3), positionIn(2, 3), positionIn(3, 3)]).toEqual([null, 2, null]);
    expect(lockCellChange(null, null, 2, 1)).toEqual({ query: 2, key: 1 });
    expect(lockCellChange(2, 1, 2, 1)).toEqual({ query: null, key: null });
    expect(lockCellChange(2, 0, 2, 1)).toEqual({ query: 2, key: 1 });
  });
  it("writes the stats, the lock line and a cell's hover rows", () => {
    const score = (key: string, label: string, values: number[]): Score =>
      ({ spec: { key, label, help: "", values: null as never }, values: array([1, 2], values) });
    const scores = [score("entropy", "entropy", [1.234, 2]), score("bos_share", "BOS", [0.5, NaN]), score("induction", "induction", [0.9, 0.1]), score("prev", "prev", [0.3, 0.7])];
    expect(headStats(scores, "induction", 0, 0)).toEqual(["entropy 1.23", "BOS 0.50", "induction 0.90"]);
    expect(headStats(scores, "prev", 0, 1)).toEqual(["entropy 2.00", "BOS —", "prev 0.70"]);
    expect(formatScore(array([1, 1], [NaN]), 0, 0)).toBe("—");
    const tokens = ["a", " b", "c"];
    expect(lockText(null, null, tokens)).toBe("Click a cell to lock its query; click it again to unlock.");
    expect(lockText(1, 0, tokens)).toBe('Locked: query 1 " b", key 0 "a" — click the cell again to unlock.');
    expect(lockText(null, 2, tokens)).toBe('Locked: key 2 "c" — click the cell again to unlock.');
    expect(cellRows(2, 1, 0.4)).toEqual([["query", "2"], ["key", "1"], ["weight", formatProbability(0.4)]]);
    expect(cellRows(0, 1, NaN)[2]).toEqual(["weight", "masked"]);
  });
});

describe("attention explorer overview state", () => {
  it("colours the chips over the finite range of a score, and sorts heads by it", () => {
    expect(scoreRange(array([1, 4], [0.5, NaN, -1, 2]), 4)).toEqual([-1, 2]);
    expect(scoreRange(array([1, 2], [3, 3]), 2)).toEqual([3, 4]);
    expect(scoreRange(array([1, 2], [1, 2], 0.5), 2)).toEqual([0.5, 1]);
    const heads = [{ s: 0.2 }, { s: 0.9 }, { s: 0.5 }];
    expect(sortByScore(heads, (h) => h.s, "induction").map((h) => h.s)).toEqual([0.9, 0.5, 0.2]);
    expect(sortByScore(heads, (h) => h.s, "entropy").map((h) => h.s)).toEqual([0.2, 0.5, 0.9]);
  });
});

describe("attention explorer pair panel state", () => {
  it("names both heads, masks what the causal mask hides, and keys the pair drawn", async () => {
    const { pairCaption, pairCellRows, pairKey } = await import("../src/attention_explorer/pair_state");
    const writer = { layer: 0, head: 1 }, reader = { layer: 1, head: 3 };
    expect(pairCaption(writer, reader)).toContain("L0H1 (left) writes");
    expect(pairCaption(writer, reader)).toContain("L1H3 (right, selected) reads");
    expect(pairCellRows(4, 2, writer, 0.5, reader, 0.25)).toEqual([
      ["query", "4"], ["key", "2"], ["L0H1 (writes)", formatProbability(0.5)], ["L1H3 (reads)", formatProbability(0.25)],
    ]);
    expect(pairCellRows(2, 4, writer, NaN, reader, NaN).slice(2).map((r) => r[1])).toEqual(["masked", "masked"]);
    expect(pairCellRows(4, 2, writer, NaN, reader, 0.1)[2]![1]).toBe("—"); // not arrived yet
    expect(pairKey(writer, reader)).toBe("0 1 1 3");
    expect(pairKey(null, reader)).toBe("");
  });
});
