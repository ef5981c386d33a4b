import { describe, expect, it } from "vitest";
import { composite, contrast, fromOklab, mix, parseColor, readableOn, toCss, toOklab, type RGBA } from "../src/kit/color";
import { diverging, sequential, type Palette } from "../src/kit/color_scale";

const rgb = (r: number, g: number, b: number, a = 1): RGBA => ({ r, g, b, a });
const WHITE = rgb(255, 255, 255);
const BLACK = rgb(0, 0, 0);

describe("parseColor", () => {
  it("reads hex and rgb()/rgba() in every spelling JupyterLab themes use", () => {
    expect(parseColor("#fff")).toEqual(WHITE);
    expect(parseColor(" #2F6FDE ")).toEqual(rgb(47, 111, 222));
    expect(parseColor("#00000080")).toEqual(rgb(0, 0, 0, 128 / 255));
    expect(parseColor("rgba(0, 0, 0, 0.87)")).toEqual(rgb(0, 0, 0, 0.87));
    expect(parseColor("rgb(255 255 255 / 70%)")).toEqual(rgb(255, 255, 255, 0.7));
    expect(parseColor("rgb(100%, 0%, 50%)")).toEqual(rgb(255, 0, 127.5));
  });
  it("returns null for what it cannot read", () => {
    for (const s of ["white", "", "#12", "rgb(1,2)", "hsl(0 0% 0%)", "rgb(a, b, c)"]) expect(parseColor(s), s).toBeNull();
  });
});

describe("colour arithmetic", () => {
  it("round-trips through OKLab", () => {
    for (const c of [WHITE, BLACK, rgb(47, 111, 222), rgb(217, 69, 58)]) {
      const back = fromOklab(toOklab(c));
      expect(back.r).toBeCloseTo(c.r, 3);
      expect(back.g).toBeCloseTo(c.g, 3);
      expect(back.b).toBeCloseTo(c.b, 3);
    }
  });
  it("mixes from one end to the other, clamping t", () => {
    const blue = rgb(47, 111, 222);
    expect(toCss(mix(WHITE, blue, 0))).toBe("rgb(255 255 255)");
    expect(toCss(mix(WHITE, blue, 1))).toBe("rgb(47 111 222)");
    expect(toCss(mix(WHITE, blue, 7))).toBe("rgb(47 111 222)");
    const mid = mix(BLACK, WHITE, 0.5); // OKLab midpoint of black and white is a mid grey
    expect(mid.r).toBeCloseTo(mid.g, 3);
    expect(mid.r).toBeGreaterThan(80);
    expect(mid.r).toBeLessThan(140);
  });
  it("measures WCAG contrast and picks the readable text colour", () => {
    expect(contrast(BLACK, WHITE)).toBeCloseTo(21, 6);
    expect(contrast(WHITE, WHITE)).toBe(1);
    expect(readableOn(rgb(20, 40, 120), [rgb(0, 0, 0, 0.87), WHITE])).toEqual(WHITE);
    expect(readableOn(rgb(230, 240, 255), [rgb(0, 0, 0, 0.87), WHITE])).toEqual(rgb(0, 0, 0, 0.87));
    expect(composite(rgb(0, 0, 0, 0.5), WHITE)).toEqual(rgb(127.5, 127.5, 127.5));
  });
});

const LIGHT: Palette = {
  background: WHITE, text: rgb(0, 0, 0, 0.87), textInverse: WHITE, high: rgb(47, 111, 222), low: rgb(217, 69, 58),
};
const DARK: Palette = {
  background: rgb(17, 17, 17), text: rgb(255, 255, 255, 0.87), textInverse: BLACK, high: rgb(91, 156, 245), low: rgb(240, 122, 110),
};

describe("colour scales", () => {
  it("sequential: background at the low end, the accent at the high end, null for NaN", () => {
    const s = sequential(LIGHT);
    expect(s(0)?.background).toBe("rgb(255 255 255)");
    expect(s(1)?.background).toBe("rgb(47 111 222)");
    expect(s(-3)).toBe(s(0));
    expect(s(3)).toBe(s(1));
    expect(s(NaN)).toBeNull();
    expect(s.lut.length).toBe(256 * 4);
    expect(Array.from(s.lut.slice(1020))).toEqual([47, 111, 222, 255]);
    expect(s.stops(3)).toHaveLength(3);
  });
  it("keeps text readable at every level on light and dark themes", () => {
    for (const palette of [LIGHT, DARK]) {
      const s = sequential(palette);
      for (let v = 0; v <= 1; v += 0.05) {
        const sw = s(v)!;
        const text = parseColor(sw.color)!;
        expect(contrast(composite(text, sw.fill), sw.fill)).toBeGreaterThan(4.5);
      }
    }
  });
  it("grows monotonically away from the background", () => {
    for (const palette of [LIGHT, DARK]) {
      const s = sequential(palette);
      let last = -1;
      for (let v = 0; v <= 1.0001; v += 0.1) {
        const d = contrast(s(v)!.fill, palette.background);
        expect(d).toBeGreaterThanOrEqual(last);
        last = d;
      }
    }
  });
  it("diverging: low colour, background near zero, high colour", () => {
    const s = diverging(LIGHT, 2);
    expect(s.domain).toEqual([-2, 2]);
    expect(s(-2)?.background).toBe("rgb(217 69 58)");
    expect(s(2)?.background).toBe("rgb(47 111 222)");
    expect(contrast(s(0)!.fill, WHITE)).toBeLessThan(1.05);
  });
  it("rejects a degenerate domain", () => {
    expect(() => sequential(LIGHT, [1, 1])).toThrow("a colour scale needs a finite domain with low < high, got [1, 1]");
    expect(() => diverging(LIGHT, 0)).toThrow(/positive finite limit, got 0/);
  });
});
