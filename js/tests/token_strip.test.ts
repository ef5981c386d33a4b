import { describe, expect, it } from "vitest";
import { lineBreaksAfter, tokenParts } from "../src/kit/token_strip";
import { formatProbability, formatTick } from "../src/kit/format";

describe("tokenParts", () => {
  it("keeps text as text, including markup", () => {
    expect(tokenParts("<script>alert(1)</script>")).toEqual([{ kind: "text", text: "<script>alert(1)</script>" }]);
  });
  it("makes whitespace visible with dimmed markers", () => {
    expect(tokenParts(" the")).toEqual([{ kind: "space", text: "·" }, { kind: "text", text: "the" }]);
    expect(tokenParts("  x\n\n")).toEqual([
      { kind: "space", text: "··" },
      { kind: "text", text: "x" },
      { kind: "newline", text: "↵↵" },
    ]);
    expect(tokenParts("\t")).toEqual([{ kind: "tab", text: "→" }]);
    expect(tokenParts("\u00a0")).toEqual([{ kind: "space", text: "⍽" }]);
  });
  it("shows control characters as control pictures and an empty token as ∅", () => {
    expect(tokenParts("\u0000\u001b\r\u007f")).toEqual([{ kind: "control", text: "␀␛␍␡" }]);
    expect(tokenParts("")).toEqual([{ kind: "empty", text: "∅" }]);
  });
  it("keeps astral characters whole", () => {
    expect(tokenParts("😀 ")).toEqual([{ kind: "text", text: "😀" }, { kind: "space", text: "·" }]);
  });
  it("counts the line breaks to draw after a token", () => {
    expect(lineBreaksAfter("a")).toBe(0);
    expect(lineBreaksAfter("\n\n")).toBe(2);
    expect(lineBreaksAfter("\r\n")).toBe(1);
  });
});

describe("format", () => {
  it("formats probabilities for hover cards", () => {
    expect(formatProbability(0.123456)).toBe("0.1235");
    expect(formatProbability(1)).toBe("1.0000");
    expect(formatProbability(0.001)).toBe("0.0010");
    expect(formatProbability(3.1843e-5)).toBe("3.18e-5");
    expect(formatProbability(0)).toBe("0");
    expect(formatProbability(NaN)).toBe("—");
  });
  it("formats legend ticks with as few decimals as needed", () => {
    expect([0, 0.25, 0.5, 1, 1 / 3].map(formatTick)).toEqual(["0", "0.25", "0.5", "1", "0.333"]);
  });
});
