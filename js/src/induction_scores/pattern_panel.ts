/**
 * InductionScores' pattern panel: the selected head's attention on the sequence as a heatmap,
 * with guides bracketing the cells each score counts, the guides' legend, a note while the
 * pattern is on its way (or missing from a static export), and the weight legend.
 */
import { formatTick } from "../kit/format";
import type { HeadPatterns } from "../kit/head_patterns";
import { createHeatmap, type Cell, type Heatmap } from "../kit/heatmap";
import { createLegend, type Legend } from "../kit/legend";
import { createPanel, type Panel } from "../kit/panel";
import { visibleToken } from "../kit/token_strip";
import type { ScoresNow } from "./shared";
import { cellRows, countsFor, guidesFor, KINDS, kindsAt, missingText, PATTERN_CAPTION, TEXT, weightAt, type Kind } from "./state";

export interface PatternPanel {
  readonly panel: Panel;
  readonly heatmap: Heatmap;
  readonly legend: Legend;
  /** Draw the selected head's pattern (or say why not); returns the head drawn, or null. */
  show(tokens: string[], keepView: boolean): { layer: number; head: number } | null;
  /** Draw the guides of the open tab and their legend. */
  paintGuides(): void;
}

export function createPatternPanel(parent: HTMLElement, now: ScoresNow, patterns: HeadPatterns, signal: AbortSignal): PatternPanel {
  const { model, tooltip } = now;
  let tokens: string[] = [];
  let current: Float32Array | null = null;
  const panel = createPanel(parent, { className: "cw-is-head", title: "" });
  const stats = document.createElement("span");
  stats.className = "cw-is-stats";
  panel.header.append(stats);
  const heatmap = createHeatmap(panel.body, {
    label: "Attention pattern of the selected head on the sequence: queries down, keys across",
    rowTitle: "query",
    colTitle: "key",
    signal,
    maxSize: 460,
    onHover: (cell, anchor) => hoverCell(cell, anchor),
  });
  const guideLegend = document.createElement("div");
  guideLegend.className = "cw-is-guides";
  const missing = document.createElement("div");
  missing.className = "cw-is-note";
  missing.hidden = true;
  const caption = document.createElement("p");
  caption.className = "cw-is-help";
  caption.textContent = PATTERN_CAPTION;
  panel.body.append(guideLegend, missing, caption);
  const legend = createLegend(panel.body, {
    title: "attention weight",
    ticks: [0, 0.5, 1],
    format: formatTick,
    swatches: [{ label: "masked (key after query)", className: "cw-is-masked" }],
  });

  function show(shownTokens: string[], keepView: boolean) {
    tokens = shownTokens;
    const { layer, head: h } = now.selectedHead();
    const pattern = patterns.get(layer, h);
    const run = String(model.get("run_id"));
    panel.title.textContent = `Layer ${layer} · Head ${h}`;
    stats.replaceChildren(
      ...KINDS.map((k) => {
        const s = document.createElement("span");
        s.className = k === now.kind() ? "cw-is-stat cw-is-stat-active" : "cw-is-stat";
        s.textContent = `${TEXT[k].short} ${now.score(k, layer, h).toFixed(2)}`;
        return s;
      }),
    );
    Object.assign(panel.element.dataset, { layer: String(layer), head: String(h), run });
    if (!pattern) {
      panel.element.dataset.resolution = "missing";
      missing.hidden = false;
      missing.textContent = missingText(model.get("_static"), patterns.error(layer, h));
      return null;
    }
    missing.hidden = true;
    current = pattern.values;
    heatmap.setData({ n: pattern.n, levels: pattern.levels, rowLabels: tokens, colLabels: tokens, causal: true }, keepView);
    panel.element.dataset.resolution = "full";
    return { layer, head: h };
  }

  function paintGuides() {
    const list = guidesFor(model.get("_targets") ?? {}, now.kind());
    heatmap.setGuides(list);
    guideLegend.replaceChildren(
      ...list.map((g) => {
        const item = document.createElement("span");
        item.className = "cw-is-guide-key";
        const sample = document.createElementNS("http://www.w3.org/2000/svg", "svg");
        sample.setAttribute("width", "22");
        sample.setAttribute("height", "12");
        sample.setAttribute("aria-hidden", "true");
        const line = document.createElementNS("http://www.w3.org/2000/svg", "path");
        line.setAttribute("d", "M2 1L12 11M10 1L20 11");
        line.setAttribute("class", `cw-heatmap-guide ${g.className}`);
        sample.append(line);
        const label = document.createElement("span");
        label.textContent = TEXT[g.id as Kind].guide(model.get("_shown") ?? { mode: "random", seq: 0 });
        item.append(sample, label);
        return item;
      }),
    );
  }

  function hoverCell(cell: Cell | null, anchor: HTMLElement) {
    if (!cell || !current) {
      tooltip.hide();
      return;
    }
    const w = weightAt(current, tokens.length, cell.row, cell.col);
    const title = document.createDocumentFragment();
    title.append(visibleToken(tokens[cell.row] ?? ""), " → ", visibleToken(tokens[cell.col] ?? ""));
    tooltip.show(anchor, {
      title,
      rows: cellRows(cell.row, cell.col, w),
      note: countsFor(kindsAt(model.get("_targets") ?? {}, cell.row, cell.col)),
    });
    heatmap.element.dataset.hoverWeight = Number.isFinite(w) ? String(w) : "";
  }

  return { panel, heatmap, legend, show, paintGuides };
}
