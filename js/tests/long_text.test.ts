// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { longWeight, thumbnailLayer } from "../src/attention_explorer/long_text";
import { weightAt, type HeadPattern } from "../src/attention_explorer/state";
import type { NDArray } from "../src/kit/decode";
import type { GridLayer } from "../src/kit/heatmap_tiles";
import { tileOf } from "../src/kit/pattern_tiles";
import { createProgress } from "../src/kit/progress";
import { createTokenStrip } from "../src/kit/token_strip";
import { VIRTUAL_FROM } from "../src/kit/token_window";

const layer: GridLayer = { row0: 100, col0: 0, rows: 2, cols: 200, gridRows: 2, gridCols: 200, levels: new Uint8Array(400) };

describe("a long text's weights", () => {
  it("come from the full-resolution block, else the row, else the column, never a pooled block", () => {
    const values = Float32Array.from({ length: 400 }, (_, i) => i / 1000);
    const full = { layer, values };
    const pooled = { layer, values: null };
    const row = Float32Array.from({ length: 300 }, () => 0.25);
    const column = Float32Array.from({ length: 300 }, () => 0.75);
    expect(longWeight(full, row, column, 101, 3)).toEqual({ weight: values[203], source: "block" });
    expect(longWeight(pooled, row, column, 101, 3)).toEqual({ weight: 0.25, source: "row" });
    expect(longWeight(pooled, null, column, 101, 3)).toEqual({ weight: 0.75, source: "column" });
    expect(longWeight(pooled, null, null, 101, 3).weight).toBeNaN(); // not the pooled maximum
    expect(longWeight(full, row, column, 5, 9)).toEqual({ weight: NaN, source: "" }); // masked
  });
  it("are what weightAt reads from a pattern with a lookup", () => {
    const pattern: HeadPattern = { n: 300, levels: new Uint8Array(0), values: null, lookup: () => ({ weight: 0.5, source: "row" }) };
    expect(weightAt(pattern, 10, 3)).toBe(0.5);
    expect(weightAt(pattern, 3, 10)).toBeNaN();
  });
  it("draw the head's thumbnail over every position", () => {
    const thumbs: NDArray = { dtype: "uint8", shape: [1, 2, 2, 2], data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), scale: 1 / 255 };
    const base = thumbnailLayer(thumbs, 2, 0, 1, 16384);
    expect([...base.levels]).toEqual([5, 6, 7, 8]);
    expect(base).toMatchObject({ row0: 0, col0: 0, rows: 16384, cols: 16384, gridRows: 2, gridCols: 2 });
  });
  it("turn a block answer into a layer, keeping weights only when unpooled", () => {
    const block: NDArray = { dtype: "float32", shape: [2, 2], data: Float32Array.from([0, 0.5, 1, 0.25]), scale: 1 };
    const full = tileOf({ run: 1, rows: [10, 12], cols: [4, 6], pooled: false, block });
    expect(full.layer).toMatchObject({ row0: 10, col0: 4, rows: 2, cols: 2, gridRows: 2, gridCols: 2 });
    expect([...full.layer.levels]).toEqual([0, 128, 255, 64]);
    expect(full.values).not.toBeNull();
    expect(tileOf({ run: 1, rows: [0, 400], cols: [0, 400], pooled: true, block }).values).toBeNull();
  });
});

describe("the progress line", () => {
  it("shows a bar only with a fraction", () => {
    const p = createProgress(document.body, "x");
    p.show("Running the model: layer 1 of 4 done", 0.25);
    const bar = p.element.querySelector<HTMLElement>(".cw-progress-bar")!;
    expect(bar.hidden).toBe(false);
    expect(bar.getAttribute("aria-valuenow")).toBe("25");
    expect(p.element.textContent).toBe("Running the model: layer 1 of 4 done");
    p.show("Patching…");
    expect(bar.hidden).toBe(true);
    p.show("");
    expect(p.element.hidden).toBe(true);
  });
});

describe("a long token strip", () => {
  it("holds elements only for the chunks in sight and keeps the keys working", { timeout: 30_000 }, () => {
    const strip = createTokenStrip(document.body, { label: "tokens" });
    const n = 4 * VIRTUAL_FROM;
    const tokens = Array.from({ length: n }, (_, i) => ` t${i}`);
    strip.setTokens(tokens);
    expect(strip.length).toBe(n);
    expect(strip.element.classList.contains("cw-token-strip-long")).toBe(true);
    expect(strip.element.getAttribute("aria-label")).toContain(`${n} tokens`);
    const drawn = strip.element.querySelectorAll(".cw-token").length;
    expect(drawn).toBeGreaterThan(0);
    expect(drawn).toBeLessThan(2000);
    expect(strip.element.querySelector(".cw-minimap")?.getAttribute("role")).toBe("scrollbar");
    strip.element.dispatchEvent(new KeyboardEvent("keydown", { key: "End" }));
    expect(strip.tokenAt(n - 1)?.classList.contains("cw-token-active")).toBe(true);
    expect(strip.element.querySelectorAll(".cw-token").length).toBeLessThan(2000);
    expect(strip.reveal(2000)?.dataset.index).toBe("2000");
    const selected: number[] = [];
    const picking = createTokenStrip(document.body, { onSelect: (i) => selected.push(i) });
    picking.setTokens(tokens);
    picking.element.dispatchEvent(new KeyboardEvent("keydown", { key: "End" }));
    picking.element.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    expect(selected).toEqual([n - 1]); // Enter selects the inspected token, as on a short strip
    const short = createTokenStrip(document.body);
    short.setTokens(tokens.slice(0, VIRTUAL_FROM));
    expect(short.element.querySelectorAll(".cw-token").length).toBe(VIRTUAL_FROM); // a short strip: all of them
  });
});
