/**
 * AttentionExplorer's token panel: the text coloured by the selected head's attention — by
 * what the hovered token pays the others ("query → keys") or what they pay it ("key ←
 * queries"); with nothing hovered, by the locked query or key. Click a token to lock it.
 * On a long text the strip draws only the tokens in sight and its minimap marks the locked
 * position; the colours wait for the source's row (or column) from the kernel.
 */
import type { ColorScale } from "../kit/color_scale";
import { formatProbability } from "../kit/format";
import { createHoverLock } from "../kit/hover_lock";
import { createPanel } from "../kit/panel";
import { createToggleGroup } from "../kit/toggle_group";
import { createTokenStrip, visibleToken } from "../kit/token_strip";
import type { ExplorerNow } from "./shared";
import { stripWeight, weightAt, type Direction } from "./state";

/** A token with no colour (nothing hovered or locked, or the source token itself). */
const PLAIN = { background: "", color: "" };

export interface TokenPanel {
  direction(): Direction;
  /** The token hovered (here or as a heatmap row/column), or null. */
  hover(i: number | null): void;
  /** Colour the strip; `fresh`: new tokens or colours, repaint even if nothing else changed. */
  paint(fresh?: boolean): void;
  setTokens(tokens: string[]): void;
}

export interface TokenPanelOptions {
  /** Names the pattern drawn: the strip is repainted only when it (or the focus) changes. */
  drawnKey(): string;
  scale(): ColorScale;
}

export function createTokenPanel(parent: HTMLElement, now: ExplorerNow, options: TokenPanelOptions): TokenPanel {
  const { tooltip, selection } = now;
  let direction: Direction = "from";
  // the token hovered in the strip (or row/col hovered on the map), else the locked query/key
  const focus = createHoverLock<number>(() => (direction === "from" ? now.position("query") : now.position("key")));
  const panel = createPanel(parent, { className: "cw-ae-tokens", title: "Tokens" });
  const directions = createToggleGroup<Direction>(panel.header, {
    label: "Direction",
    options: [
      { value: "from", text: "query → keys", help: "Colour tokens by the attention the hovered token pays them" },
      { value: "to", text: "key ← queries", help: "Colour tokens by the attention they pay the hovered token" },
    ],
    onPick: (d) => setDirection(d),
  });
  const strip = createTokenStrip(panel.body, {
    label: "Tokens, coloured by attention in the selected head",
    onInspect: (i, span) => hoverToken(i, span),
    onLeave: () => {
      focus.hover(null);
      tooltip.hide();
      paint();
    },
    onSelect: (i) => {
      const field = direction === "from" ? "query" : "key";
      selection.set({ [field]: now.position(field) === i ? null : i });
    },
  });

  let painted = "";
  function paint() {
    const source = focus.shown();
    const current = now.current();
    strip.mark(direction === "from" ? now.position("query") : now.position("key"));
    // a long text's colours need the source's row (or column) at full resolution
    if (source !== null) current?.want?.(direction === "from" ? "row" : "column", source);
    // Hovering along a row (or column) keeps the same colours: repaint only on a change.
    const what = `${source}|${direction}|${options.drawnKey()}|${current?.values ? "full" : "preview"}|${strip.length}`;
    if (what === painted) return;
    painted = what;
    strip.element.dataset.source = source === null ? "" : String(source);
    strip.element.querySelector(".cw-ae-source")?.classList.remove("cw-ae-source");
    if (source === null || !current) {
      strip.paint(() => PLAIN);
      return;
    }
    const scale = options.scale();
    strip.paint((i) => {
      const w = stripWeight(current, direction, source, i);
      if (i === source) return PLAIN;
      return Number.isFinite(w) ? scale(w) : null;
    });
    strip.tokenAt(source)?.classList.add("cw-ae-source");
  }

  function hoverToken(i: number, span: HTMLElement) {
    focus.hover(i);
    paint();
    const rows: [string, string][] = [["position", String(i)]];
    const q = now.position("query");
    if (direction === "from" && q !== null && q !== i) rows.push([`weight from query ${q}`, formatProbability(weightAt(now.current(), q, i))]);
    const note = direction === "from" ? "colours: attention this token pays" : "colours: attention paid to this token";
    tooltip.show(span, { title: visibleToken(now.tokens()[i] ?? ""), rows, note });
  }

  function setDirection(d: Direction) {
    direction = d;
    directions.show(d);
    strip.element.dataset.direction = d;
    paint();
  }
  setDirection("from");

  return {
    direction: () => direction,
    hover(i) {
      focus.hover(i);
      paint();
    },
    paint(fresh = false) {
      if (fresh) painted = "";
      paint();
    },
    setTokens(tokens) {
      focus.hover(null);
      strip.setTokens(tokens);
      painted = ""; // new spans: paint them all
    },
  };
}
