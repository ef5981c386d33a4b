/**
 * Re-draw once per batch of model changes.
 *
 * Python updates several traits at once (e.g. `tokens`, `token_ids` and `probs` under
 * `hold_sync`), and the widget model fires one `change:<name>` event per trait. `watch`
 * collapses those into a single call on the next microtask, after every value has landed,
 * so a view never draws half-updated state.
 */
import type { AnyModel } from "@anywidget/types";

export function watch<T extends Record<string, unknown>>(
  model: AnyModel<T>,
  names: ReadonlyArray<keyof T & string>,
  callback: () => void,
  signal: AbortSignal,
): void {
  let queued = false;
  const handler = () => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      if (!signal.aborted) callback();
    });
  };
  for (const name of names) model.on(`change:${name}`, handler);
  signal.addEventListener("abort", () => {
    for (const name of names) model.off(`change:${name}`, handler);
  });
}
