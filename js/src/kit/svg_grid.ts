/**
 * A heatmap or grid as one standalone vector SVG file: a title, an optional note, axis titles,
 * row and column labels as `<text>`, and one `<rect>` per cell shown (with the cell's own text
 * where the view prints one, e.g. a score or a token). What the "Save SVG" buttons write.
 *
 * Size stays bounded: a caller passes the cells that are *shown* (a zoomed heatmap passes its
 * visible window), and past {@link MAX_VECTOR_CELLS} cells it passes `raster` instead — the
 * cells as one embedded PNG (drawn pixelated, one pixel per cell), with labels still as text.
 *
 *     const svg = gridSvg({
 *       title: "Layer 1 · Head 3", rowTitle: "query", colTitle: "key",
 *       rowLabels: tokens, colLabels: tokens,
 *       cell: (r, c) => ({ fill: "rgb(29 91 214)" }),
 *       colors: { background: "#fff", text: "#222", muted: "#777" },
 *     });
 */

import { composite, mix, parseColor } from "./color";
import type { Palette } from "./color_scale";

/** The most cells drawn as rects (200 x 200): larger grids embed a raster of the cells. */
export const MAX_VECTOR_CELLS = 40_000;

export interface SvgCell {
  fill: string;
  /** Text printed in the cell (e.g. a score). */
  text?: string;
  textFill?: string;
  /** An image drawn over the cell (a PNG data URL, e.g. a head's thumbnail). */
  image?: string;
}

export interface SvgGridSpec {
  title: string;
  /** A muted line under the title (e.g. "rows 0–63 of 512 shown"). */
  note?: string;
  rowTitle: string;
  colTitle: string;
  rowLabels: readonly string[];
  colLabels: readonly string[];
  /** The cell in row `r`, column `c` of what is shown (0-based in the labels); null: none. */
  cell?: (r: number, c: number) => SvgCell | null;
  /** Instead of `cell`: the cells as a PNG data URL, `colLabels.length` x `rowLabels.length` cells. */
  raster?: string;
  colors: { background: string; text: string; muted: string };
  /** Cell size in CSS pixels (default: 14, or larger when cells carry text). */
  cellWidth?: number;
  cellHeight?: number;
}

const FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";
const SANS = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif";
const CHAR = 6.7; // width of one 11px monospace character
const MARGIN = 12;
const MAX_LABEL = 18; // characters

/** `#rrggbb`: the colour syntax every SVG reader understands. */
export function hex(c: { r: number; g: number; b: number }): string {
  const h = (v: number) => Math.round(Math.min(255, Math.max(0, v))).toString(16).padStart(2, "0");
  return `#${h(c.r)}${h(c.g)}${h(c.b)}`;
}

/** The page colours of an SVG from the view's theme: background, text and muted text, opaque. */
export function svgColors(palette: Palette): SvgGridSpec["colors"] {
  const text = composite(palette.text, palette.background);
  return { background: hex(palette.background), text: hex(text), muted: hex(mix(palette.background, text, 0.65)) };
}

/** Characters XML 1.0 forbids (control characters, lone surrogates, U+FFFE/F): tokens of a
 * byte-level vocabulary can be any of them, and one would make the whole file unreadable. */
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `text` made valid XML: forbidden characters as U+FFFD. */
export function xmlSafe(text: string): string {
  return text.replace(NOT_XML, "\uFFFD");
}

/** `text` with the five XML special characters escaped (user tokens can hold any of them) and
 * characters XML forbids replaced. */
export function escapeXml(text: string): string {
  return xmlSafe(text).replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c] as string);
}

function clip(label: string): string {
  return label.length > MAX_LABEL ? `${label.slice(0, MAX_LABEL - 1)}…` : label;
}

/** Every `step`-th index so that labels at `size` px per cell stay `gap` px apart. */
function labelStep(size: number, gap: number): number {
  return Math.max(1, Math.ceil(gap / size));
}

export function gridSvg(spec: SvgGridSpec): string {
  const rows = spec.rowLabels.length;
  const cols = spec.colLabels.length;
  if (!spec.raster && !spec.cell) throw new Error("gridSvg needs `cell` or `raster`");
  if (!spec.raster && rows * cols > MAX_VECTOR_CELLS) {
    throw new Error(`${rows} x ${cols} cells is more than ${MAX_VECTOR_CELLS} rects: pass a raster`);
  }
  const cw = spec.cellWidth ?? 14;
  const ch = spec.cellHeight ?? 14;
  const rowLabelWidth = Math.min(MAX_LABEL, Math.max(1, ...spec.rowLabels.map((l) => l.length), spec.rowTitle.length + 2)) * CHAR + 10;
  const colLabelHeight = Math.min(MAX_LABEL, Math.max(1, ...spec.colLabels.map((l) => l.length), spec.colTitle.length + 2)) * CHAR + 10;
  const titleHeight = spec.note ? 40 : 26;
  const x0 = MARGIN + rowLabelWidth;
  const y0 = MARGIN + titleHeight + colLabelHeight;
  const width = Math.ceil(x0 + cols * cw + MARGIN);
  const height = Math.ceil(y0 + rows * ch + MARGIN);
  const { background, text, muted } = spec.colors;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title>${escapeXml(spec.title)}</title>`,
    `<rect width="100%" height="100%" fill="${escapeXml(background)}"/>`,
    `<text x="${MARGIN}" y="${MARGIN + 14}" font-family="${SANS}" font-size="14" font-weight="600" fill="${escapeXml(text)}">${escapeXml(spec.title)}</text>`,
  );
  if (spec.note) {
    out.push(`<text x="${MARGIN}" y="${MARGIN + 31}" font-family="${SANS}" font-size="11" fill="${escapeXml(muted)}">${escapeXml(spec.note)}</text>`);
  }
  // Axis titles in the corner, as the views draw them.
  out.push(
    `<g font-family="${SANS}" font-size="11" fill="${escapeXml(muted)}" text-anchor="end">`,
    `<text class="axis-title" x="${x0 - 6}" y="${y0 - 20}">${escapeXml(spec.colTitle)} →</text>`,
    `<text class="axis-title" x="${x0 - 6}" y="${y0 - 6}">${escapeXml(spec.rowTitle)} ↓</text>`,
    `</g>`,
  );
  const rowStep = labelStep(ch, 11);
  const colStep = labelStep(cw, 11);
  out.push(`<g class="row-labels" font-family="${FONT}" font-size="11" fill="${escapeXml(muted)}" text-anchor="end" dominant-baseline="central">`);
  for (let r = 0; r < rows; r += rowStep) {
    out.push(`<text x="${x0 - 6}" y="${(y0 + (r + 0.5) * ch).toFixed(1)}" xml:space="preserve">${escapeXml(clip(spec.rowLabels[r] ?? ""))}</text>`);
  }
  out.push(`</g>`, `<g class="col-labels" font-family="${FONT}" font-size="11" fill="${escapeXml(muted)}" dominant-baseline="central">`);
  for (let c = 0; c < cols; c += colStep) {
    const x = (x0 + (c + 0.5) * cw).toFixed(1);
    out.push(`<text transform="translate(${x} ${y0 - 6}) rotate(-90)" xml:space="preserve">${escapeXml(clip(spec.colLabels[c] ?? ""))}</text>`);
  }
  out.push(`</g>`);
  if (spec.raster) {
    out.push(
      `<image class="cells" x="${x0}" y="${y0}" width="${cols * cw}" height="${rows * ch}" preserveAspectRatio="none" ` +
        `style="image-rendering:pixelated" href="${spec.raster}"/>`,
    );
  } else {
    out.push(`<g class="cells" shape-rendering="crispEdges">`);
    const texts: string[] = [];
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const cell = spec.cell!(r, c);
        if (!cell) continue;
        const x = x0 + c * cw;
        const y = y0 + r * ch;
        out.push(`<rect x="${x}" y="${y}" width="${cw}" height="${ch}" fill="${escapeXml(cell.fill)}" data-row="${r}" data-col="${c}"/>`);
        if (cell.image) {
          out.push(`<image x="${x + 1}" y="${y + 1}" width="${cw - 2}" height="${ch - 2}" preserveAspectRatio="none" style="image-rendering:pixelated" href="${cell.image}"/>`);
        }
        if (cell.text) {
          texts.push(
            `<text x="${(x + cw / 2).toFixed(1)}" y="${(y + ch / 2).toFixed(1)}" fill="${escapeXml(cell.textFill ?? text)}" xml:space="preserve">${escapeXml(cell.text)}</text>`,
          );
        }
      }
    }
    out.push(`</g>`);
    if (texts.length) {
      out.push(`<g class="cell-text" font-family="${FONT}" font-size="10" text-anchor="middle" dominant-baseline="central">`, ...texts, `</g>`);
    }
  }
  out.push(`</svg>`);
  return out.join("\n");
}

/**
 * A grid of head cells as SVG, read from the page: every `[data-layer][data-head]` element in
 * `container` (the head grids of InductionScores and OVBrowser, AttentionExplorer's thumbnails)
 * becomes one cell with its background, its text, and its canvas (a thumbnail) if it has one.
 */
export function headGridSvg(container: Element, title: string, colors: SvgGridSpec["colors"], note?: string): string {
  const cells = [...container.querySelectorAll<HTMLElement>("[data-layer][data-head]")];
  const at = new Map(cells.map((c) => [`${c.dataset.layer}.${c.dataset.head}`, c]));
  const layers = Math.max(0, ...cells.map((c) => Number(c.dataset.layer) + 1));
  const heads = Math.max(0, ...cells.map((c) => Number(c.dataset.head) + 1));
  const thumbs = cells.some((c) => c.querySelector("canvas"));
  return gridSvg({
    title,
    note,
    rowTitle: "layer",
    colTitle: "head",
    rowLabels: Array.from({ length: layers }, (_, l) => `L${l}`),
    colLabels: Array.from({ length: heads }, (_, h) => `H${h}`),
    cellWidth: thumbs ? 48 : 46,
    cellHeight: thumbs ? 48 : 28,
    colors,
    cell(l, h) {
      const el = at.get(`${l}.${h}`);
      if (!el) return null;
      const style = getComputedStyle(el);
      const canvas = el.querySelector("canvas");
      if (canvas) return { fill: colors.background, image: canvas.toDataURL("image/png") };
      return { fill: cssHex(style.backgroundColor, colors.background), text: el.textContent ?? "", textFill: cssHex(style.color, colors.text) };
    },
  });
}

/**
 * A grid whose cells the caller computes, as {@link gridSvg} writes it: one rect a cell (`cell`)
 * up to {@link MAX_VECTOR_CELLS} cells, past that one embedded raster of their colours (`rgb`).
 * The heatmap's and the rectangular grid's "Save SVG".
 */
export function cellGridSvg(
  spec: Omit<SvgGridSpec, "cell" | "raster">,
  cell: (r: number, c: number) => SvgCell | null,
  rgb: (r: number, c: number) => readonly [number, number, number],
): string {
  const rows = spec.rowLabels.length;
  const cols = spec.colLabels.length;
  return gridSvg(rows * cols <= MAX_VECTOR_CELLS ? { ...spec, cell } : { ...spec, raster: rasterCells(rows, cols, rgb) });
}

/** `rows` x `cols` cells, one pixel each, as a PNG data URL (for `SvgGridSpec.raster`). */
export function rasterCells(rows: number, cols: number, rgb: (r: number, c: number) => readonly [number, number, number]): string {
  const canvas = document.createElement("canvas");
  canvas.width = cols;
  canvas.height = rows;
  const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
  const pixels = ctx.createImageData(cols, rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const o = (r * cols + c) * 4;
      const [R, G, B] = rgb(r, c);
      pixels.data[o] = R;
      pixels.data[o + 1] = G;
      pixels.data[o + 2] = B;
      pixels.data[o + 3] = 255;
    }
  }
  ctx.putImageData(pixels, 0, 0);
  return canvas.toDataURL("image/png");
}

/** Any CSS colour the page computed, as `#rrggbb` (`fallback` for none or transparent). */
export function cssHex(css: string, fallback: string): string {
  const c = parseColor(css);
  return c && c.a > 0 ? hex(c) : fallback;
}
