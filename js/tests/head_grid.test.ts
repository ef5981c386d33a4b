// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { createHeadGrid, gridMove } from "../src/kit/head_grid";

describe("head grid keyboard", () => {
  const at = { layer: 1, head: 2 };
  it("moves one head or one layer and stops at the edges", () => {
    expect(gridMove("ArrowRight", at, 3, 4)).toEqual({ layer: 1, head: 3 });
    expect(gridMove("ArrowRight", { layer: 1, head: 3 }, 3, 4)).toEqual({ layer: 1, head: 3 });
    expect(gridMove("ArrowLeft", { layer: 0, head: 0 }, 3, 4)).toEqual({ layer: 0, head: 0 });
    expect(gridMove("ArrowDown", at, 3, 4)).toEqual({ layer: 2, head: 2 });
    expect(gridMove("ArrowDown", { layer: 2, head: 2 }, 3, 4)).toEqual({ layer: 2, head: 2 });
    expect(gridMove("ArrowUp", at, 3, 4)).toEqual({ layer: 0, head: 2 });
  });
  it("goes to the ends of the layer, or of the model with Ctrl", () => {
    expect(gridMove("Home", at, 3, 4)).toEqual({ layer: 1, head: 0 });
    expect(gridMove("End", at, 3, 4)).toEqual({ layer: 1, head: 3 });
    expect(gridMove("Home", at, 3, 4, true)).toEqual({ layer: 0, head: 0 });
    expect(gridMove("End", at, 3, 4, true)).toEqual({ layer: 2, head: 3 });
  });
  it("ignores other keys", () => {
    expect(gridMove("Enter", at, 3, 4)).toBeNull();
    expect(gridMove("a", at, 3, 4)).toBeNull();
  });
});

describe("the one head grid (every view's)", () => {
  const key = (el: Element, k: string) => el.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
  function grid(options: { axes?: boolean } = {}) {
    const picked: [number, number][] = [];
    const hovered: (number | null)[][] = [];
    const parent = document.createElement("div");
    document.body.append(parent);
    const g = createHeadGrid(parent, {
      label: "Heads",
      cellClass: "my-cell",
      onSelect: (l, h) => picked.push([l, h]),
      onHover: (l, h) => hovered.push([l, h]),
      ...options,
    });
    g.setShape(2, 3);
    return { g, picked, hovered };
  }

  it("draws one named button per head with its score in data-score, L/H labels and one tab stop", () => {
    const { g } = grid();
    const cells = [...g.element.querySelectorAll<HTMLButtonElement>(".cw-head-grid-cell.my-cell")];
    expect(cells.map((c) => c.getAttribute("aria-label"))).toEqual(
      ["layer 0 head 0", "layer 0 head 1", "layer 0 head 2", "layer 1 head 0", "layer 1 head 1", "layer 1 head 2"],
    );
    expect(cells.map((c) => c.dataset.score)).toEqual(Array(6).fill(""));
    expect(cells.map((c) => c.textContent)).toEqual(Array(6).fill("…"));
    expect([...g.element.querySelectorAll(".cw-head-grid-label")].map((l) => l.textContent)).toEqual(["H0", "H1", "H2", "L0", "L1"]);
    g.paint((l, h) => ({ value: l === 0 && h === 1 ? -0.4376 : l + h / 10, swatch: null }));
    expect(cells.map((c) => c.textContent)).toEqual(["0.00", "−0.44", "0.20", "1.00", "1.10", "1.20"]);
    expect(Number(g.cell(0, 1)!.dataset.score)).toBe(-0.4376);
    expect(cells.filter((c) => c.tabIndex === 0)).toEqual([cells[0]]); // nothing selected: the first
    g.select(1, 2);
    expect(cells.filter((c) => c.getAttribute("aria-pressed") === "true")).toEqual([cells[5]]);
    expect(cells.filter((c) => c.tabIndex === 0)).toEqual([cells[5]]);
  });

  it("selects on click and moves the selection with the grid keys in the order shown", () => {
    const { g, picked, hovered } = grid({ axes: false });
    expect(g.element.querySelectorAll(".cw-head-grid-label")).toHaveLength(0);
    g.cell(1, 1)!.click();
    expect(picked).toEqual([[1, 1]]);
    g.cell(1, 1)!.focus();
    key(g.cell(1, 1)!, "ArrowUp");
    expect(picked.at(-1)).toEqual([0, 1]);
    expect(document.activeElement).toBe(g.cell(0, 1));
    expect(hovered.at(-1)).toEqual([0, 1]);
    key(g.cell(0, 1)!, "End");
    expect(picked.at(-1)).toEqual([0, 2]);
    // shown in another order (e.g. sorted by score): the keys walk that order
    g.setOrder([5, 4, 3, 2, 1, 0]);
    expect([...g.element.children].map((c) => c.getAttribute("aria-label"))[0]).toBe("layer 1 head 2");
    g.cell(1, 2)!.focus();
    key(g.cell(1, 2)!, "ArrowRight");
    expect(picked.at(-1)).toEqual([1, 1]);
    key(g.cell(1, 1)!, "Enter"); // not a grid key: nothing happens
    expect(picked.at(-1)).toEqual([1, 1]);
  });
});
