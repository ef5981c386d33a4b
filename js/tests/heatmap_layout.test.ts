import { describe, expect, it } from "vitest";
import {
  bracketRun, segmentsPath,
  cellAt, clampView, fullView, MIN_SPAN, niceStep, panView, rasterize, revealCell, thinLabels, toLevels,
  truncateLabel, upsample, visibleCells, zoomView,
} from "../src/kit/heatmap_layout";

/** A LUT whose red channel is the level itself (so the image shows which level was picked). */
const identityLut = new Uint8ClampedArray(1024).map((_, i) => (i % 4 === 3 ? 255 : Math.floor(i / 4)));
const MASK = [1, 2, 3] as const;

describe("label thinning", () => {
  it("labels every cell when they fit, and nice multiples when they do not", () => {
    expect(thinLabels(0, 5, 20, 14)).toEqual([0, 1, 2, 3, 4]);
    expect(thinLabels(0, 20, 5, 14)).toEqual([0, 5, 10, 15]); // needs 2.8 cells -> step 5
    expect(thinLabels(3, 12, 5, 14)).toEqual([5, 10]); // stays on multiples while panning
    expect(thinLabels(0, 1024, 0.5, 14)).toEqual(Array.from({ length: 21 }, (_, i) => i * 50));
    expect(thinLabels(0, 0, 10, 14)).toEqual([]);
  });

  it("picks the smallest nice step", () => {
    expect([0.3, 1, 1.2, 2, 3, 6, 11, 40, 51].map(niceStep)).toEqual([1, 1, 2, 2, 5, 10, 20, 50, 100]);
  });

  it("truncates long labels with an ellipsis", () => {
    expect(truncateLabel("short", 10)).toBe("short");
    expect(truncateLabel("a_really_long_token", 8)).toBe("a_reall…");
    expect(truncateLabel("😀😀😀😀", 3)).toBe("😀😀…"); // whole characters, not UTF-16 halves
  });
});

describe("viewport", () => {
  it("zooms around an anchor and stays inside the matrix", () => {
    const n = 100;
    const z = zoomView(fullView(n), n, 4, 1, 1); // zoom into the bottom-right corner
    expect(z).toEqual({ span: 25, row0: 75, col0: 75 });
    expect(zoomView(z, n, 1000).span).toBe(MIN_SPAN);
    expect(zoomView(fullView(5), 5, 10).span).toBe(5); // tiny matrices never zoom past themselves
    expect(panView(z, n, 10, -100)).toEqual({ span: 25, row0: 75, col0: 0 });
    expect(clampView({ span: 500, row0: -3, col0: 9 }, n)).toEqual(fullView(n));
  });

  it("finds the cell under the pointer and reveals a cell by moving as little as possible", () => {
    const v = { span: 10, row0: 20, col0: 5 };
    expect(cellAt(v, 100, 200, 0, 0)).toEqual({ row: 20, col: 5 });
    expect(cellAt(v, 100, 200, 199, 39)).toEqual({ row: 21, col: 14 });
    expect(cellAt(v, 100, 200, 200, 10)).toBeNull();
    expect(revealCell(v, 100, 35, 6)).toEqual({ span: 10, row0: 26, col0: 5 });
    expect(revealCell(v, 100, 3, 6)).toEqual({ span: 10, row0: 3, col0: 5 });
    expect(visibleCells(2.5, 10, 100)).toEqual({ first: 2, count: 11 });
    expect(visibleCells(90, 10, 100)).toEqual({ first: 90, count: 10 });
  });
});

describe("rasterize", () => {
  it("paints one pixel per cell, masking the causal upper triangle", () => {
    const n = 3;
    const levels = Uint8Array.from([10, 0, 0, 20, 30, 0, 40, 50, 60]);
    const out = new Uint8ClampedArray(n * n * 4);
    rasterize(levels, n, { row0: 0, col0: 0, rows: 3, cols: 3 }, 3, 3, identityLut, out, true, MASK);
    const red = Array.from({ length: 9 }, (_, i) => out[i * 4]);
    expect(red).toEqual([10, 1, 1, 20, 30, 1, 40, 50, 60]); // masked cells take MASK's red (1)
  });

  it("shows the largest level of each block when zoomed out, so thin stripes survive", () => {
    const n = 8;
    const levels = new Uint8Array(n * n);
    for (let q = 1; q < n; q++) levels[q * n + q - 1] = 200; // a previous-token stripe
    const out = new Uint8ClampedArray(2 * 2 * 4);
    rasterize(levels, n, { row0: 0, col0: 0, rows: 8, cols: 8 }, 2, 2, identityLut, out, true, MASK);
    expect([out[0], out[4], out[8], out[12]]).toEqual([200, 1, 200, 200]);
  });

  it("paints a sub-region and refuses an image larger than it", () => {
    const n = 4;
    const levels = Uint8Array.from({ length: 16 }, (_, i) => i);
    const out = new Uint8ClampedArray(2 * 4);
    rasterize(levels, n, { row0: 2, col0: 1, rows: 1, cols: 2 }, 2, 1, identityLut, out, false, MASK);
    expect([out[0], out[4]]).toEqual([9, 10]);
    expect(() => rasterize(levels, n, { row0: 0, col0: 0, rows: 1, cols: 1 }, 2, 1, identityLut, out, false, MASK)).toThrow(
      RangeError,
    );
  });
});

describe("levels", () => {
  it("rounds weights to 0..255 and blows a preview up to full size", () => {
    expect(Array.from(toLevels([0, 0.5, 1, NaN, 1.2, -0.1]))).toEqual([0, 128, 255, 0, 255, 0]);
    expect(Array.from(toLevels([2], 0.5))).toEqual([255]);
    // a 2x2 preview of a 5x5 pattern: rows/cols 0-2 -> bin 0, 3-4 -> bin 1 (floor(i*2/5))
    const big = upsample(Uint8Array.from([1, 2, 3, 4]), 2, 5);
    expect(Array.from(big.subarray(0, 5))).toEqual([1, 1, 1, 2, 2]);
    expect(Array.from(big.subarray(20, 25))).toEqual([3, 3, 3, 4, 4]);
  });
});

describe("diagonal guides", () => {
  it("bracket a run through its cells' outer corners", () => {
    // the induction stripe of half = 5: query i -> key i - 4, rows 6..10 of an 11 x 11 matrix
    const run = { row: 6, col: 2, length: 5 };
    const [upper, lower] = bracketRun(fullView(11), 110, run); // 10 px per cell
    expect(upper).toEqual({ x1: 25, y1: 55, x2: 75, y2: 105 });
    expect(lower).toEqual({ x1: 15, y1: 65, x2: 65, y2: 115 });
    // y - x, in cells: (row - col) - 1 above the stripe, (row - col) + 1 below it
    expect((upper.y1 - upper.x1) / 10).toBe(3);
    expect((lower.y2 - lower.x2) / 10).toBe(5);
  });
  it("follow zoom and pan", () => {
    const [upper] = bracketRun({ row0: 4, col0: 1, span: 5 }, 100, { row: 6, col: 2, length: 1 }); // 20 px per cell
    expect(upper).toEqual({ x1: 30, y1: 30, x2: 50, y2: 50 });
  });
  it("become one SVG path", () => {
    expect(segmentsPath([{ x1: 1, y1: 2.345, x2: 3, y2: 4 }, { x1: 0, y1: 0, x2: 1, y2: 1 }])).toBe("M1 2.35L3 4M0 0L1 1");
    expect(segmentsPath([])).toBe("");
  });
});
