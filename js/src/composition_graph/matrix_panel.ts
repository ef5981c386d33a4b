/**
 * CompositionGraph's matrix: the heads x heads heatmap of score − baseline (rows read, columns
 * write, both in layer order), on the diverging scale of ±the largest excess; cells where the
 * writer is not in an earlier layer are 0. Click a cell to select that pair.
 */
import { diverging, type ColorScale } from "../kit/color_scale";
import { createHeatmap, type Heatmap } from "../kit/heatmap";
import { createLegend, type Legend } from "../kit/legend";
import { createPanel, type Panel } from "../kit/panel";
import type { Palette } from "../kit/color_scale";
import type { GraphNow } from "./shared";
import { headName, KINDS, matrixLevels, pairValue, type Choice, type Head } from "./state";

export interface MatrixPanel {
  readonly panel: Panel;
  readonly heatmap: Heatmap;
  readonly legend: Legend;
  draw(choice: Choice): void;
  setPalette(palette: Palette, masked: readonly [number, number, number]): void;
  mark(): void;
}

export function createMatrixPanel(parent: HTMLElement, now: GraphNow, signal: AbortSignal): MatrixPanel {
  const panel = createPanel(parent, {
    className: "cw-cg-matrix",
    title: "Every pair",
    caption: "Rows read, columns write (earlier layer); a cell is the pair's score minus random heads'. For “all”, the largest of Q, K and V.",
  });
  const H = () => now.model.get("n_heads");
  const L = () => now.model.get("n_layers");
  const headAt = (i: number): Head => ({ layer: Math.floor(i / H()), head: i % H() });
  let choice: Choice = "K";
  let scale: ColorScale | null = null;
  const heatmap = createHeatmap(panel.body, {
    label: "composition matrix", rowTitle: "reading head", colTitle: "writing head", signal, maxSize: 560,
    onHover(cell, anchor) {
      if (!cell) return now.tooltip.hide();
      const reader = headAt(cell.row), writer = headAt(cell.col);
      if (writer.layer >= reader.layer) return now.tooltip.show(anchor, { title: `${headName(writer)} → ${headName(reader)}`, rows: [], note: "not composed: the writer must be in an earlier layer" });
      const x = now.excess();
      now.tooltip.show(anchor, {
        title: `${headName(writer)} → ${headName(reader)}`,
        rows: KINDS.map((k) => [`${k} score − baseline${k === choice ? " ●" : ""}`, pairValue(x, L(), H(), k, writer, reader).toFixed(4)] as const),
        note: "click to select the pair",
      });
    },
    onClick(cell) {
      const reader = headAt(cell.row), writer = headAt(cell.col);
      if (writer.layer >= reader.layer) return;
      const kind = choice === "all" ? KINDS.reduce((a, k) => (pairValue(now.excess(), L(), H(), k, writer, reader) > pairValue(now.excess(), L(), H(), a, writer, reader) ? k : a)) : choice;
      now.pickEdge({ writer, reader, kind, excess: pairValue(now.excess(), L(), H(), kind, writer, reader) });
    },
  });
  const legend = createLegend(panel.body, { title: "score − baseline", ticks: [], format: (v) => v.toFixed(2) });

  function draw(next: Choice) {
    choice = next;
    const n = L() * H();
    const labels = Array.from({ length: n }, (_, i) => headName(headAt(i)));
    heatmap.setData({ n, levels: matrixLevels(now.excess(), L(), H(), choice, now.limit()), rowLabels: labels, colLabels: labels, causal: true }, true);
    panel.element.dataset.kind = choice;
    mark();
  }

  function setPalette(palette: Palette, masked: readonly [number, number, number]) {
    scale = diverging(palette, now.limit());
    heatmap.setColors(scale.lut, masked);
    const m = now.limit();
    legend.setScale(scale, [-m, 0, m]);
  }

  function mark() {
    const pair = now.pair();
    heatmap.setMarks(pair ? pair.reader.layer * H() + pair.reader.head : null, pair ? pair.writer.layer * H() + pair.writer.head : null);
  }

  return { panel, heatmap, legend, draw, setPalette, mark };
}
