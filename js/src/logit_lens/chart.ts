/**
 * A small SVG line chart of one value per readout (the target's probability, or its rank on
 * a log axis with 1 at the top), with the slider's readout marked. Clicking a readout's column
 * picks it. Labels are SVG text set with `textContent`.
 *
 *     const chart = createLineChart(parent, { title: "probability", axis: "linear", onPick });
 *     chart.set([0.01, 0.2, 0.9], ["embed", "+L0", "+L1"], 2);
 */

export interface LineChartOptions {
  title: string;
  /** "linear": 0 .. 1 upwards; "rank": log scale from `maxRank` (bottom) to 1 (top). */
  axis: "linear" | "rank";
  format: (value: number) => string;
  onPick: (index: number) => void;
}

export interface LineChart {
  readonly element: HTMLElement;
  set(values: readonly number[], labels: readonly string[], marked: number, maxRank?: number): void;
}

const SVG = "http://www.w3.org/2000/svg";
const W = 300;
const H = 132;
const PAD = { left: 40, right: 10, top: 10, bottom: 24 };

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** y position (0 at the top of the plot area, 1 at the bottom) of a value on the axis. */
export function axisFraction(axis: "linear" | "rank", value: number, maxRank: number): number {
  if (!Number.isFinite(value)) return 1;
  if (axis === "linear") return 1 - Math.min(1, Math.max(0, value));
  const top = Math.log(Math.max(2, maxRank));
  return Math.min(1, Math.max(0, Math.log(Math.max(1, value)) / top));
}

export function createLineChart(parent: HTMLElement, options: LineChartOptions): LineChart {
  const element = document.createElement("figure");
  element.className = "cw-ll-chart";
  const caption = document.createElement("figcaption");
  caption.textContent = options.title;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img" });
  root.setAttribute("aria-label", `${options.title} at each readout`);
  element.append(caption, root);
  parent.append(element);

  return {
    element,
    set(values, labels, marked, maxRank = 1) {
      const n = values.length;
      const plotW = W - PAD.left - PAD.right;
      const plotH = H - PAD.top - PAD.bottom;
      const x = (i: number) => PAD.left + (n > 1 ? (i / (n - 1)) * plotW : plotW / 2);
      const y = (v: number) => PAD.top + axisFraction(options.axis, v, maxRank) * plotH;
      const nodes: SVGElement[] = [];
      const ticks = options.axis === "linear" ? [0, 0.5, 1] : rankTicks(maxRank);
      for (const t of ticks) {
        nodes.push(svg("line", { class: "cw-ll-chart-grid", x1: PAD.left, x2: W - PAD.right, y1: y(t), y2: y(t) }));
        nodes.push(svg("text", { class: "cw-ll-chart-tick", x: PAD.left - 5, y: y(t), "text-anchor": "end", "dominant-baseline": "middle" }, options.axis === "linear" ? String(t) : rankLabel(t)));
      }
      if (marked >= 0 && marked < n) {
        nodes.push(svg("line", { class: "cw-ll-chart-mark", x1: x(marked), x2: x(marked), y1: PAD.top - 4, y2: H - PAD.bottom }));
      }
      const every = Math.ceil(n / 7);
      labels.forEach((label, i) => {
        if (i % every === 0 || i === n - 1) {
          nodes.push(svg("text", { class: "cw-ll-chart-tick", x: x(i), y: H - 8, "text-anchor": "middle" }, label));
        }
      });
      const points = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      nodes.push(svg("polyline", { class: "cw-ll-chart-line", points }));
      values.forEach((v, i) => {
        const dot = svg("circle", { class: i === marked ? "cw-ll-chart-dot cw-ll-chart-dot-on" : "cw-ll-chart-dot", cx: x(i), cy: y(v), r: i === marked ? 4 : 2.5 });
        dot.append(svg("title", {}, `${labels[i]}: ${options.format(v)}`));
        nodes.push(dot);
      });
      // Click targets: one column per readout.
      const colW = n > 1 ? plotW / (n - 1) : plotW;
      values.forEach((_, i) => {
        const hit = svg("rect", { class: "cw-ll-chart-hit", x: x(i) - colW / 2, y: 0, width: colW, height: H, "data-index": i });
        hit.addEventListener("click", () => options.onPick(i));
        nodes.push(hit);
      });
      root.replaceChildren(...nodes);
      element.dataset.values = values.map((v) => options.format(v)).join(" ");
    },
  };
}

function rankTicks(maxRank: number): number[] {
  const ticks = [1];
  for (let t = 10; t < maxRank; t *= 100) ticks.push(t);
  return ticks;
}

function rankLabel(rank: number): string {
  return rank >= 1000 ? `${rank / 1000}k` : String(rank);
}
