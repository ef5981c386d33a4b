/**
 * A hover card: a title and label/value rows, placed above (or, without room, below) the
 * element it describes. It never leaves the viewport: CSS caps its height there (a 50-row
 * card is cut) and a card taller than the room on either side is moved on screen.
 *
 * The card floats on `document.body` with fixed positioning. Notebook output areas clip and
 * contain their content (JupyterLab's cells use `content-visibility`), so a card inside the
 * view would be cut off at the view's edge; on the body it is not. It carries the
 * `cw-floating` class so the theme variables of `theme.css` apply to it, follows its anchor
 * when the page scrolls, and is removed with the view (`signal`). Everything is set with `textContent`; a
 * title may also be a ready-made DOM node (e.g. a token with its whitespace made visible).
 *
 *     const tip = createTooltip(signal);
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
const MARGIN = 4;

export function createTooltip(signal: AbortSignal): Tooltip {
  const element = document.createElement("div");
  element.className = "cw-floating cw-tooltip";
  element.setAttribute("role", "tooltip");
  element.hidden = true;
  document.body.append(element);

  let anchor: Element | null = null;
  let frame = 0;
  const hide = () => {
    element.hidden = true;
    anchor = null;
  };
  // Follow the anchor when the notebook scrolls; hide once it has left the window.
  const follow = () => {
    if (!anchor || frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      if (!anchor) return;
      const r = anchor.getBoundingClientRect();
      const gone = !anchor.isConnected || r.bottom < 0 || r.top > document.documentElement.clientHeight;
      if (gone) hide();
      else place(anchor);
    });
  };
  window.addEventListener("scroll", follow, { capture: true, passive: true });
  signal.addEventListener("abort", () => {
    window.removeEventListener("scroll", follow, { capture: true });
    cancelAnimationFrame(frame);
    element.remove();
  });

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

  function place(target: Element) {
    const a = target.getBoundingClientRect();
    const w = element.offsetWidth;
    const h = element.offsetHeight;
    const vw = document.documentElement.clientWidth;
    const vh = document.documentElement.clientHeight;
    const left = Math.min(vw - w - MARGIN, Math.max(MARGIN, a.left + a.width / 2 - w / 2));
    const roomAbove = a.top - GAP - h >= MARGIN;
    const roomBelow = a.bottom + GAP + h <= vh - MARGIN;
    const above = roomAbove || !roomBelow;
    element.style.left = `${left}px`;
    // a card taller than the room on either side (CSS caps it at the viewport) stays on screen
    const top = Math.max(MARGIN, Math.min(above ? a.top - GAP - h : a.bottom + GAP, vh - MARGIN - h));
    element.style.top = `${top}px`;
    element.dataset.side = above ? "above" : "below";
  }

  return {
    element,
    show(target, content) {
      anchor = target;
      fill(content);
      element.hidden = false;
      place(target);
    },
    hide,
  };
}
