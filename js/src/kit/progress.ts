/**
 * The progress line every view shows while Python computes: a spinner and a short message
 * (Python's `busy` trait), announced to screen readers (`role=status`), hidden when idle.
 *
 *     const progress = createProgress(frame.body, "cw-ae-progress");
 *     progress.show("running the model on 512 tokens…");   // "" hides it
 */
import "./progress.css";

export interface Progress {
  readonly element: HTMLElement;
  /** Show `message`, or hide the line when it is empty. */
  show(message: string): void;
}

export function createProgress(parent: HTMLElement, className: string): Progress {
  const element = document.createElement("div");
  element.className = `cw-progress ${className}`;
  element.setAttribute("role", "status");
  element.hidden = true;
  parent.append(element);
  return {
    element,
    show(message: string) {
      element.hidden = message === "";
      element.textContent = message;
    },
  };
}
