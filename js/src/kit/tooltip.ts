/**
 * A hover card: a title and label/value rows, placed above (or, without room, below) the
 * element it describes and kept inside the widget's box.
 *
 * The card lives inside the view's root element (which must be `position: relative`), not on
 * `document.body`, so it scrolls with the notebook and disappears with the view. Everything
 * is set with `textContent`; a title may also be a ready-made DOM node (e.g. a token with its
 * whitespace made visible).
 *
 *     const tip = createTooltip(root);
 *     tip.show(tokenElement, { title: visibleToken(" the"), rows: [["token id", "262"]] });
 *     tip.hide();
 */
import "./tooltip.css";

export interface TooltipContent {
  title?: string | Node;
  rows: ReadonlyArray<readonly [label: string, value: string]>;
  /** A muted line under the rows. */
  note?: string;
}

export interface Tooltip {
  readonly element: HTMLElement;
  show(anchor: Element, content: TooltipContent): void;
  hide(): void;
}

const GAP = 6;

export function createTooltip(root: HTMLElement): Tooltip {
  const element = document.createElement("div");
  element.className = "cw-tooltip";
  element.setAttribute("role", "tooltip");
  element.hidden = true;
  root.append(element);

  function fill(content: TooltipContent) {
    const nodes: Node[] = [];
    if (content.title !== undefined) {
      const title = document.createElement("div");
      title.className = "cw-tooltip-title";
      if (typeof content.title === "string") title.textContent = content.title;
      else title.append(content.title);
      nodes.push(title);
    }
    const table = document.createElement("dl");
    table.className = "cw-tooltip-rows";
    for (const [label, value] of content.rows) {
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = value;
      table.append(dt, dd);
    }
    nodes.push(table);
    if (content.note) {
      const note = document.createElement("div");
      note.className = "cw-tooltip-note";
      note.textContent = content.note;
      nodes.push(note);
    }
    element.replaceChildren(...nodes);
  }

  function place(anchor: Element) {
    const box = root.getBoundingClientRect();
    const a = anchor.getBoundingClientRect();
    const w = element.offsetWidth;
    const h = element.offsetHeight;
    const maxLeft = Math.max(0, root.clientWidth - w);
    const left = Math.min(maxLeft, Math.max(0, a.left + a.width / 2 - w / 2 - box.left));
    const above = a.top - box.top - GAP - h;
    const top = above >= 0 ? above : a.bottom - box.top + GAP;
    element.style.left = `${left}px`;
    element.style.top = `${top}px`;
    element.dataset.side = above >= 0 ? "above" : "below";
  }

  return {
    element,
    show(anchor, content) {
      fill(content);
      element.hidden = false;
      place(anchor);
    },
    hide() {
      element.hidden = true;
    },
  };
}
