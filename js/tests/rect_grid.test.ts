// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { createCellHover, sameCell } from "../src/kit/cell_hover";
import { sequential } from "../src/kit/color_scale";
import { applyStep, gridStep } from "../src/kit/grid_keys";
import { cursorMove } from "../src/kit/heatmap";
import { createRectGrid, type RectGridData } from "../src/kit/rect_grid";
import {
  cellAt, columnWidth, HEADER_HEIGHT, headerText, MAX_COL, MIN_COL, revealScroll, ROW_HEIGHT, svgCellText, TEXT_COL,
} from "../src/kit/rect_grid_layout";
import { cellGridSvg, MAX_VECTOR_CELLS } from "../src/kit/svg_grid";
import { stubCanvas } from "./mock_model";

const rgba = (r: number, g: number, b: number, a = 1) => ({ r, g, b, a });

describe("grid keys: a key's step, applied to a grid", () => {
  it("reads arrows as one cell, Home/End as the row's ends, with Ctrl the grid's corners", () => {
    expect(gridStep("ArrowUp")).toEqual({ rows: -1, cols: 0 });
    expect(gridStep("ArrowRight")).toEqual({ rows: 0, cols: 1 });
    expect([gridStep("Home"), gridStep("End"), gridStep("Home", true), gridStep("End", true)]).toEqual(["home", "end", "first", "last"]);
    expect(gridStep("PageDown")).toBeNull();
    expect(gridStep("a", true)).toBeNull();
  });
  it("applies a step and stops at the edges", () => {
    const at = { row: 1, col: 4 };
    expect(applyStep({ rows: 1, cols: 0 }, at, 2, 5)).toEqual({ row: 1, col: 4 }); // last row: stays
    expect(applyStep({ rows: 0, cols: 1 }, at, 2, 5)).toEqual({ row: 1, col: 4 }); // last column: stays
    expect(applyStep({ rows: -1, cols: -1 }, at, 2, 5)).toEqual({ row: 0, col: 3 });
    expect(applyStep("home", at, 2, 5)).toEqual({ row: 1, col: 0 });
    expect(applyStep("end", { row: 0, col: 1 }, 2, 5)).toEqual({ row: 0, col: 4 });
    expect(applyStep("first", at, 2, 5)).toEqual({ row: 0, col: 0 });
    expect(applyStep("last", { row: 0, col: 0 }, 2, 5)).toEqual({ row: 1, col: 4 });
  });
  it("is the heatmap's cursor keys too, End going to the diagonal (a causal row's last key)", () => {
    expect(cursorMove("ArrowDown", { row: 2, col: 1 }, 4)).toEqual({ row: 3, col: 1 });
    expect(cursorMove("ArrowDown", { row: 3, col: 1 }, 4)).toEqual({ row: 3, col: 1 });
    expect(cursorMove("Home", { row: 2, col: 1 }, 4)).toEqual({ row: 2, col: 0 });
    expect(cursorMove("End", { row: 2, col: 0 }, 4)).toEqual({ row: 2, col: 2 });
    expect(cursorMove("x", { row: 2, col: 0 }, 4)).toBeUndefined();
  });
});

describe("rectangular grid layout", () => {
  it("sizes columns to fit, between MIN_COL and MAX_COL pixels", () => {
    expect([columnWidth(1000, 10), columnWidth(1000, 512), columnWidth(1000, 20), columnWidth(0, 0)]).toEqual([MAX_COL, MIN_COL, 50, MIN_COL]);
  });
  it("finds the cell under a point below the header, and none outside the cells", () => {
    const colW = 40;
    expect(cellAt(2.5 * colW, HEADER_HEIGHT + 1.5 * ROW_HEIGHT, colW, 3, 4)).toEqual({ row: 1, col: 2 });
    expect(cellAt(0, HEADER_HEIGHT, colW, 3, 4)).toEqual({ row: 0, col: 0 });
    expect(cellAt(10, HEADER_HEIGHT - 1, colW, 3, 4)).toBeNull(); // the header
    expect(cellAt(4 * colW, HEADER_HEIGHT + 1, colW, 3, 4)).toBeNull(); // right of the last column
    expect(cellAt(10, HEADER_HEIGHT + 3 * ROW_HEIGHT, colW, 3, 4)).toBeNull(); // below the last row
    expect(cellAt(-1, HEADER_HEIGHT + 1, colW, 3, 4)).toBeNull();
  });
  it("heads wide columns with their token, narrow ones with every 10th position", () => {
    expect(headerText(3, 32, TEXT_COL, " the")).toBe(" the");
    expect(headerText(8, 32, TEXT_COL - 1, " the")).toBe("40");
    expect(headerText(9, 32, TEXT_COL - 1, " the")).toBeNull();
  });
  it("scrolls only to show a column that is not wholly in view, centring it", () => {
    expect(revealScroll(2, 20, 0, 200)).toBeNull();
    expect(revealScroll(9, 20, 0, 200)).toBeNull(); // 180..200: just in
    expect(revealScroll(10, 20, 0, 200)).toBe(100);
    expect(revealScroll(1, 20, 100, 200)).toBe(0);
  });
  it("cuts a cell's SVG text to six characters", () => {
    expect([svgCellText("abcdef"), svgCellText("abcdefg")]).toEqual(["abcdef", "abcde…"]);
  });
});

describe("cell hover", () => {
  it("announces a cell once when the cursor moves onto it and null once when it leaves", () => {
    const plot = document.createElement("div");
    const box = document.createElement("div");
    const heard: (string | null)[] = [];
    const hover = createCellHover(plot, box, () => (box.hidden = false), (cell, anchor) => {
      expect(anchor).toBe(box);
      heard.push(cell && `${cell.row},${cell.col}`);
    });
    hover.move({ row: 1, col: 2 });
    hover.move({ row: 1, col: 2 });
    expect(plot.dataset.cursor).toBe("1,2");
    expect(box.hidden).toBe(false);
    hover.move(null);
    hover.move(null);
    expect(box.hidden).toBe(true);
    expect(plot.dataset.cursor).toBeUndefined();
    hover.move({ row: 0, col: 0 }, false); // driven from elsewhere: not announced
    expect(heard).toEqual(["1,2", null]);
    expect(hover.cell).toEqual({ row: 0, col: 0 });
    expect([sameCell(null, null), sameCell({ row: 0, col: 1 }, { row: 0, col: 1 }), sameCell(null, { row: 0, col: 0 })]).toEqual([true, true, false]);
  });
});

describe("rectangular grid", () => {
  stubCanvas();
  const palette = { background: rgba(255, 255, 255), text: rgba(0, 0, 0), textInverse: rgba(255, 255, 255), high: rgba(0, 0, 255), low: rgba(255, 0, 0) };
  const data = (rows: number, cols: number, pendingCol = -1): RectGridData => ({
    rows, cols,
    rowLabels: Array.from({ length: rows }, (_, r) => `R${r}`),
    colLabels: Array.from({ length: cols }, (_, c) => ` t${c}`),
    firstColumn: 32,
    pending: (c) => c === pendingCol,
    text: (r, c) => `<${r}${c}>`,
    value: (r, c) => (r + c) / (rows + cols),
  });
  const make = () => {
    const steps: unknown[] = [];
    const picks: unknown[] = [];
    const parent = document.createElement("div");
    document.body.append(parent);
    const grid = createRectGrid(parent, {
      label: "cells", roleDescription: "grid of rows by positions",
      svg: { rowTitle: "readout", colTitle: "position", cellWidth: 44 },
      signal: new AbortController().signal,
      onHover: () => undefined,
      onPick: (cell) => picks.push(cell),
      onKey: (step) => steps.push(step),
    });
    grid.setScale(sequential(palette), "#777777", "#dddddd");
    return { grid, steps, picks };
  };

  it("reports the grid keys as steps and keeps them from the notebook", () => {
    const { grid, steps } = make();
    grid.setData(data(2, 3));
    const scroller = grid.element.querySelector<HTMLElement>(".cw-rect-grid-scroll")!;
    const press = (key: string, ctrlKey = false) => {
      const e = new KeyboardEvent("keydown", { key, ctrlKey, bubbles: true, cancelable: true });
      scroller.dispatchEvent(e);
      return e.defaultPrevented;
    };
    expect([press("ArrowLeft"), press("End"), press("End", true), press("q")]).toEqual([true, true, true, false]);
    expect(steps).toEqual([{ rows: 0, cols: -1 }, "end", "last"]);
  });

  it("counts pending columns, bands the marked row and column, and labels the rows", () => {
    const { grid } = make();
    grid.setData(data(2, 3, 1));
    expect(grid.element.dataset.pending).toBe("1");
    grid.setMarks(1, 2);
    const rowBand = grid.plot.querySelector<HTMLElement>(".cw-rect-grid-band-row")!;
    const colBand = grid.plot.querySelector<HTMLElement>(".cw-rect-grid-band-col")!;
    expect([rowBand.hidden, colBand.hidden]).toEqual([false, false]);
    expect(rowBand.style.top).toBe(`${HEADER_HEIGHT + ROW_HEIGHT}px`);
    expect([...grid.element.querySelectorAll(".cw-rect-grid-row-on")].map((l) => l.textContent)).toEqual(["R1"]);
    grid.setMarks(null, 7); // off the page
    expect([rowBand.hidden, colBand.hidden]).toEqual([true, true]);
  });

  it("saves every cell with its text and the columns' positions in the whole text", () => {
    const { grid } = make();
    grid.setData(data(2, 3));
    const svg = grid.toSvg("T", { background: "#ffffff", text: "#222222", muted: "#777777" });
    expect(svg.match(/<rect [^>]*data-row=/g)).toHaveLength(6);
    expect(svg).toContain(">&lt;12&gt;</text>");
    expect(svg).toContain(">34 ·t2</text>"); // position 32 + 2, its token with the space shown
    expect(svg).toContain(">R1</text>");
  });
});

describe("cellGridSvg", () => {
  it("draws rects up to MAX_VECTOR_CELLS and one raster past them", () => {
    const colors = { background: "#ffffff", text: "#222222", muted: "#777777" };
    const spec = (n: number) => ({ title: "t", rowTitle: "r", colTitle: "c", rowLabels: Array(n).fill("x"), colLabels: Array(n).fill("y"), colors });
    const small = cellGridSvg(spec(3), () => ({ fill: "#000000" }), () => [0, 0, 0]);
    expect(small.match(/<rect [^>]*data-row=/g)).toHaveLength(9);
    const side = Math.ceil(Math.sqrt(MAX_VECTOR_CELLS)) + 1;
    stubCanvas();
    HTMLCanvasElement.prototype.toDataURL = () => "data:image/png;base64,AAAA";
    const big = cellGridSvg(spec(side), () => { throw new Error("no rects past the limit"); }, () => [1, 2, 3]);
    expect(big).toContain('<image class="cells"');
    expect(big).not.toContain("data-row=");
  });
});
