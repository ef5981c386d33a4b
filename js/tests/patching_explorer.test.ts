import { describe, expect, it } from "vitest";
import {
  canvasCellAt, cellName, colourLimit, formatValue, gridLayout, largestGap, MAX_BUTTON_CELLS, metricText, progressText,
  scatterPoints, selectedCell, selectionFor, showsNumbers, usesCanvas, type GridName,
} from "../src/patching_explorer/state";

const tokens = ["<bos>", "a", " b", " c", " d"];

describe("patching explorer state (what the view derives)", () => {
  it("lays out each grid as rows x columns", () => {
    expect(gridLayout("heads", [2, 4], tokens)).toEqual({
      rows: 2, cols: 4, rowLabels: ["0", "1"], colLabels: ["0", "1", "2", "3"], byPosition: false,
    });
    expect(gridLayout("resid_pre", [3, 5], tokens)).toMatchObject({ rows: 3, cols: 5, colLabels: tokens, byPosition: true });
    const byPos = gridLayout("heads_by_pos", [2, 3, 5], tokens);
    expect(byPos.rows).toBe(6);
    expect(byPos.rowLabels).toEqual(["0.0", "0.1", "0.2", "1.0", "1.1", "1.2"]);
    expect(byPos.cols).toBe(5);
  });
  it("draws GPT-2 small's heads by position (9,216 cells) on a canvas, small grids as buttons", () => {
    const gpt2 = gridLayout("heads_by_pos", [12, 12, 64], Array(64).fill("x"));
    expect(gpt2.rows * gpt2.cols).toBe(9216);
    expect(usesCanvas(gpt2)).toBe(true);
    expect(usesCanvas(gridLayout("heads", [12, 12], tokens))).toBe(false); // 144 buttons
    expect(usesCanvas(gridLayout("heads_by_pos", [2, 4, 8], tokens))).toBe(false);
    const numbered = gridLayout("resid_pre", [40, 16], tokens); // 640 cells, with their numbers
    expect(numbered.rows * numbered.cols).toBeGreaterThan(MAX_BUTTON_CELLS);
    expect(showsNumbers(numbered) && !usesCanvas(numbered)).toBe(true);
  });
  it("finds the canvas cell under a point, and none outside", () => {
    expect(canvasCellAt(0, 0, 14, 11, 144, 64)).toEqual({ row: 0, col: 0 });
    expect(canvasCellAt(14 * 63 + 13.9, 11 * 143 + 10.9, 14, 11, 144, 64)).toEqual({ row: 143, col: 63 });
    expect(canvasCellAt(14 * 5, 11 * 7 - 0.1, 14, 11, 144, 64)).toEqual({ row: 6, col: 5 });
    expect(canvasCellAt(14 * 64, 0, 14, 11, 144, 64)).toBeNull();
    expect(canvasCellAt(-1, 5, 14, 11, 144, 64)).toBeNull();
  });
  it("names cells as a person reads them", () => {
    expect(cellName("heads", 1, 3, 4)).toBe("layer 1 head 3");
    expect(cellName("heads_by_pos", 5, 2, 4)).toBe("layer 1 head 1 position 2");
    expect(cellName("mlp_out", 0, 4, 4)).toBe("layer 0 position 4");
  });
  it("selects a head, or a lens readout and position, and marks the selected cell back", () => {
    const layout = (g: GridName) => gridLayout(g, g === "heads" ? [2, 4] : g === "heads_by_pos" ? [2, 4, 5] : [2, 5], tokens);
    expect(selectionFor("heads", 1, 3, 4)).toEqual({ layer: 1, head: 3 });
    expect(selectionFor("heads_by_pos", 6, 2, 4)).toEqual({ layer: 1, head: 2, position: 2 });
    expect(selectionFor("resid_pre", 1, 4, 4)).toEqual({ lens_layer: 1, position: 4 });
    expect(selectionFor("attn_out", 1, 4, 4)).toEqual({ lens_layer: 2, position: 4 }); // the readout after layer 1
    for (const g of ["heads", "heads_by_pos", "resid_pre", "attn_out", "mlp_out"] as GridName[]) {
      const l = layout(g);
      for (let row = 0; row < l.rows; row++) {
        for (let col = 0; col < l.cols; col++) {
          const picked = selectionFor(g, row, col, 4);
          const sel = { layer: null, head: null, lens_layer: null, position: null, ...picked };
          expect(selectedCell(g, sel, l, 4)).toEqual({ row, col });
        }
      }
    }
    const none = { layer: null, head: null, lens_layer: null, position: null };
    expect(selectedCell("heads", none, layout("heads"), 4)).toBeNull();
    expect(selectedCell("heads", { ...none, layer: 5, head: 0 }, layout("heads"), 4)).toBeNull(); // another model's head
    expect(selectedCell("attn_out", { ...none, lens_layer: 0, position: 1 }, layout("attn_out"), 4)).toBeNull(); // embeddings
  });
  it("colours up to the largest |value|, at least clean = 1, ignoring NaN", () => {
    expect(colourLimit([0.2, -0.5, NaN])).toBe(1);
    expect(colourLimit([0.2, -1.7], null, [1.2])).toBe(1.7);
  });
  it("plots only cells with both values, and measures the largest gap", () => {
    const points = scatterPoints([0.1, 0.5, NaN, 1], [0.2, NaN, 0.3, 0.4]);
    expect(points).toEqual([{ index: 0, x: 0.1, y: 0.2 }, { index: 3, x: 1, y: 0.4 }]);
    expect(largestGap(points)).toBeCloseTo(0.6);
    expect(largestGap([])).toBe(0);
  });
  it("says what the metric measures and how far the exact grid is", () => {
    expect(metricText("logit_diff", " d", " e", 7)).toBe('logit " d" − logit " e" at position 7');
    expect(metricText("prob", "<b>", "", 3)).toBe('probability of "<b>" at position 3');
    expect(metricText("kl", "x", "", 1)).toContain("KL");
    expect(progressText("heads", 48, 144)).toBe("Exact heads grid: 48 of 144 cells");
    expect(progressText("resid_pre", 0, 0)).toContain("starting");
    expect(formatValue(6.515359)).toBe("6.515");
    expect(formatValue(NaN)).toBe("—");
  });
  it("prints numbers only in cells big enough for them", () => {
    expect(showsNumbers(gridLayout("heads", [12, 12], tokens))).toBe(true);
    expect(showsNumbers(gridLayout("heads_by_pos", [12, 12, 64], tokens))).toBe(false);
  });
});
