/**
 * PathExplorer's pure logic (js/src/path_explorer/state.ts): the waterfall rows and their
 * geometry, what a click selects, the bar keys, the position check and the hover cards.
 */
import { describe, expect, it } from "vitest";
import type { Term } from "../src/path_explorer/shared";
import { barGeometry, barKey, barName, cardOf, changesFor, extent, isSelected, positionProblem, selectionFor, waterfall } from "../src/path_explorer/state";

const terms: Term[] = [
  { label: "L0H0 → L1H1", kind: "pair", value: 2, top: [[" *", 3.5]], pair: [0, 0, 1, 1] },
  { label: "L1H3", kind: "head", value: -1.5, top: [], layer: 1, head: 3 },
  { label: "direct", kind: "direct", value: 1, top: [] },
  { label: "biases", kind: "biases", value: 0.25, top: [] },
  { label: "L0 MLP (frozen)", kind: "mlp", value: -0.125, top: [], layer: 0 },
];

describe("waterfall", () => {
  it("runs each bar from the sum before it, sums the rest and ends at the total", () => {
    const rows = waterfall(terms, 3);
    expect(rows.map((r) => [r.label, r.start, r.end])).toEqual([
      ["L0H0 → L1H1", 0, 2],
      ["L1H3", 2, 0.5],
      ["direct", 0.5, 1.5],
      ["the other 2 terms", 1.5, 1.625],
      ["logit", 0, 1.625],
    ]);
    expect(rows[3]).toMatchObject({ kind: "rest", count: 2, value: 0.125 });
  });

  it("shows every term with no rest when asked for all, and the total is their sum", () => {
    const rows = waterfall(terms, null);
    expect(rows.map((r) => r.kind)).toEqual(["pair", "head", "direct", "biases", "mlp", "total"]);
    expect(rows.at(-1)!.value).toBeCloseTo(terms.reduce((s, t) => s + t.value, 0));
    expect(waterfall(terms, 10).some((r) => r.kind === "rest")).toBe(false);
  });

  it("places bars on an axis that holds every running sum and zero", () => {
    const rows = waterfall([{ label: "a", kind: "head", value: -2, top: [], layer: 0, head: 0 }, { label: "b", kind: "direct", value: 3, top: [] }], null);
    expect(extent(rows)).toEqual([-2, 1]);
    expect(barGeometry(rows[0]!, [-2, 1])).toEqual({ left: "0.000%", width: "66.667%", up: false });
    expect(barGeometry(rows[1]!, [-2, 1])).toEqual({ left: "0.000%", width: "100.000%", up: true });
    expect(extent(waterfall([], null))).toEqual([0, 1]); // nothing to draw: a unit axis
  });
});

describe("selection", () => {
  it("selects a head's own head, a pair's second head and nothing for sums", () => {
    expect(selectionFor(terms[1]!)).toEqual({ layer: 1, head: 3 });
    expect(selectionFor(terms[0]!)).toEqual({ layer: 1, head: 1 });
    expect(selectionFor(terms[2]!)).toBeNull();
    expect(selectionFor(terms[4]!)).toBeNull(); // an MLP has a layer but is no head
    expect(selectionFor(null)).toBeNull();
    // a pair's bar selects both heads; a head's bar its head alone
    expect(changesFor(terms[0]!)).toEqual({ pair: [0, 0, 1, 1] });
    expect(changesFor(terms[1]!)).toEqual({ layer: 1, head: 3, pair: [] });
    expect(changesFor(terms[2]!)).toBeNull();
    expect(isSelected(terms[0]!, 1, 1, [0, 0, 1, 1])).toBe(true);
    expect(isSelected(terms[0]!, 1, 1)).toBe(false); // its second head alone is not the pair
    expect(isSelected(terms[1]!, 1, 3)).toBe(true);
    expect(isSelected(terms[1]!, 1, 3, [0, 2, 1, 3])).toBe(false);
    expect(isSelected(terms[1]!, 0, 0)).toBe(false);
    expect(barName(waterfall(terms, null)[0]!)).toBe("L0H0 → L1H1 +2.00, selects layer 0 head 0 and layer 1 head 1");
    expect(cardOf(waterfall(terms, null)[0]!).note).toContain("Click to select L0H0 and L1H1.");
  });
});

describe("keys and checks", () => {
  it("moves between bars and stops at the ends", () => {
    expect(barKey("ArrowDown", 0, 3)).toBe(1);
    expect(barKey("ArrowDown", 2, 3)).toBe(2);
    expect(barKey("ArrowUp", 0, 3)).toBe(0);
    expect(barKey("End", 0, 3)).toBe(2);
    expect(barKey("Home", 2, 3)).toBe(0);
    expect(barKey("a", 0, 3)).toBeNull();
    expect(barKey("ArrowDown", 0, 0)).toBeNull();
  });

  it("names a position outside the text with the range there is", () => {
    expect(positionProblem(3, 4)).toBeNull();
    expect(positionProblem(null, 4)).toBeNull();
    expect(positionProblem(4, 4)).toBe("position 4 is out of range; this text has 4 tokens, so positions 0..3");
    expect(positionProblem(-1, 4)).toContain("position -1 is out of range");
  });

  it("lists a bar's value and top tokens on its card, and what the sums hold", () => {
    const card = cardOf(waterfall(terms, null)[0]!);
    expect(card.title).toBe("L0H0 → L1H1");
    expect(card.rows).toEqual([["adds to the logit", "+2.000"], ["pushes up most:", ""], ['" *"', "+3.50"]]);
    expect(card.note).toContain("V-composition");
    expect(card.note).toContain("Click to select L0H0 and L1H1");
    const rest = cardOf(waterfall(terms, 2).find((r) => r.kind === "rest")!);
    expect(rest.rows).toContainEqual(["terms summed", "3"]);
    expect(cardOf(waterfall(terms, null).find((r) => r.kind === "mlp")!).note).toContain("frozen");
  });
});
