import { describe, expect, it } from "vitest";
import { gridMove } from "../src/kit/head_grid";

describe("head grid keyboard", () => {
  const at = { layer: 1, head: 2 };
  it("moves one head or one layer and stops at the edges", () => {
    expect(gridMove("ArrowRight", at, 3, 4)).toEqual({ layer: 1, head: 3 });
    expect(gridMove("ArrowRight", { layer: 1, head: 3 }, 3, 4)).toEqual({ layer: 1, head: 3 });
    expect(gridMove("ArrowLeft", { layer: 0, head: 0 }, 3, 4)).toEqual({ layer: 0, head: 0 });
    expect(gridMove("ArrowDown", at, 3, 4)).toEqual({ layer: 2, head: 2 });
    expect(gridMove("ArrowDown", { layer: 2, head: 2 }, 3, 4)).toEqual({ layer: 2, head: 2 });
    expect(gridMove("ArrowUp", at, 3, 4)).toEqual({ layer: 0, head: 2 });
  });
  it("goes to the ends of the layer, or of the model with Ctrl", () => {
    expect(gridMove("Home", at, 3, 4)).toEqual({ layer: 1, head: 0 });
    expect(gridMove("End", at, 3, 4)).toEqual({ layer: 1, head: 3 });
    expect(gridMove("Home", at, 3, 4, true)).toEqual({ layer: 0, head: 0 });
    expect(gridMove("End", at, 3, 4, true)).toEqual({ layer: 2, head: 3 });
  });
  it("ignores other keys", () => {
    expect(gridMove("Enter", at, 3, 4)).toBeNull();
    expect(gridMove("a", at, 3, 4)).toBeNull();
  });
});
