/**
 * A form control in the views' one style (kit/control.css): a `<select>` or an `<input>`,
 * with the view's own class for its width and font.
 *
 *     const k = createControl("select", "cw-ov-select");
 *     const box = createControl("input", "cw-target-box-input");
 */
import "./control.css";

export function createControl<K extends "input" | "select">(tag: K, className: string): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  element.className = `cw-control ${className}`;
  return element;
}

/** A one-line text box where a token is typed (`createControl("input", className)`): no spell
 * check, and keys typed in it are not JupyterLab's notebook shortcuts. */
export function createTokenInput(className: string, placeholder: string, label?: string): HTMLInputElement {
  const input = createControl("input", className);
  input.type = "text";
  input.spellcheck = false;
  input.setAttribute("data-lm-suppress-shortcuts", "true");
  if (label) input.setAttribute("aria-label", label);
  input.placeholder = placeholder;
  return input;
}
