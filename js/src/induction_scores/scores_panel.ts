/**
 * InductionScores' scores panel: a tab per kind of head, the head grid shaded by the open
 * tab's score (every kind's in the cells' data attributes), its legend and help line, and the
 * top heads as buttons. Click a head to select it. "Ablate selected: off | zero | mean" shows
 * every head's score with the selected head switched off instead (Python's `ablation` and
 * `_ablated`); the grid's cell of that head carries data-ablated="true", the panel
 * data-ablation (the mode) and data-ablated-head ("L0H1").
 */
import { formatProbability, formatTick } from "../kit/format";
import { createHeadGrid, type HeadGrid } from "../kit/head_grid";
import { createLegend, type Legend } from "../kit/legend";
import { createPanel, type Panel } from "../kit/panel";
import { headValue } from "../kit/decode";
import { createTabs } from "../kit/tabs";
import { createToggleGroup } from "../kit/toggle_group";
import { watch } from "../kit/watch";
import type { ScoresNow } from "./shared";
import { ablatedNote, camel, KINDS, readAblated, TEXT, type Ablated, type Kind } from "./state";

export interface ScoresPanel {
  readonly panel: Panel;
  readonly grid: HeadGrid;
  readonly legend: Legend;
  /** Paint the grid and the top heads for the open tab. */
  paint(): void;
  /** Mark the selected head in the grid and the top list. */
  markSelected(): void;
}

export function createScoresPanel(parent: HTMLElement, now: ScoresNow, setKind: (kind: Kind) => void, signal: AbortSignal): ScoresPanel {
  const { model, selection, tooltip } = now;
  const panel = createPanel(parent, { className: "cw-is-scores", title: "Head scores" });
  const ablation = createToggleGroup<"off" | "zero" | "mean">(panel.header, {
    label: "Ablate the selected head",
    options: [
      { value: "off", text: "as measured", help: "Every head's score as measured" },
      { value: "zero", text: "selected head zeroed", help: "Every head's score with the selected head's output set to 0" },
      { value: "mean", text: "… mean-ablated", help: "Every head's score with the selected head's output replaced by its mean" },
    ],
    onPick: (v) => {
      if (model.get("_static")) return;
      model.set("ablation", v);
      model.save_changes();
    },
  });
  let ablated: Ablated | null = null;
  /** The score the grid shows: with the selected head off while `ablation` is on. */
  const shown = (k: Kind, layer: number, h: number) => (ablated ? headValue(ablated.scores.get(k) ?? null, layer, h) : now.score(k, layer, h));
  const tabs = createTabs<Kind>(panel.body, panel.body, {
    label: "Kind of head",
    tabs: KINDS.map((kind) => ({ value: kind, text: TEXT[kind].tab })),
    onPick: setKind,
  });
  const tabPanel = tabs.panel;
  tabPanel.classList.add("cw-is-tabpanel");
  const grid = createHeadGrid(tabPanel, {
    label: "Head scores, layers down and heads across",
    onSelect: (layer, head) => selection.set({ layer, head }),
    onHover: (layer, head, cell) => hoverHead(layer, head, cell),
  });
  const legend = createLegend(tabPanel, { title: "score", ticks: [0, 0.25, 0.5, 0.75, 1], format: formatTick });
  const help = document.createElement("p");
  help.className = "cw-is-help";
  const note = document.createElement("p");
  note.className = "cw-is-help cw-is-ablated-note";
  tabPanel.append(help, note);
  const topBox = document.createElement("div");
  topBox.className = "cw-is-top";
  const topTitle = document.createElement("div");
  topTitle.className = "cw-is-top-title";
  const topList = document.createElement("ol");
  topList.className = "cw-is-top-list";
  topBox.append(topTitle, topList);
  tabPanel.append(topBox);

  function paint() {
    const k = now.kind();
    tabs.show(k);
    tabPanel.dataset.kind = k;
    const scale = now.scale();
    grid.paint((layer, h) => {
      const v = shown(k, layer, h);
      return { value: v, swatch: scale(v) };
    });
    for (let layer = 0; layer < model.get("n_layers"); layer++) {
      for (let h = 0; h < model.get("n_heads"); h++) {
        const cell = grid.cell(layer, h);
        if (!cell) continue;
        for (const other of KINDS) cell.dataset[camel(other)] = String(shown(other, layer, h));
        cell.dataset.ablated = String(ablated !== null && ablated.layer === layer && ablated.head === h);
      }
    }
    ablation.show(ablated ? ablated.mode : "off");
    note.textContent = ablated ? ablatedNote(ablated) : "";
    note.hidden = !ablated;
    Object.assign(panel.element.dataset, { ablation: ablated?.mode ?? "off", ablatedHead: ablated ? `L${ablated.layer}H${ablated.head}` : "" });
    help.textContent = TEXT[k].help;
    legend.element.querySelector(".cw-legend-title")!.textContent = `${TEXT[k].short} score`;
    paintTop();
  }

  function paintTop() {
    const k = now.kind();
    topTitle.textContent = `Top ${TEXT[k].short} heads`;
    const top = model.get("_top")?.[k] ?? [];
    topList.replaceChildren(...top.map(([layer, h], i) => topHead(layer, h, i + 1, k)));
    markSelected();
  }

  function topHead(layer: number, h: number, rank: number, k: Kind): HTMLElement {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "cw-is-top-head";
    b.dataset.layer = String(layer);
    b.dataset.head = String(h);
    b.dataset.rank = String(rank);
    const name = document.createElement("span");
    name.textContent = `L${layer}.H${h}`;
    const value = document.createElement("span");
    value.className = "cw-is-top-value";
    const v = now.score(k, layer, h);
    value.textContent = v.toFixed(2);
    const sw = now.scale()(v);
    value.style.background = sw?.background ?? "";
    value.style.color = sw?.color ?? "";
    b.append(name, value);
    b.title = `Select layer ${layer} head ${h}`;
    b.addEventListener("click", () => selection.set({ layer, head: h }));
    li.append(b);
    return li;
  }

  function markSelected() {
    const { layer, head: h } = now.selectedHead();
    grid.select(layer, h, now.pairedHead());
    for (const b of topList.querySelectorAll<HTMLButtonElement>(".cw-is-top-head")) {
      b.setAttribute("aria-pressed", String(Number(b.dataset.layer) === layer && Number(b.dataset.head) === h));
    }
  }

  function hoverHead(layer: number | null, h: number | null, cell: HTMLElement | null) {
    if (layer === null || h === null || !cell) {
      tooltip.hide();
      return;
    }
    tooltip.show(cell, {
      title: `layer ${layer} head ${h}`,
      rows: KINDS.map((k) => [
        `${TEXT[k].short}${k === now.kind() ? " ●" : ""}`,
        formatProbability(shown(k, layer, h)) + (ablated ? ` (as measured ${formatProbability(now.score(k, layer, h))})` : ""),
      ] as const),
      note: "click to show its attention pattern",
    });
  }

  watch(model, ["_ablated", "ablation", "run_id"], () => {
    ablated = model.get("ablation") === "off" ? null : readAblated(model.get("_ablated"), model.get("run_id"));
    for (const b of Object.values(ablation.buttons) as HTMLButtonElement[]) b.disabled = model.get("_static");
    paint();
  }, signal);
  return { panel, grid, legend, paint, markSelected };
}
