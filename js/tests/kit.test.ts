import { describe, expect, it } from "vitest";
import { maskedRgb, MASKED_MIX } from "../src/kit/color_scale";
import { decode, headValue } from "../src/kit/decode";
import { gridMove, gridMoveIndex } from "../src/kit/grid_keys";
import { cursorMove } from "../src/kit/heatmap";
import { createHoverLock } from "../src/kit/hover_lock";
import { selectedHead } from "../src/kit/selection";
import { wire } from "./mock_model";

const rgba = (r: number, g: number, b: number, a = 1) => ({ r, g, b, a });

describe("the grid keys (one contract for every head grid)", () => {
  it("moves a flat, row-major index as gridMove moves (layer, head)", () => {
    expect(gridMoveIndex("ArrowRight", 3, 2, 4)).toBe(3); // the row's last cell: stops
    expect(gridMoveIndex("ArrowRight", 2, 2, 4)).toBe(3);
    expect(gridMoveIndex("ArrowDown", 1, 2, 4)).toBe(5);
    expect(gridMoveIndex("Home", 6, 2, 4)).toBe(4); // the row's first
    expect(gridMoveIndex("End", 4, 2, 4)).toBe(7);
    expect(gridMoveIndex("Home", 6, 2, 4, true)).toBe(0); // Ctrl: the grid's first / last
    expect(gridMoveIndex("End", 1, 2, 4, true)).toBe(7);
    expect(gridMoveIndex("a", 1, 2, 4)).toBeNull();
    expect(gridMove("PageDown", { layer: 0, head: 0 }, 2, 4)).toBeNull();
  });
});

describe("maskedRgb", () => {
  it("is the one masked colour: MASKED_MIX of the way from background to opaque text", () => {
    const palette = { background: rgba(255, 255, 255), text: rgba(0, 0, 0, 0.87), textInverse: rgba(255, 255, 255), high: rgba(0, 0, 255), low: rgba(255, 0, 0) };
    const [r, g, b] = maskedRgb(palette);
    expect(MASKED_MIX).toBe(0.1);
    expect(r).toBe(g);
    expect(g).toBe(b);
    expect(r).toBeGreaterThan(200); // a faint grey on white, not black
    expect(r).toBeLessThan(250);
  });
});

describe("selectedHead", () => {
  const sel = (layer: number | null, head: number | null) => ({ get: (f: string) => (f === "layer" ? layer : f === "head" ? head : null) });
  it("is the selection's head when this model has it, else the fallback, else 0.0", () => {
    expect(selectedHead(sel(1, 2), 2, 4)).toEqual({ layer: 1, head: 2 });
    expect(selectedHead(sel(5, 2), 2, 4, { layer: 1, head: 1 })).toEqual({ layer: 1, head: 1 });
    expect(selectedHead(sel(1, 9), 2, 4)).toEqual({ layer: 0, head: 0 });
    expect(selectedHead(sel(null, null), 2, 4)).toEqual({ layer: 0, head: 0 });
  });
});

describe("headValue", () => {
  it("reads [layer, head] of a per-head array with its scale, NaN while missing", () => {
    const a = decode(wire("float32", [2, 3], [0, 1, 2, 3, 4, 5]));
    expect(headValue(a, 1, 2)).toBe(5);
    expect(headValue({ ...a, scale: 0.5 }, 1, 0)).toBe(1.5);
    expect(headValue(null, 0, 0)).toBeNaN();
  });
});

describe("createHoverLock", () => {
  it("shows the hovered item while there is one, else the locked one", () => {
    let locked: number | null = 3;
    const focus = createHoverLock<number>(() => locked);
    expect(focus.shown()).toBe(3);
    focus.hover(0); // 0 is an item, not "nothing"
    expect(focus.shown()).toBe(0);
    focus.hover(null);
    locked = null;
    expect(focus.shown()).toBeNull();
  });
});

describe("the heatmap's cursor keys", () => {
  it("moves by one cell within the plot; Home to the first key, End to the diagonal", () => {
    const at = { row: 2, col: 1 };
    expect(cursorMove("ArrowUp", at, 4)).toEqual({ row: 1, col: 1 });
    expect(cursorMove("ArrowDown", { row: 3, col: 1 }, 4)).toEqual({ row: 3, col: 1 });
    expect(cursorMove("ArrowLeft", { row: 2, col: 0 }, 4)).toEqual({ row: 2, col: 0 });
    expect(cursorMove("ArrowRight", at, 4)).toEqual({ row: 2, col: 2 });
    expect([cursorMove("Home", at, 4), cursorMove("End", at, 4)]).toEqual([{ row: 2, col: 0 }, { row: 2, col: 2 }]);
    expect(cursorMove("Enter", at, 4)).toBeUndefined();
  });
});
