/**
 * PathExplorer's waterfall panel: one row per path term, largest first, each bar running from
 * the sum of the terms above it to the sum including it, down to the logit. Head bars are
 * buttons that select their head, pair bars buttons that select the pair (both heads); every bar shows its hover card on hover and on focus, and
 * ArrowUp/ArrowDown/Home/End move between bars.
 */
import { cardOnHover, createBar, createBarList } from "../kit/bar_list";
import { createButton } from "../kit/button";
import { createPanel } from "../kit/panel";
import type { Tooltip } from "../kit/tooltip";
import type { Expansion } from "./shared";
import type { SelectionChanges } from "../kit/selection";
import { barGeometry, barKey, barName, cardOf, changesFor, extent, isSelected, selectionFor, signed, waterfall, type Row } from "./state";

/** Bars shown one by one before "Show all". */
export const BAR_LIMIT = 12;

export interface WaterfallPanel {
  readonly element: HTMLElement;
  /** Draw an expansion. */
  show(expansion: Expansion): void;
  /** Mark the selected head's bar, or the selected pair's. */
  mark(layer: number | null, head: number | null, pair: readonly number[] | null): void;
}

export function createWaterfall(
  parent: HTMLElement,
  tooltip: Tooltip,
  onSelect: (changes: SelectionChanges) => void,
): WaterfallPanel {
  const panel = createPanel(parent, {
    className: "cw-px-waterfall",
    title: "Path terms",
    captionFirst: true,
    caption: "Each bar is one path's share of the logit, largest first; it starts where the bars above it end. Click a head to select it, or a pair to select both heads; hover for the tokens that path pushes up.",
  });
  const list = createBarList(panel.body, "cw-px-bars");
  const more = createButton("Show all", "List every term");
  panel.body.append(more);

  let shown: Expansion | null = null;
  let all = false;
  let rows: Row[] = [];
  let marked: [number | null, number | null, readonly number[] | null] = [null, null, null];

  function barOf(row: Row, axis: [number, number], index: number): HTMLElement {
    const sel = selectionFor(row.term);
    const { left, width, up } = barGeometry(row, axis);
    const el = createBar({
      name: "cw-px-bar",
      kind: row.kind,
      label: row.label,
      value: row.value,
      valueText: row.kind === "total" ? row.value.toFixed(2) : signed(row.value),
      fill: { left, width, tone: row.kind === "total" ? "total" : up ? "up" : "down" },
      zero: barGeometry({ ...row, start: 0, end: 0 }, axis).left,
      button: true,
      ariaLabel: barName(row),
    });
    el.dataset.index = String(index);
    if (sel) {
      el.dataset.layer = String(sel.layer);
      el.dataset.head = String(sel.head);
    }
    if (row.term?.pair) el.dataset.pair = row.term.pair.join(",");
    cardOnHover(el, tooltip, () => cardOf(row));
    el.addEventListener("click", () => {
      const changes = changesFor(row.term);
      if (changes) {
        list.querySelectorAll(".cw-px-bar-clicked").forEach((b) => b.classList.remove("cw-px-bar-clicked"));
        el.classList.add("cw-px-bar-clicked");
        onSelect(changes);
      }
    });
    return el;
  }

  function draw() {
    if (!shown) return;
    rows = waterfall(shown.terms, all ? null : BAR_LIMIT);
    const axis = extent(rows);
    list.replaceChildren(...rows.map((r, i) => barOf(r, axis, i)));
    more.hidden = shown.terms.length <= BAR_LIMIT;
    more.textContent = all ? `Show the ${BAR_LIMIT} largest` : `Show all ${shown.terms.length} terms`;
    panel.element.dataset.mode = shown.mode;
    panel.element.dataset.position = String(shown.position);
    mark(...marked);
  }

  function mark(layer: number | null, head: number | null, pair: readonly number[] | null) {
    marked = [layer, head, pair];
    list.querySelectorAll<HTMLElement>(".cw-px-bar").forEach((el) => {
      const row = rows[Number(el.dataset.index)];
      el.setAttribute("aria-pressed", String(isSelected(row?.term ?? null, layer, head, pair)));
    });
  }

  list.addEventListener("keydown", (e) => {
    const bars = [...list.querySelectorAll<HTMLElement>(".cw-px-bar")];
    const at = bars.indexOf(document.activeElement as HTMLElement);
    const next = barKey(e.key, at < 0 ? 0 : at, bars.length);
    if (next === null) return;
    e.preventDefault();
    e.stopPropagation();
    bars[next]?.focus();
  });
  more.addEventListener("click", () => {
    all = !all;
    draw();
  });

  return {
    element: panel.element,
    show(expansion) {
      shown = expansion;
      draw();
    },
    mark,
  };
}
