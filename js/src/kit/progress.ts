/**
 * The progress line every view shows while Python computes: a spinner and a short message
 * (Python's `busy` trait), announced to screen readers (`role=status`), hidden when idle;
 * with a fraction (e.g. AttentionExplorer's `busy_fraction`, the layers done) also a bar
 * (`role=progressbar`, its value in percent).
 *
 *     const progress = createProgress(frame.body, "cw-ae-progress");
 *     progress.show("running the model on 512 tokens…");   // "" hides it
 *     progress.show("Running the model: layer 3 of 12 done", 0.25);
 */
import "./progress.css";

export interface Progress {
  readonly element: HTMLElement;
  /** Show `message` (and a bar at `fraction` in 0..1 when given), or hide the line when the
   * message is empty. */
  show(message: string, fraction?: number | null): void;
}

export function createProgress(parent: HTMLElement, className: string): Progress {
  const element = document.createElement("div");
  element.className = `cw-progress ${className}`;
  element.setAttribute("role", "status");
  element.hidden = true;
  const text = document.createElement("span");
  const bar = document.createElement("div");
  bar.className = "cw-progress-bar";
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.hidden = true;
  const fill = document.createElement("div");
  fill.className = "cw-progress-fill";
  bar.append(fill);
  element.append(text, bar);
  parent.append(element);
  return {
    element,
    show(message: string, fraction: number | null = null) {
      element.hidden = message === "";
      text.textContent = message;
      const known = message !== "" && fraction !== null && Number.isFinite(fraction);
      bar.hidden = !known;
      if (known) {
        const percent = Math.round(Math.min(1, Math.max(0, fraction as number)) * 100);
        fill.style.width = `${percent}%`;
        bar.setAttribute("aria-valuenow", String(percent));
        bar.setAttribute("aria-label", message);
      }
    },
  };
}
