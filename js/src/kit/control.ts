/**
 * A form control in the views' one style (kit/control.css): a `<select>` or an `<input>`,
 * with the view's own class for its width and font.
 *
 *     const k = createControl("select", "cw-ov-select");
 *     const box = createControl("input", "cw-ll-picker-input");
 */
import "./control.css";

export function createControl<K extends "input" | "select">(tag: K, className: string): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  element.className = `cw-control ${className}`;
  return element;
}
