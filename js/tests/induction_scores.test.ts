import { describe, expect, it } from "vitest";
import { formatProbability } from "../src/kit/format";
import {
  camel, cellRows, countsFor, guidesFor, KINDS, kindsAt, missingText, shownText, TEXT, weightAt, type Targets,
} from "../src/induction_scores/state";

// BOS + 2 x 3 tokens: the second copy is rows 4..6
const targets: Targets = {
  induction: [[4, 2, 3]],
  previous_token: [[4, 3, 3]],
  duplicate_token: [[4, 1, 3]],
};

describe("induction scores state (what the view derives)", () => {
  it("draws every kind's guide but the duplicate-token one, which shows on its own tab", () => {
    expect(guidesFor(targets, "induction").map((g) => [g.id, g.className])).toEqual([
      ["induction", "cw-is-guide-induction cw-is-guide-active"],
      ["previous_token", "cw-is-guide-previous_token"],
    ]);
    expect(guidesFor(targets, "duplicate_token").map((g) => g.id)).toEqual(KINDS);
    expect(guidesFor(targets, "induction")[0]!.runs).toEqual([{ row: 4, col: 2, length: 3 }]);
    expect(guidesFor({}, "previous_token").every((g) => g.runs.length === 0)).toBe(true);
  });
  it("says which scores count a cell, on the diagonal runs only", () => {
    expect(kindsAt(targets, 5, 3)).toEqual(["induction"]);
    expect(kindsAt(targets, 6, 5)).toEqual(["previous_token"]);
    expect(kindsAt(targets, 3, 1)).toEqual([]); // on the induction diagonal, but before the run
    expect(kindsAt(targets, 7, 5)).toEqual([]); // after it
    expect(countsFor(["induction", "duplicate_token"])).toBe("counts for the induction and duplicate-token score");
    expect(countsFor([])).toBeUndefined();
  });
  it("reads a cell's weight (masked after the query) and writes its hover rows", () => {
    const pattern = Float32Array.from([1, 0, 0.25, 0.75]);
    expect([weightAt(pattern, 2, 1, 0), weightAt(pattern, 2, 1, 1), weightAt(pattern, 2, 0, 1)]).toEqual([0.25, 0.75, NaN]);
    expect(cellRows(1, 0, 0.25)).toEqual([["query", "1"], ["key", "0"], ["weight", formatProbability(0.25)]]);
    expect(cellRows(0, 1, NaN)[2]).toEqual(["weight", "masked"]);
  });
  it("says what was run, why a pattern is missing, and names guides and data keys", () => {
    expect(shownText({ mode: "random", seq: 7, half: 3, seed: 1, batch: 4 })).toEqual(["4 × random tokens repeated (BOS + 2 × 3 = 7 tokens)", "seed 1"]);
    expect(shownText({ mode: "text", seq: 12 })).toEqual(["your text (12 tokens)"]);
    expect(missingText(false, "")).toBe("Fetching this head's pattern…");
    expect(missingText(false, "head 9 is out of range")).toBe("head 9 is out of range");
    expect(missingText(true, "ignored")).toMatch(/^This export does not hold this head's pattern/);
    expect(TEXT.induction.guide({ mode: "random", seq: 7, half: 3 })).toBe("induction stripe: query i → key i − 2 (i − half + 1)");
    expect(TEXT.duplicate_token.guide({ mode: "text", seq: 7 })).toBe("duplicate: the earlier copies of the same token");
    expect([camel("previous_token"), camel("induction")]).toEqual(["previousToken", "induction"]);
  });
});
