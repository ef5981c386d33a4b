/**
 * AttentionExplorer's pair panel: when the shared selection holds a pair of heads (an edge of
 * the composition graph, a two-head path of the path explorer), the writing head's pattern
 * drawn beside the reading (selected) head's, on the same colour scale, each heatmap labelled
 * with its head and its part in the pair. Hovering a cell of either shows both weights at that
 * (query, key) and the cursor on both; a click locks the cell as the head view's does. The
 * panel is removed when the pair is cleared (another head selected).
 *
 * The writer's full pattern comes like any head's: from the bank, else asked of the kernel
 * (kit/head_patterns.ts, `invoke("pattern", ...)`), drawn meanwhile from its thumbnail and
 * marked "preview".
 *
 * For tests: `.cw-ae-pair[data-layer][data-head][data-resolution]` (absent when no pair);
 * the root's `data-pair` is the pair shown (`"l1 h1 l2 h2"`, `""` for none).
 */
import type { Cell, Heatmap } from "../kit/heatmap";
import { createPanel, type Panel } from "../kit/panel";
import type { Head } from "../kit/selection";
import { visibleToken } from "../kit/token_strip";
import { createPatternHeatmap } from "./head_panel";
import { pairCaption, pairCellRows } from "./pair_state";
import type { ExplorerNow } from "./shared";
import { weightAt, type HeadPattern } from "./state";

export interface PairPanel {
  /** Draw the writer's pattern beside the reader's; `note` explains a preview. */
  show(writer: Head, reader: Head, run: number, pattern: HeadPattern, keepView: boolean, note: string): void;
  /** No pair: remove the panel (the view holds one heatmap again). */
  hide(): void;
  /** The writer drawn, or null when there is none. */
  writer(): Head | null;
  /** Mark the locked (query, key). */
  showLocks(q: number | null, k: number | null): void;
  /** Paint with the view's colour scale again (a theme change). */
  recolour(): void;
  /** The hover card of a cell of either heatmap (both heads' weights), and the cursor on the other. */
  hover(cell: Cell | null, anchor: HTMLElement | null): void;
}

export interface PairPanelOptions {
  /** The reader's heatmap (the head panel's): its cursor follows this one's. */
  readerHeatmap: () => Heatmap;
  /** The reader's pattern as drawn (null before the first). */
  readerPattern: () => HeadPattern | null;
  /** The view's colour scale: the lookup table and the masked colour (the reader's too). */
  colors: () => [Uint8ClampedArray, readonly [number, number, number]];
  /** The pointer is on token `i` (null: left), for the token strip. */
  onFocus: (i: number | null) => void;
}

interface Built {
  panel: Panel;
  heatmap: Heatmap;
  caption: HTMLElement;
  previewNote: HTMLElement;
  stop: AbortController;
}

/** The panel is built when a pair is first shown and removed when it is cleared, so that a
 * view without a pair holds one heatmap, as before pairs existed. */
export function createPairPanel(parent: HTMLElement, before: HTMLElement, now: ExplorerNow, signal: AbortSignal, options: PairPanelOptions): PairPanel {
  const { tooltip } = now;
  let built: Built | null = null;
  let drawn: { writer: Head; reader: Head; pattern: HeadPattern } | null = null;
  let locks: [number | null, number | null] = [null, null];

  function build(): Built {
    const stop = new AbortController();
    const panel = createPanel(parent, { className: "cw-ae-pair", title: "" });
    parent.insertBefore(panel.element, before); // the writer left of the reader
    const heatmap = createPatternHeatmap(panel.body, now, stop.signal, "the pair's writing head", (cell, anchor) => api.hover(cell, anchor));
    const previewNote = document.createElement("div");
    previewNote.className = "cw-ae-note";
    const caption = document.createElement("div");
    caption.className = "cw-ae-note cw-ae-pair-caption";
    panel.body.append(previewNote, caption); // below, as the head view's lock line: the two plots align
    heatmap.setColors(...options.colors());
    return { panel, heatmap, caption, previewNote, stop };
  }

  function remove() {
    if (!built) return;
    built.stop.abort();
    built.panel.element.remove();
    built = null;
  }
  signal.addEventListener("abort", remove);

  const api: PairPanel = {
    show(writer, reader, run, pattern, keepView, note) {
      const fresh = built === null;
      const b = (built ??= build());
      const tokens = now.tokens();
      b.heatmap.setData({ n: pattern.n, levels: pattern.levels, rowLabels: tokens, colLabels: tokens, causal: true }, keepView && !fresh);
      b.heatmap.setMarks(...locks);
      drawn = { writer, reader, pattern };
      const full = pattern.values !== null;
      b.panel.title.textContent = `Layer ${writer.layer} · Head ${writer.head} · writes`;
      b.caption.textContent = pairCaption(writer, reader);
      b.previewNote.hidden = full;
      b.previewNote.textContent = note;
      Object.assign(b.panel.element.dataset, { layer: String(writer.layer), head: String(writer.head), resolution: full ? "full" : "preview", run: String(run) });
    },
    hide() {
      drawn = null;
      remove();
    },
    writer: () => drawn?.writer ?? null,
    showLocks(q, k) {
      locks = [q, k];
      built?.heatmap.setMarks(q, k);
    },
    recolour() {
      built?.heatmap.setColors(...options.colors());
    },
    hover(cell, anchor) {
      const heatmap = built?.heatmap;
      if (!drawn || !heatmap) return;
      if (!cell || !anchor) {
        tooltip.hide();
        heatmap.showCursor(null);
        options.readerHeatmap().showCursor(null);
        options.onFocus(null);
        return;
      }
      const tokens = now.tokens();
      const reader = options.readerPattern();
      const w1 = weightAt(drawn.pattern, cell.row, cell.col);
      const w2 = weightAt(reader, cell.row, cell.col);
      const title = document.createDocumentFragment();
      title.append(visibleToken(tokens[cell.row] ?? ""), " → ", visibleToken(tokens[cell.col] ?? ""));
      tooltip.show(anchor, {
        title,
        rows: pairCellRows(cell.row, cell.col, drawn.writer, w1, drawn.reader, w2),
        note: drawn.pattern.values && reader?.values ? undefined : "preview: the largest weight in this block",
      });
      heatmap.element.dataset.hoverWeight = Number.isFinite(w1) ? String(w1) : "";
      options.readerHeatmap().element.dataset.hoverWeight = Number.isFinite(w2) ? String(w2) : "";
      // the same cell in the other heatmap, so the eye can compare
      if (anchor.closest(".cw-ae-pair")) options.readerHeatmap().showCursor(cell);
      else heatmap.showCursor(cell);
      options.onFocus(now.direction() === "from" ? cell.row : cell.col);
    },
  };
  return api;
}
