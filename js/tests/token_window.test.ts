import { describe, expect, it } from "vitest";
import {
  CHUNK, chunkAt, chunkCount, chunkLayout, chunkOf, chunksInView, chunkTokens, minimapWindow, scrollForFraction, tokenFraction,
} from "../src/kit/token_window";

describe("token window", () => {
  it("cuts tokens into chunks", () => {
    expect(chunkCount(16384)).toBe(16384 / CHUNK);
    expect(chunkCount(1025, 256)).toBe(5);
    expect(chunkOf(255, 256)).toBe(0);
    expect(chunkOf(256, 256)).toBe(1);
    expect(chunkTokens(4, 1025, 256)).toEqual([1024, 1025]);
  });
  it("stacks chunk heights and finds the chunk at a height", () => {
    const offsets = chunkLayout([100, 50, 200, 10]);
    expect([...offsets]).toEqual([0, 100, 150, 350, 360]);
    expect(chunkAt(offsets, 0)).toBe(0);
    expect(chunkAt(offsets, 99.9)).toBe(0);
    expect(chunkAt(offsets, 100)).toBe(1);
    expect(chunkAt(offsets, 349)).toBe(2);
    expect(chunkAt(offsets, 1e9)).toBe(3);
    expect(chunkAt(offsets, -5)).toBe(0);
  });
  it("renders the chunks in sight plus the overscan, clamped", () => {
    const offsets = chunkLayout(Array(64).fill(100));
    expect(chunksInView(offsets, 0, 250, 1)).toEqual([0, 3]);
    expect(chunksInView(offsets, 1050, 200, 1)).toEqual([9, 13]);
    expect(chunksInView(offsets, 6300, 200, 1)).toEqual([62, 63]);
    expect(chunksInView(chunkLayout([]), 0, 100)).toEqual([0, -1]);
  });
  it("maps the scroll position to the minimap's window and back", () => {
    expect(minimapWindow(0, 200, 2000)).toEqual([0, 0.1]);
    expect(minimapWindow(1800, 200, 2000)).toEqual([0.9, 0.1]);
    const [top, height] = minimapWindow(0, 10, 100000);
    expect(top).toBe(0);
    expect(height).toBe(0.02); // never thinner than grabbable
    expect(minimapWindow(0, 100, 0)).toEqual([0, 1]);
    expect(scrollForFraction(0.5, 200, 2000)).toBe(900);
    expect(scrollForFraction(0, 200, 2000)).toBe(0);
    expect(scrollForFraction(1, 200, 2000)).toBe(1800);
    expect(scrollForFraction(2, 200, 2000)).toBe(1800);
  });
  it("places a token on the minimap by its chunk and its share of it", () => {
    const offsets = chunkLayout([100, 300]);
    expect(tokenFraction(offsets, 0, 512, 256)).toBe(0);
    expect(tokenFraction(offsets, 256, 512, 256)).toBe(0.25);
    expect(tokenFraction(offsets, 384, 512, 256)).toBeCloseTo(0.625);
    expect(tokenFraction(offsets, 9999, 512, 256)).toBeLessThan(1);
  });
});
