/**
 * AttentionExplorer's head panel: the selected head's pattern as a zoomable heatmap (queries
 * down, keys across), its stats, the preview note while the full pattern is on its way, and
 * the lock line. Hover a cell for its weight; click to lock its (query, key). On a long text
 * (`pattern.layers`, long_text.ts) it is drawn from layers and the hovered weight is fetched
 * at full resolution when the block on screen is pooled (`data-hover-source` names where it
 * came from: block, row or column; empty while it is on its way).
 */
import { createHeatmap, type Cell, type Heatmap } from "../kit/heatmap";
import type { Viewport } from "../kit/heatmap_layout";
import { createPanel, type Panel } from "../kit/panel";
import { visibleToken } from "../kit/token_strip";
import type { ExplorerNow } from "./shared";
import { cellRows, lockCellChange, lockText, weightAt, type HeadPattern } from "./state";

export interface HeadPanel {
  readonly panel: Panel;
  readonly heatmap: Heatmap;
  /** Draw head (layer, head)'s pattern; `note` explains a preview, `stats` go beside the title. */
  show(layer: number, head: number, run: number, pattern: HeadPattern, keepView: boolean, note: string, stats: string[]): void;
  /** Mark the locked (query, key) and say what is locked. */
  showLocks(q: number | null, k: number | null): void;
  /** Redo the hover card of the cell under the cursor (a weight it waited for arrived). */
  refreshHover(): void;
}

/** A head's pattern as a heatmap (queries down, keys across) whose click locks the cell's
 * (query, key), a second click unlocks: the head view's and the pair panel's. `onView` hears
 * the heatmap's zoom (long texts fetch the blocks in sight). */
export function createPatternHeatmap(
  parent: HTMLElement, now: ExplorerNow, signal: AbortSignal, whose: string, onHover: (cell: Cell | null, anchor: HTMLElement) => void,
  onView?: (view: Viewport, px: number) => void,
): Heatmap {
  return createHeatmap(parent, {
    label: `Attention pattern of ${whose}: queries down, keys across`,
    rowTitle: "query",
    colTitle: "key",
    signal,
    onHover,
    onClick: (cell) => now.selection.set(lockCellChange(now.position("query"), now.position("key"), cell.row, cell.col)),
    onView,
  });
}

export function createHeadPanel(
  parent: HTMLElement, now: ExplorerNow, signal: AbortSignal, onFocus: (i: number | null) => void,
  onView?: (view: Viewport, px: number) => void,
): HeadPanel {
  const { tooltip } = now;
  const panel = createPanel(parent, { className: "cw-ae-head", title: "" });
  const stats = document.createElement("span");
  stats.className = "cw-ae-stats";
  panel.header.append(stats);
  const previewNote = document.createElement("div");
  previewNote.className = "cw-ae-note";
  previewNote.hidden = true;
  const heatmap = createPatternHeatmap(panel.body, now, signal, "the selected head", (cell, anchor) => hoverCell(cell, anchor), onView);
  let hovered: { cell: Cell; anchor: HTMLElement } | null = null;
  const lockLine = document.createElement("div");
  lockLine.className = "cw-ae-note";
  panel.body.append(previewNote, lockLine);

  function hoverCell(cell: Cell | null, anchor: HTMLElement) {
    hovered = cell ? { cell, anchor } : null;
    if (now.pairHover(cell, anchor)) return; // a pair is drawn: its card holds both heads' weights
    if (!cell) {
      tooltip.hide();
      onFocus(null);
      return;
    }
    const tokens = now.tokens();
    const current = now.current();
    const w = weightAt(current, cell.row, cell.col);
    const masked = cell.col > cell.row;
    // a long text's weight comes from full-resolution data only: ask for the row if needed
    const source = current?.lookup ? current.lookup(cell.row, cell.col).source : current?.values ? "full" : "preview";
    if (current?.lookup && !masked && !Number.isFinite(w)) current.want?.("row", cell.row);
    heatmap.element.dataset.hoverSource = masked ? "" : source;
    const title = document.createDocumentFragment();
    title.append(visibleToken(tokens[cell.row] ?? ""), " → ", visibleToken(tokens[cell.col] ?? ""));
    const waiting = current?.lookup && !masked && !Number.isFinite(w);
    tooltip.show(anchor, {
      title,
      rows: cellRows(cell.row, cell.col, w),
      note: current?.values || masked ? undefined : current?.lookup ? (waiting ? "loading the weight…" : undefined) : "preview: the largest weight in this block",
    });
    heatmap.element.dataset.hoverWeight = Number.isFinite(w) ? String(w) : "";
    onFocus(now.direction() === "from" ? cell.row : cell.col);
  }

  return {
    panel,
    heatmap,
    show(layer, head, run, pattern, keepView, note, shownStats) {
      const tokens = now.tokens();
      heatmap.setData({ n: pattern.n, levels: pattern.levels, rowLabels: tokens, colLabels: tokens, causal: true, layers: pattern.layers }, keepView);
      const full = pattern.values !== null || pattern.layers !== undefined;
      panel.title.textContent = `Layer ${layer} · Head ${head}`;
      Object.assign(panel.element.dataset, {
        layer: String(layer),
        head: String(head),
        resolution: pattern.layers ? "blocks" : full ? "full" : "preview",
        run: String(run),
        drawMs: heatmap.lastDrawMs.toFixed(2),
      });
      previewNote.hidden = pattern.layers ? note === "" : full;
      previewNote.textContent = note;
      stats.replaceChildren(
        ...shownStats.map((text) => {
          const item = document.createElement("span");
          item.textContent = text;
          return item;
        }),
      );
    },
    showLocks(q, k) {
      heatmap.setMarks(q, k);
      lockLine.textContent = lockText(q, k, now.tokens());
    },
    refreshHover() {
      if (hovered) hoverCell(hovered.cell, hovered.anchor);
    },
  };
}
