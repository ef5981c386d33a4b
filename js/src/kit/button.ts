/**
 * The plain button every view uses for its controls (`.cw-button`; a toggle shows its state
 * with `aria-pressed`).
 *
 *     const b = createButton("log |λ|", "Distance from the centre proportional to log |λ|");
 */
import "./control.css";
import "./button.css";

export function createButton(text: string, title: string): HTMLButtonElement {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "cw-button";
  b.textContent = text;
  b.title = title;
  return b;
}
