/**
 * A slider over a few named steps (0 .. max), with a label under every step it has room for:
 * an ARIA `role="slider"` that screen readers announce by its value text ("after layer 3").
 *
 * Mouse: press or drag on the track, or click a step's label. Keyboard (slider focused):
 * arrows step by one, Page Up/Down by a quarter of the range, Home and End go to the ends.
 * The slider only reports a new value (`onChange`); the caller decides and calls `set`, so it
 * can follow a shared selection.
 *
 *     const slider = createSlider(parent, { label: "Readout", onChange: (v) => select(v) });
 *     slider.set(2, ["embed", "+L0", "+L1"], "after layer 1");
 */
import "./slider.css";

export interface SliderOptions {
  /** Accessible name of the slider. */
  label: string;
  /** The user asked for `value` (already clamped to 0..max and different from the current). */
  onChange: (value: number) => void;
}

export interface Slider {
  readonly element: HTMLElement;
  /** The focusable `role="slider"` element. */
  readonly handle: HTMLElement;
  /** Show `value` of `steps.length` steps named `steps`, announced as `valueText`. */
  set(value: number, steps: readonly string[], valueText: string): void;
  readonly value: number;
}

/** The step nearest to a fraction `x` (0..1) of the track, for `count` steps. */
export function stepAt(x: number, count: number): number {
  if (count <= 1) return 0;
  return Math.min(count - 1, Math.max(0, Math.round(x * (count - 1))));
}

/** The step a key moves to from `value` (of `count` steps), or `null` for other keys. */
export function stepForKey(key: string, value: number, count: number): number | null {
  const last = Math.max(0, count - 1);
  const page = Math.max(1, Math.round(count / 4));
  const moves: Record<string, number> = {
    ArrowRight: value + 1, ArrowUp: value + 1, ArrowLeft: value - 1, ArrowDown: value - 1,
    PageUp: value + page, PageDown: value - page, Home: 0, End: last,
  };
  const next = moves[key];
  return next === undefined ? null : Math.min(last, Math.max(0, next));
}

export function createSlider(parent: HTMLElement, options: SliderOptions): Slider {
  const element = document.createElement("div");
  element.className = "cw-slider";
  const track = document.createElement("div");
  track.className = "cw-slider-track";
  const fill = document.createElement("div");
  fill.className = "cw-slider-fill";
  const handle = document.createElement("div");
  handle.className = "cw-slider-thumb";
  handle.tabIndex = 0;
  handle.setAttribute("role", "slider");
  handle.setAttribute("aria-label", options.label);
  handle.setAttribute("aria-valuemin", "0");
  handle.setAttribute("aria-orientation", "horizontal");
  // Keep JupyterLab's notebook shortcuts out of the slider's keys.
  handle.setAttribute("data-lm-suppress-shortcuts", "true");
  track.append(fill, handle);
  const stops = document.createElement("div");
  stops.className = "cw-slider-stops";
  element.append(track, stops);
  parent.append(element);

  let value = 0;
  let count = 1;

  const ask = (next: number) => {
    if (next !== value) options.onChange(next);
  };
  const fromPointer = (clientX: number) => {
    const box = track.getBoundingClientRect();
    ask(stepAt(box.width > 0 ? (clientX - box.left) / box.width : 0, count));
  };

  // A drag follows the pointer anywhere on the page until the button is released.
  track.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    handle.focus();
    fromPointer(e.clientX);
    const move = (ev: PointerEvent) => fromPointer(ev.clientX);
    const end = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", end);
      window.removeEventListener("pointercancel", end);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", end);
    window.addEventListener("pointercancel", end);
  });
  handle.addEventListener("keydown", (e) => {
    const next = stepForKey(e.key, value, count);
    if (next === null) return;
    e.preventDefault();
    e.stopPropagation();
    ask(next);
  });
  stops.addEventListener("click", (e) => {
    const stop = e.target instanceof Element ? e.target.closest<HTMLElement>(".cw-slider-stop") : null;
    if (stop) ask(Number(stop.dataset.step));
  });

  return {
    element,
    handle,
    get value() {
      return value;
    },
    set(next, steps, valueText) {
      count = Math.max(1, steps.length);
      value = Math.min(count - 1, Math.max(0, next));
      const at = count > 1 ? (value / (count - 1)) * 100 : 0;
      handle.style.left = `${at}%`;
      fill.style.width = `${at}%`;
      handle.setAttribute("aria-valuemax", String(count - 1));
      handle.setAttribute("aria-valuenow", String(value));
      handle.setAttribute("aria-valuetext", valueText);
      if (stops.childElementCount !== count || [...stops.children].some((s, i) => s.textContent !== steps[i])) {
        stops.replaceChildren(
          ...steps.map((name, i) => {
            const stop = document.createElement("span");
            stop.className = "cw-slider-stop";
            stop.dataset.step = String(i);
            stop.style.left = `${count > 1 ? (i / (count - 1)) * 100 : 0}%`;
            stop.textContent = name;
            return stop;
          }),
        );
      }
      // Room for about 14 labels: with more steps, label every n-th (and the current one).
      const every = Math.ceil(count / 14);
      [...stops.children].forEach((s, i) => {
        s.classList.toggle("cw-slider-stop-on", i === value);
        s.classList.toggle("cw-slider-stop-minor", i % every !== 0 && i !== count - 1 && i !== value);
      });
    },
  };
}
