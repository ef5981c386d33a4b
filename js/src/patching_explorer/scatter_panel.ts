/**
 * PatchingExplorer's scatter: every cell of the open grid as a dot, its attribution estimate
 * across and its exact value up, with the diagonal where the two agree. Shown only while both
 * exist. Each dot is an SVG circle with `data-index` (the cell, row-major) and a title; a
 * click selects the cell.
 */
import { createPanel, type Panel } from "../kit/panel";
import type { PatchingNow } from "./shared";
import { formatTick } from "../kit/format";
import { formatValue, largestGap, scatterPoints } from "./state";

const SIZE = 220;
const PAD = 28;
const NS = "http://www.w3.org/2000/svg";

export interface ScatterPanel {
  readonly panel: Panel;
  draw(name: (index: number) => string): void;
}

function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

export function createScatterPanel(parent: HTMLElement, now: PatchingNow): ScatterPanel {
  const panel = createPanel(parent, { className: "cw-pe-scatter", title: "Exact vs attribution" });
  const svg = svgEl("svg", { width: SIZE, height: SIZE, viewBox: `0 0 ${SIZE} ${SIZE}`, role: "img" });
  const note = document.createElement("p");
  note.className = "cw-pe-scatter-note";
  panel.body.append(svg, note);

  function draw(name: (index: number) => string) {
    const grid = now.grid();
    const approx = now.values(grid, "attribution");
    const exact = now.values(grid, "exact");
    panel.element.hidden = !(approx && exact);
    if (!approx || !exact) return;
    const points = scatterPoints(approx.data, exact.data);
    let lo = 0;
    let hi = 1;
    for (const p of points) {
      lo = Math.min(lo, p.x, p.y);
      hi = Math.max(hi, p.x, p.y);
    }
    const span = hi - lo || 1;
    const sx = (v: number) => PAD + ((v - lo) / span) * (SIZE - 2 * PAD);
    const sy = (v: number) => SIZE - PAD - ((v - lo) / span) * (SIZE - 2 * PAD);
    const nodes: SVGElement[] = [
      svgEl("rect", { class: "cw-pe-scatter-frame", x: PAD, y: PAD, width: SIZE - 2 * PAD, height: SIZE - 2 * PAD }),
      svgEl("line", { class: "cw-pe-scatter-diagonal", x1: sx(lo), y1: sy(lo), x2: sx(hi), y2: sy(hi) }),
    ];
    const axis = (text: string, x: number, y: number, rotate = false) => {
      const t = svgEl("text", { class: "cw-pe-scatter-axis", x, y, "text-anchor": "middle", ...(rotate ? { transform: `rotate(-90 ${x} ${y})` } : {}) });
      t.textContent = text;
      nodes.push(t);
    };
    axis("attribution estimate", SIZE / 2, SIZE - 6);
    axis("exact", 10, SIZE / 2, true);
    axis(formatTick(lo), PAD, SIZE - PAD + 12);
    axis(formatTick(hi), SIZE - PAD, SIZE - PAD + 12);
    for (const p of points) {
      const dot = svgEl("circle", { class: "cw-pe-dot", cx: sx(p.x), cy: sy(p.y), r: 3.5, "data-index": p.index });
      const title = svgEl("title", {});
      title.textContent = `${name(p.index)}: exact ${formatValue(p.y)}, estimate ${formatValue(p.x)}`;
      dot.append(title);
      dot.addEventListener("click", () => {
        const cols = now.layout().cols;
        now.pick(Math.floor(p.index / cols), p.index % cols);
      });
      nodes.push(dot);
    }
    svg.replaceChildren(...nodes);
    svg.setAttribute("aria-label", `Exact against estimated value of ${points.length} cells`);
    note.textContent = `${points.length} cells; the largest gap between exact and estimate is ${formatValue(largestGap(points))}.`;
  }

  return { panel, draw };
}
