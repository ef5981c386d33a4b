/**
 * A minimap beside a long token strip: a thin bar standing for the whole text, with a box for
 * the part in sight, a line for the inspected token and one for the selected position. Click
 * or drag on it to jump there. For screen readers it is the strip's scrollbar (`role=
 * scrollbar`, its value the share scrolled, in percent); keyboard users move with the strip's
 * own keys.
 *
 *     const map = createMinimap((fraction) => scrollTo(fraction));
 *     map.show(top, height, activeFraction, markFraction);   // fractions of the text, null: none
 */
import "./minimap.css";

export interface Minimap {
  readonly element: HTMLElement;
  show(top: number, height: number, active: number | null, mark: number | null): void;
}

export function createMinimap(jump: (fraction: number) => void): Minimap {
  const element = document.createElement("div");
  element.className = "cw-minimap";
  element.setAttribute("role", "scrollbar");
  element.setAttribute("aria-orientation", "vertical");
  element.setAttribute("aria-label", "where the tokens in sight are in the text");
  element.setAttribute("aria-valuemin", "0");
  element.setAttribute("aria-valuemax", "100");
  element.title = "Click or drag to jump through the text";
  const part = (className: string) => {
    const el = document.createElement("div");
    el.className = className;
    element.append(el);
    return el;
  };
  const box = part("cw-minimap-window");
  const mark = part("cw-minimap-line cw-minimap-mark");
  const active = part("cw-minimap-line cw-minimap-active");

  const at = (e: PointerEvent) => {
    const r = element.getBoundingClientRect();
    return r.height > 0 ? (e.clientY - r.top) / r.height : 0;
  };
  let dragging = false;
  element.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    dragging = true;
    element.setPointerCapture?.(e.pointerId);
    jump(at(e));
  });
  element.addEventListener("pointermove", (e) => {
    if (dragging && e.buttons & 1) jump(at(e));
  });
  const stop = () => {
    dragging = false;
  };
  element.addEventListener("pointerup", stop);
  element.addEventListener("pointercancel", stop);

  const line = (el: HTMLElement, f: number | null) => {
    el.hidden = f === null;
    if (f !== null) el.style.top = `${(f * 100).toFixed(3)}%`;
  };
  return {
    element,
    show(top, height, activeAt, markAt) {
      box.style.top = `${(top * 100).toFixed(3)}%`;
      box.style.height = `${(height * 100).toFixed(3)}%`;
      element.setAttribute("aria-valuenow", String(Math.round((height >= 1 ? 0 : top / (1 - height)) * 100)));
      line(active, activeAt);
      line(mark, markAt);
      if (markAt === null) delete element.dataset.mark;
      else element.dataset.mark = markAt.toFixed(4);
    },
  };
}
