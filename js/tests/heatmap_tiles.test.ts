import { describe, expect, it } from "vitest";
import { fullView } from "../src/kit/heatmap_layout";
import { boxView, layerLevel, paintLayers, tileCovers, tileFor, tileWeight, topLevel, type GridLayer } from "../src/kit/heatmap_tiles";

const grey = new Uint8ClampedArray(256 * 4).map((_, i) => (i % 4 === 3 ? 255 : Math.floor(i / 4)));

/** A 2 x 2 grid over the whole 16384-token matrix (levels 10, 20 / 30, 40). */
const base: GridLayer = { row0: 0, col0: 0, rows: 16384, cols: 16384, gridRows: 2, gridCols: 2, levels: Uint8Array.from([10, 20, 30, 40]) };

describe("heatmap layers", () => {
  it("reads a position's cell through the pooling bins", () => {
    expect(layerLevel(base, 0, 0)).toBe(10);
    expect(layerLevel(base, 8191, 8192)).toBe(20);
    expect(layerLevel(base, 16383, 0)).toBe(30);
    expect(layerLevel(base, 16384, 0)).toBe(-1);
    const tile: GridLayer = { row0: 100, col0: 50, rows: 4, cols: 2, gridRows: 4, gridCols: 2, levels: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) };
    expect(layerLevel(tile, 102, 51)).toBe(6);
    expect(layerLevel(tile, 99, 51)).toBe(-1);
    expect(topLevel([base, tile], 102, 51)).toBe(6); // the block on top wins
    expect(topLevel([base, tile], 9000, 51)).toBe(30);
    expect(topLevel([], 0, 0)).toBe(-1);
  });
  it("paints each pixel from the topmost layer, masking above the diagonal", () => {
    const out = new Uint8ClampedArray(4 * 4 * 4);
    paintLayers(fullView(16384), 16384, 4, 4, [base], grey, [1, 2, 3], true, out);
    const px = (x: number, y: number) => [...out.subarray((y * 4 + x) * 4, (y * 4 + x) * 4 + 3)];
    expect(px(0, 0)).toEqual([10, 10, 10]);
    expect(px(1, 0)).toEqual([1, 2, 3]); // key after query: masked
    expect(px(0, 3)).toEqual([30, 30, 30]);
    expect(px(3, 3)).toEqual([40, 40, 40]);
    const zoomed = { row0: 100, col0: 50, span: 4 };
    const tile: GridLayer = { row0: 100, col0: 50, rows: 4, cols: 4, gridRows: 4, gridCols: 4, levels: Uint8Array.from({ length: 16 }, (_, i) => 100 + i) };
    paintLayers(zoomed, 16384, 4, 4, [base, tile], grey, [1, 2, 3], true, out);
    expect(px(2, 1)).toEqual([106, 106, 106]);
    expect(() => paintLayers(zoomed, 16384, 4, 4, [base], grey, [0, 0, 0], true, new Uint8ClampedArray(3))).toThrow(RangeError);
  });
  it("asks for the view's block snapped outward, about one cell per pixel", () => {
    const whole = tileFor(fullView(16384), 16384, 512);
    expect(whole).toEqual({ rows: [0, 16384], cols: [0, 16384], side: 512 });
    const zoomed = tileFor({ row0: 1000.5, col0: 37, span: 300 }, 16384, 512);
    expect(zoomed.rows).toEqual([960, 1344]); // quantum 64
    expect(zoomed.cols).toEqual([0, 384]);
    expect(zoomed.side).toBe(384); // fewer cells than pixels: full resolution
    expect(tileCovers(zoomed, { row0: 1010, col0: 40, span: 300 }, 16384)).toBe(true);
    expect(tileCovers(zoomed, { row0: 1100, col0: 40, span: 300 }, 16384)).toBe(false);
    const mid = tileFor({ row0: 0, col0: 0, span: 4096 }, 16384, 512);
    expect(mid).toEqual({ rows: [0, 4096], cols: [0, 4096], side: 512 });
  });
  it("gives hover weights only from a full-resolution block", () => {
    const layer: GridLayer = { row0: 10, col0: 0, rows: 2, cols: 3, gridRows: 2, gridCols: 3, levels: new Uint8Array(6) };
    const full = { layer, values: Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) };
    expect(tileWeight(full, 11, 1)).toBeCloseTo(0.5);
    expect(tileWeight(full, 9, 1)).toBeNaN();
    expect(tileWeight({ layer, values: null }, 11, 1)).toBeNaN(); // pooled: never a hover value
    expect(tileWeight(null, 0, 0)).toBeNaN();
  });
  it("zooms to a dragged box", () => {
    expect(boxView(fullView(16384), 16384, 512, 256, 256, 320, 300)).toEqual({ row0: 8192, col0: 8192, span: 2048 });
    expect(boxView(fullView(16384), 16384, 512, 320, 300, 256, 256)).toEqual({ row0: 8192, col0: 8192, span: 2048 });
    expect(boxView({ row0: 0, col0: 0, span: 64 }, 16384, 512, 0, 0, 1, 1).span).toBe(8); // MIN_SPAN
  });
});
