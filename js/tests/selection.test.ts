import { describe, expect, it } from "vitest";
import { differing, modelIdOf, SELECTION_FIELDS } from "../src/kit/selection";

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
