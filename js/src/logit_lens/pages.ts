/**
 * LogitLens's page requests: the page shown first, then, once idle, the pages on either side,
 * through the channel (`invoke("page", {run, page, lens, target})`). One request at a time, so
 * the kernel is never queued up for long; an answer from an older run is dropped by the view.
 */
import { failureText, invoke, isQuiet } from "../kit/channel";
import type { LensPageWire, TargetPageWire } from "./data";
import type { LensNow } from "./shared";
import { pageNeed, pagesToAsk } from "./state";

export interface PageAnswer {
  run: number;
  page: number;
  lens?: LensPageWire;
  target?: TargetPageWire;
}

export interface PageFetcher {
  /** Ask for the next page the view lacks, unless a request is in flight. */
  fetch(): void;
  /** A new run: forget the request in flight. */
  reset(): void;
}

export function createPageFetcher(
  now: LensNow,
  options: { page(): number; pageSize(): number; onAnswer(answer: PageAnswer): void; onFailure(text: string): void },
): PageFetcher {
  let requested: string | null = null; // the one page request in flight ("run:page")

  function fetch() {
    const lens = now.lens();
    const target = now.target();
    if (!lens || now.isStatic() || requested !== null) return;
    for (const n of pagesToAsk(options.page(), lens.positions, options.pageSize())) {
      const need = target ? pageNeed(lens, target, n, options.pageSize()) : null;
      if (!need) continue;
      const key = (requested = `${lens.run}:${n}`);
      const settled = () => {
        if (requested !== key) return false;
        requested = null;
        return true;
      };
      invoke<PageAnswer>(now.model, "page", { run: lens.run, page: n, lens: need.lens, target: need.target }, { signal: now.signal }).then(
        (answer) => {
          settled();
          options.onAnswer(answer);
          fetch();
        },
        (e) => {
          if (!settled() || isQuiet(e)) return;
          options.onFailure(failureText(e));
        },
      );
      return;
    }
  }

  return {
    fetch,
    reset() {
      requested = null;
    },
  };
}
