/**
 * OVBrowser's copying-map panel: the kit's head grid (kit/head_grid.ts) of every head's copying
 * score (cells `.cw-ov-cell` in `.cw-ov-grid`),
 * its diverging legend with what each end means, and its "Save SVG".
 */
import type { ColorScale } from "../kit/color_scale";
import { headValue, type NDArray } from "../kit/decode";
import { formatTick } from "../kit/format";
import type { Frame } from "../kit/frame";
import { createHeadGrid, type HeadGrid } from "../kit/head_grid";
import { createLegend } from "../kit/legend";
import { createPanel } from "../kit/panel";
import { headGridSvg, svgColors } from "../kit/svg_grid";
import type { Palette } from "../kit/color_scale";

const CAPTION =
  "Each square is one attention head. Blue heads copy: when they attend to a token, they make the model " +
  "more likely to predict that same token. Red heads suppress the token they attend to. The number is the " +
  "copying score Σλ/Σ|λ| of the eigenvalues λ of the head's OV circuit, from −1 to 1. Click a head to look closer.";

export interface CopyingMapOptions {
  frame: Frame;
  onSelect(layer: number, head: number): void;
  /** A cell was hovered or focused (`null`s: the pointer left the grid). */
  onInspect(cell: HTMLElement | null, layer: number | null, head: number | null): void;
  /** For the SVG: the model's name and the palette in use. */
  title: () => string;
  palette: () => Palette;
}

export interface CopyingMap {
  readonly grid: HeadGrid;
  /** Colour the cells by `values` (null: still computing) and the legend by `scale`. */
  paint(values: NDArray | null, scale: ColorScale): void;
}

export function createCopyingMap(parent: HTMLElement, options: CopyingMapOptions): CopyingMap {
  const panel = createPanel(parent, { className: "cw-ov-map", title: "Copying map", caption: CAPTION });
  const grid = createHeadGrid(panel.body, {
    label: "Attention heads by OV copying score",
    className: "cw-ov-grid",
    cellClass: "cw-ov-cell",
    onSelect: options.onSelect,
    onHover: (layer, head, cell) => options.onInspect(cell, layer, head),
  });
  const legend = createLegend(panel.body, {
    title: "Copying score",
    ticks: [-1, -0.5, 0, 0.5, 1],
    format: (v) => formatTick(v).replace("-", "−"),
  });
  const ends = document.createElement("div");
  ends.className = "cw-ov-legend-ends";
  const anti = document.createElement("span");
  anti.textContent = "← suppresses (anti-copying)";
  const copies = document.createElement("span");
  copies.textContent = "copies →";
  ends.append(anti, copies);
  legend.element.querySelector(".cw-legend-scale")?.append(ends);
  options.frame.camera.addSvg(panel.header, "copying", "the copying map", () =>
    headGridSvg(grid.element, `OV copying score: ${options.title()}`, svgColors(options.palette())),
  );
  return {
    grid,
    paint(values, scale) {
      legend.setScale(scale);
      grid.paint((layer, head) => {
        const v = values ? headValue(values, layer, head) : null;
        return { value: v, swatch: v === null ? null : scale(v) };
      });
    },
  };
}
