/**
 * One head's eigenvalues in the complex plane, drawn as SVG (a head has at most a few hundred).
 *
 * Axes cross at 0; reference rings are labelled with the |λ| they stand for (see
 * `spectrum_geometry.ts` for the linear and log-magnitude scales). Points right of the
 * imaginary axis (Re λ > 0: copying) take the scale's "high" colour, the others its "low"
 * colour, as in the copying map. Hover a point, or focus the plot and use the arrow keys, for
 * its value.
 *
 * For tests and tools the element carries `data-points` (JSON `[[re, im], ...]`: the values
 * plotted, largest |λ| first), `data-scale` and `data-active` (the inspected point's index).
 */
import type { Palette } from "../kit/color_scale";
import { toCss } from "../kit/color";
import type { Tooltip } from "../kit/tooltip";
import {
  eigenCard,
  eigenKeys,
  largestMagnitude,
  nearest,
  project,
  radialScale,
  type RadialKind,
  type RadialScale,
} from "./spectrum_geometry";

const SVG = "http://www.w3.org/2000/svg";
/** viewBox size, and the plot radius inside it (room for ring labels). */
const SIZE = 320;
const RADIUS = 136;
const CENTRE = SIZE / 2;
/** Pointer distance (viewBox units) within which a point counts as hovered. */
const HOVER_DISTANCE = 14;

export interface SpectrumPlot {
  readonly element: HTMLElement;
  /** `pairs`: (re, im) of each eigenvalue, largest first; `label` names the head. */
  setData(pairs: Float32Array | null, label: string): void;
  setKind(kind: RadialKind): void;
  setPalette(palette: Palette): void;
}

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

export function createSpectrumPlot(parent: HTMLElement, tooltip: Tooltip): SpectrumPlot {
  const element = document.createElement("div");
  element.className = "cw-ov-plot";
  const svg = el("svg", { viewBox: `0 0 ${SIZE} ${SIZE}`, role: "img", tabindex: 0 });
  const rings = el("g", { class: "cw-ov-rings" });
  const axes = el("g", { class: "cw-ov-axes" });
  const dots = el("g", { class: "cw-ov-dots" });
  const focusRing = el("circle", { class: "cw-ov-focus", r: 7, visibility: "hidden" });
  const empty = el("text", { x: CENTRE, y: CENTRE, class: "cw-ov-empty", "text-anchor": "middle" });
  svg.append(rings, axes, dots, focusRing, empty);
  element.append(svg);
  parent.append(element);

  axes.append(
    el("line", { x1: CENTRE - RADIUS - 8, y1: CENTRE, x2: CENTRE + RADIUS + 8, y2: CENTRE }),
    el("line", { x1: CENTRE, y1: CENTRE - RADIUS - 8, x2: CENTRE, y2: CENTRE + RADIUS + 8 }),
  );
  const axisText = (text: string, x: number, y: number, anchor: string) => {
    const t = el("text", { x, y, "text-anchor": anchor, class: "cw-ov-axis-label" });
    t.textContent = text;
    axes.append(t);
  };
  axisText("Re", CENTRE + RADIUS + 10, CENTRE + 4, "start");
  axisText("Im", CENTRE, CENTRE - RADIUS - 12, "middle");

  let pairs: Float32Array | null = null;
  let kind: RadialKind = "linear";
  let scale: RadialScale = radialScale(kind, 1);
  let xy = new Float32Array(0); // viewBox coordinates of each point
  let circles: SVGCircleElement[] = [];
  let active = -1;
  let label = "";
  let colours = { positive: "#1d5bd6", negative: "#d9453a", outline: "#fff" };

  function draw() {
    const n = pairs ? pairs.length / 2 : 0;
    scale = radialScale(kind, pairs ? largestMagnitude(pairs) : 1);
    rings.replaceChildren(...ringNodes(scale));
    xy = new Float32Array(n * 2);
    circles = [];
    const nodes: SVGCircleElement[] = [];
    // Draw the smallest first so the large (important) eigenvalues sit on top.
    for (let i = n - 1; i >= 0; i--) {
      const re = pairs![2 * i] as number;
      const im = pairs![2 * i + 1] as number;
      const [x, y] = project(re, im, scale);
      const cx = CENTRE + x * RADIUS;
      const cy = CENTRE - y * RADIUS;
      xy[2 * i] = cx;
      xy[2 * i + 1] = cy;
      const dot = el("circle", {
        cx,
        cy,
        r: 4,
        class: re > 0 ? "cw-ov-dot cw-ov-dot-positive" : "cw-ov-dot cw-ov-dot-negative",
        fill: re > 0 ? colours.positive : colours.negative,
        stroke: colours.outline,
      });
      circles[i] = dot;
      nodes.push(dot);
    }
    dots.replaceChildren(...nodes);
    empty.textContent = pairs ? "" : "computing…";
    const points: [number, number][] = [];
    for (let i = 0; i < n; i++) points.push([pairs![2 * i] as number, pairs![2 * i + 1] as number]);
    element.dataset.points = JSON.stringify(points);
    element.dataset.scale = kind;
    svg.setAttribute(
      "aria-label",
      pairs
        ? `Eigenvalues of ${label}: ${n} points in the complex plane, ${kind === "log" ? "log" : "linear"} magnitude. Arrow keys step through them, largest first.`
        : `Eigenvalues of ${label}: being computed`,
    );
    inspect(active < n ? active : -1);
  }

  function inspect(i: number) {
    active = i;
    element.dataset.active = String(i);
    const dot = circles[i];
    if (i < 0 || !pairs || !dot) {
      focusRing.setAttribute("visibility", "hidden");
      tooltip.hide();
      return;
    }
    const re = pairs[2 * i] as number;
    const im = pairs[2 * i + 1] as number;
    focusRing.setAttribute("cx", String(xy[2 * i]));
    focusRing.setAttribute("cy", String(xy[2 * i + 1]));
    focusRing.setAttribute("visibility", "visible");
    tooltip.show(dot, eigenCard(re, im, i, pairs.length / 2, kind, scale.floor));
  }

  const toViewBox = (e: PointerEvent) => {
    const box = svg.getBoundingClientRect();
    return [((e.clientX - box.left) / box.width) * SIZE, ((e.clientY - box.top) / box.height) * SIZE] as const;
  };
  svg.addEventListener("pointermove", (e) => {
    const [x, y] = toViewBox(e);
    const i = nearest(xy, x, y, HOVER_DISTANCE);
    if (i !== active) inspect(i);
  });
  svg.addEventListener("pointerleave", () => inspect(-1));
  svg.addEventListener("blur", () => inspect(-1));
  svg.addEventListener("keydown", (e) => {
    const n = pairs ? pairs.length / 2 : 0;
    if (n === 0) return;
    const moves = eigenKeys(active, n);
    if (e.key in moves) {
      e.preventDefault();
      e.stopPropagation();
      inspect(moves[e.key]!);
    } else if (e.key === "Escape") {
      inspect(-1);
    }
  });

  draw();
  return {
    element,
    setData(next, nextLabel) {
      pairs = next;
      label = nextLabel;
      draw();
    },
    setKind(next) {
      kind = next;
      draw();
    },
    setPalette(palette) {
      colours = { positive: toCss(palette.high), negative: toCss(palette.low), outline: toCss(palette.background) };
      draw();
    },
  };
}

/** The magnitude rings, each labelled where it meets a 45° line in the upper right, clear of
 * the axes. */
function ringNodes(scale: RadialScale): SVGElement[] {
  return scale.rings.flatMap((ring) => {
    const r = ring.r * RADIUS;
    const circle = el("circle", { cx: CENTRE, cy: CENTRE, r, class: ring.value === 1 ? "cw-ov-ring cw-ov-unit" : "cw-ov-ring" });
    const text = el("text", { x: CENTRE + r * 0.707 + 3, y: CENTRE - r * 0.707 - 3, class: "cw-ov-ring-label" });
    text.textContent = ring.label;
    return [circle, text];
  });
}
