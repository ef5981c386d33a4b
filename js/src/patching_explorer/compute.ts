/**
 * Computing an exact grid from the browser: one "exact" request per chunk of cells, the next
 * one only after the last answered, so the kernel is free between chunks. Cancel stops
 * asking (the chunk being computed still finishes in the kernel; the cells done are kept
 * there and computing again goes on from them). Progress is reported after every chunk.
 */
import type { AnyModel } from "@anywidget/types";
import { failureText, invoke, isQuiet } from "../kit/channel";
import type { State } from "./shared";
import type { GridName } from "./state";

export interface ExactRunner {
  /** The grid being computed, or null. */
  readonly running: GridName | null;
  start(grid: GridName): void;
  cancel(): void;
}

export function createExactRunner(
  model: AnyModel<State>,
  signal: AbortSignal,
  on: {
    progress: (grid: GridName, done: number, total: number) => void;
    finished: (grid: GridName, outcome: "done" | "cancelled" | "failed", message: string) => void;
  },
): ExactRunner {
  let running: GridName | null = null;
  let controller: AbortController | null = null;
  signal.addEventListener("abort", () => controller?.abort());

  async function loop(grid: GridName, mine: AbortController) {
    const run = model.get("run_id");
    on.progress(grid, 0, 0);
    try {
      for (;;) {
        const answer = await invoke<{ done: number; total: number }>(model, "exact", { grid, run }, { signal: mine.signal, timeout: 0 });
        on.progress(grid, answer.done, answer.total);
        if (answer.done >= answer.total) break;
      }
      finish(mine, grid, "done", "");
    } catch (e) {
      finish(mine, grid, isQuiet(e) ? "cancelled" : "failed", isQuiet(e) ? "" : failureText(e));
    }
  }

  function finish(mine: AbortController, grid: GridName, outcome: "done" | "cancelled" | "failed", message: string) {
    if (controller !== mine) return;
    controller = null;
    running = null;
    if (!signal.aborted) on.finished(grid, outcome, message);
  }

  return {
    get running() {
      return running;
    },
    start(grid) {
      if (running !== null) return;
      running = grid;
      controller = new AbortController();
      void loop(grid, controller);
    },
    cancel() {
      controller?.abort();
    },
  };
}
