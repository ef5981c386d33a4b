import { describe, expect, it } from "vitest";
import { formatValue, valueScale } from "../src/token_view/state";

const rgba = (r: number, g: number, b: number, a = 1) => ({ r, g, b, a });

const palette = { background: rgba(255, 255, 255), text: rgba(0, 0, 0, 0.87), textInverse: rgba(255, 255, 255), high: rgba(0, 0, 255), low: rgba(255, 0, 0) };

describe("TokenView's values (cw.colored_tokens)", () => {
  it("colours a domain that spans 0 diverging around 0, symmetric on the larger side", () => {
    const scale = valueScale(-1, 3)(palette);
    expect(scale.kind).toBe("diverging");
    expect(scale.domain).toEqual([-3, 3]);
  });

  it("colours a one-signed domain sequentially over exactly that domain", () => {
    expect(valueScale(0, 2)(palette).kind).toBe("sequential");
    expect(valueScale(0, 2)(palette).domain).toEqual([0, 2]);
    expect(valueScale(-5, -1)(palette).domain).toEqual([-5, -1]);
  });

  it("writes four significant digits, and a dash for no value", () => {
    expect(formatValue(3.14159)).toBe("3.142");
    expect(formatValue(-0.000123456)).toBe("-0.0001235");
    expect(formatValue(NaN)).toBe("—");
  });
});
