import { describe, expect, it } from "vitest";
import { differing, modelIdOf, pairedHead, parsePair, SELECTION_FIELDS, withPairRule, type Pair } from "../src/kit/selection";

describe("selection references", () => {
  it("reads the model id out of a widget reference", () => {
    expect(modelIdOf("IPY_MODEL_abc123")).toBe("abc123");
    expect(modelIdOf("IPY_MODEL_")).toBeNull();
    expect(modelIdOf("abc123")).toBeNull();
    expect(modelIdOf(null)).toBeNull();
    expect(modelIdOf({ model_id: "x" })).toBeNull();
  });

  it("writes only the fields that change", () => {
    const now: Record<string, number | null> = { layer: 1, head: 2, query: null };
    const current = (f: string) => now[f] ?? null;
    expect(differing({ layer: 1, head: 3, query: null }, current)).toEqual({ head: 3 });
    expect(differing({ query: 4, key: null }, current)).toEqual({ query: 4 });
    expect(differing({ bogus: 1 } as never, current)).toEqual({});
  });

  it("lists the same fields as the Python Selection", () => {
    expect(SELECTION_FIELDS).toEqual(["layer", "head", "query", "key", "token", "lens_layer", "position"]);
  });
});

describe("a pair of heads in the selection", () => {
  const pair: Pair = { writer: { layer: 0, head: 1 }, reader: { layer: 1, head: 3 } };

  it("reads only four non-negative ints with the writer in an earlier layer", () => {
    expect(parsePair([0, 1, 1, 3])).toEqual(pair);
    for (const bad of [[], [0, 1, 1], [1, 0, 0, 1], [1, 0, 1, 1], [0, -1, 1, 0], [0, 0.5, 1, 0], "0 1 1 3", null, undefined]) {
      expect(parsePair(bad)).toBeNull();
    }
  });

  it("a pair selects its reading head; another head clears it; the reader keeps it", () => {
    const none = { layer: 0, head: 0, pair: null };
    expect(withPairRule({ pair: [0, 1, 1, 3] }, none)).toEqual({ pair: [0, 1, 1, 3], layer: 1, head: 3 });
    expect(withPairRule({ pair: [2, 0, 1, 0] }, none)).toEqual({ pair: [] }); // not a pair: cleared
    const held = { layer: 1, head: 3, pair };
    expect(withPairRule({ layer: 0, head: 1 }, held)).toEqual({ layer: 0, head: 1, pair: [] });
    expect(withPairRule({ head: 2 }, held)).toEqual({ head: 2, pair: [] });
    expect(withPairRule({ layer: 1, head: 3 }, held)).toEqual({ layer: 1, head: 3 });
    expect(withPairRule({ query: 4 }, held)).toEqual({ query: 4 });
    expect(withPairRule({ layer: 1, head: 3, pair: [] }, held)).toEqual({ layer: 1, head: 3, pair: [] });
  });

  it("a view marks the writer only when its model has both heads", () => {
    const sel = (p: Pair | null, layer = 1, head = 3) => ({ pair: () => p, get: (f: string) => (f === "layer" ? layer : f === "head" ? head : null) });
    expect(pairedHead(sel(pair), 2, 4)).toEqual({ layer: 0, head: 1 });
    expect(pairedHead(sel(pair, 1, 2), 2, 4)).toBeNull(); // its reader is not the selected head
    expect(pairedHead(sel(pair), 2, 3)).toBeNull(); // head 3 is beyond this model's heads
    expect(pairedHead(sel(pair), 1, 4)).toBeNull();
    expect(pairedHead(sel(null), 2, 4)).toBeNull();
  });
});
