/**
 * A colour legend: a gradient bar for a {@link ColorScale} with tick labels, plus optional
 * swatches for special values (e.g. "no prediction").
 *
 *     const legend = createLegend(parent, {
 *       title: "P(next token)", ticks: [0, 0.5, 1], format: (v) => v.toFixed(1),
 *       swatches: [{ label: "first token: nothing to predict from", className: "cw-token-none" }],
 *     });
 *     legend.setScale(scale);      // again whenever the theme changes
 */
import "./legend.css";
import type { ColorScale } from "./color_scale";

export interface LegendOptions {
  title: string;
  /** Values to label under the bar (inside the scale's domain). */
  ticks: readonly number[];
  format: (value: number) => string;
  /** Extra keys drawn after the bar; `className` styles the swatch. */
  swatches?: ReadonlyArray<{ label: string; className: string }>;
}

export interface Legend {
  readonly element: HTMLElement;
  /** Draw `scale`, labelled at `ticks` (default: the ticks given at creation). */
  setScale(scale: ColorScale, ticks?: readonly number[]): void;
  setTitle(text: string): void;
}

const GRADIENT_STOPS = 16;

export function createLegend(parent: HTMLElement, options: LegendOptions): Legend {
  const element = document.createElement("div");
  element.className = "cw-legend";

  const title = document.createElement("span");
  title.className = "cw-legend-title";
  title.textContent = options.title;

  const scaleBox = document.createElement("div");
  scaleBox.className = "cw-legend-scale";
  const bar = document.createElement("div");
  bar.className = "cw-legend-bar";
  const ticks = document.createElement("div");
  ticks.className = "cw-legend-ticks";
  scaleBox.append(bar, ticks);
  element.append(title, scaleBox);

  for (const { label, className } of options.swatches ?? []) {
    const key = document.createElement("span");
    key.className = "cw-legend-key";
    const swatch = document.createElement("span");
    swatch.className = `cw-legend-swatch ${className}`;
    const text = document.createElement("span");
    text.textContent = label;
    key.append(swatch, text);
    element.append(key);
  }
  parent.append(element);

  return {
    element,
    setTitle(text) {
      title.textContent = text;
    },
    setScale(scale, tickValues = options.ticks) {
      const [lo, hi] = scale.domain;
      bar.style.backgroundImage = `linear-gradient(to right, ${scale.stops(GRADIENT_STOPS).join(", ")})`;
      ticks.replaceChildren(
        ...tickValues.map((value) => {
          const tick = document.createElement("span");
          tick.className = "cw-legend-tick";
          const at = ((value - lo) / (hi - lo)) * 100;
          tick.style.left = `${Math.min(100, Math.max(0, at))}%`;
          tick.dataset.edge = at <= 0 ? "start" : at >= 100 ? "end" : "";
          tick.textContent = options.format(value);
          return tick;
        }),
      );
    },
  };
}
