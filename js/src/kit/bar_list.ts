/**
 * A list of horizontal bars, one a row: a label, a track with the bar's fill (and, where the
 * axis has one, its zero line), the value — LogitLens's "who wrote it" and PathExplorer's
 * waterfall of path terms. A bar that selects something is a `<button>` (pressed:
 * `aria-pressed="true"`); its hover card shows on hover and on keyboard focus.
 *
 *     const list = createBarList(panel.body, "cw-ll-bars");
 *     list.append(createBar({ name: "cw-ll-bar", kind: "head", label: "L1H3", value: 0.42, valueText: "+0.42",
 *       fill: { left: "50%", width: "21%", tone: "up" }, zero: "50%", button: true }));
 *
 * Sizes are CSS variables on the list: `--cw-bar-label-width`, `--cw-bar-value-width`,
 * `--cw-bar-track-height`. For tests and tools each bar carries the view's class names
 * (`name`, `name-{kind}`; its label `name-label`) and `data-value`.
 */
import "./bar_list.css";
import type { Tooltip, TooltipContent } from "./tooltip";

export interface BarSpec {
  /** The view's class for its bars (see the module docs). */
  name: string;
  kind: string;
  label: string;
  value: number;
  valueText: string;
  /** The fill on the track, as CSS lengths (percentages of the track), and its colour:
   * the scale's high end (up), its low end (down), or muted (a total). */
  fill: { left: string; width: string; tone: "up" | "down" | "total" };
  /** Where the axis's zero stands on the track (CSS `left`), if the track shows it. */
  zero?: string;
  /** Whether the bar selects something (a `<button>`) or only reads (a `<div>`). */
  button: boolean;
  ariaLabel?: string;
}

/** The list of bars (`role="list"`), appended to `parent`. */
export function createBarList(parent: HTMLElement, className: string): HTMLElement {
  const list = document.createElement("div");
  list.className = `cw-bars ${className}`;
  list.setAttribute("role", "list");
  parent.append(list);
  return list;
}

/** One bar (see {@link BarSpec}). */
export function createBar(spec: BarSpec): HTMLElement {
  const bar = document.createElement(spec.button ? "button" : "div");
  if (bar instanceof HTMLButtonElement) bar.type = "button";
  bar.className = `cw-bar ${spec.name} ${spec.name}-${spec.kind}`;
  bar.setAttribute("role", "listitem");
  if (spec.ariaLabel) bar.setAttribute("aria-label", spec.ariaLabel);
  bar.dataset.kind = spec.kind;
  bar.dataset.value = String(spec.value);
  const label = document.createElement("span");
  label.className = `cw-bar-label ${spec.name}-label`;
  label.textContent = spec.label;
  const track = document.createElement("span");
  track.className = "cw-bar-track";
  if (spec.zero !== undefined) {
    const zero = document.createElement("span");
    zero.className = "cw-bar-zero";
    zero.style.left = spec.zero;
    track.append(zero);
  }
  const fill = document.createElement("span");
  fill.className = `cw-bar-fill cw-bar-${spec.fill.tone}`;
  fill.style.left = spec.fill.left;
  fill.style.width = spec.fill.width;
  track.append(fill);
  const value = document.createElement("span");
  value.className = "cw-bar-value";
  value.textContent = spec.valueText;
  bar.append(label, track, value);
  return bar;
}

/** Show `card()` on `el`'s hover and keyboard focus; hide it when both leave. */
export function cardOnHover(el: HTMLElement, tooltip: Tooltip, card: () => TooltipContent): void {
  const show = () => tooltip.show(el, card());
  const hide = () => tooltip.hide();
  el.addEventListener("pointerenter", show);
  el.addEventListener("focus", show);
  el.addEventListener("pointerleave", hide);
  el.addEventListener("blur", hide);
}
