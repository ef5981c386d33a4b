/** LogitLens's pager: "positions 480–511 of 512" with earlier/later buttons (hidden when one
 * page holds every position). The view has two, above the guesses and above the grid. */
import { createButton } from "../kit/button";
import { pagerText } from "./state";

export interface Pager {
  set(start: number, end: number, total: number, hasEarlier: boolean, hasLater: boolean, complete: boolean): void;
}

export function createPager(parent: HTMLElement, turn: (by: number) => void): Pager {
  const bar = document.createElement("div");
  bar.className = "cw-ll-pager";
  const earlier = createButton("◀ Earlier", "Show the previous positions");
  earlier.setAttribute("aria-label", "Earlier positions");
  const label = document.createElement("span");
  label.className = "cw-ll-pager-label";
  label.setAttribute("aria-live", "polite");
  const later = createButton("Later ▶", "Show the next positions");
  later.setAttribute("aria-label", "Later positions");
  earlier.addEventListener("click", () => turn(-1));
  later.addEventListener("click", () => turn(1));
  bar.append(earlier, label, later);
  parent.append(bar);
  return {
    set(start, end, total, hasEarlier, hasLater, complete) {
      bar.hidden = !hasEarlier && !hasLater;
      label.textContent = pagerText(start, end, total, complete);
      earlier.disabled = !hasEarlier;
      later.disabled = !hasLater;
    },
  };
}
