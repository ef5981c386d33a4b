/**
 * "Hover to look, click to lock" (CircuitsVis's contract, which every view that colours by a
 * focused item follows): the item shown is the hovered one while there is one, else the
 * locked one; leaving shows the locked one again.
 *
 *     const focus = createHoverLock(() => selection.get("query"));
 *     focus.hover(i);        // pointer on item i
 *     focus.hover(null);     // pointer left
 *     focus.shown();         // i, or the locked query
 */
export interface HoverLock<T> {
  hover(value: T | null): void;
  /** The hovered item, else the locked one, else null. */
  shown(): T | null;
}

export function createHoverLock<T>(locked: () => T | null): HoverLock<T> {
  let hovered: T | null = null;
  return {
    hover(value) {
      hovered = value;
    },
    shown: () => hovered ?? locked(),
  };
}
