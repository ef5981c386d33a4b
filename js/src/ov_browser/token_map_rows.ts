/**
 * The token-map panel's pieces of DOM: a result row (the given token, an arrow and its top-k
 * as pills), a pill with its hover card, a chip on the token list, a token to pick or a piece
 * of a refused entry to add instead, and the k menu's options. Token text goes in as text.
 */
import { createButton } from "../kit/button";
import type { ColorScale } from "../kit/color_scale";
import { visibleToken } from "../kit/token_strip";
import type { Tooltip } from "../kit/tooltip";
import type { Mode, QueryFailure, Row, TokenRef } from "./answers";
import { formatValue, pillText, TEXT } from "./token_map_text";

/** One row of answers: `given → pill pill …`; `onPick` is called with a clicked pill's token
 * (OV tabs only: a QK pill is not a button). */
export function createResultRow(
  row: Row, mode: Mode, scale: ColorScale | null, tooltip: Tooltip, onPick: (t: TokenRef) => void,
): HTMLElement {
  const line = document.createElement("div");
  line.className = "cw-ov-row";
  line.dataset.given = String(row.given.id);
  line.dataset.ids = row.top.map((t) => t.id).join(",");
  line.dataset.values = Array.from(row.values, (v) => String(v)).join(",");
  const given = document.createElement("span");
  given.className = "cw-ov-given";
  given.append(visibleToken(row.given.text));
  given.title = `token id ${row.given.id}`;
  const arrow = document.createElement("span");
  arrow.className = "cw-ov-arrow";
  arrow.textContent = `${TEXT[mode].arrow} →`;
  const pills = document.createElement("span");
  pills.className = "cw-ov-pills";
  row.top.forEach((_, j) => pills.append(createPill(row, j, mode, scale, tooltip, onPick)));
  line.append(given, arrow, pills);
  return line;
}

function createPill(
  row: Row, rank: number, mode: Mode, scale: ColorScale | null, tooltip: Tooltip, onPick: (t: TokenRef) => void,
): HTMLElement {
  const t = row.top[rank]!;
  const v = row.values[rank] as number;
  const clickable = mode !== "qk";
  const b = document.createElement(clickable ? "button" : "span");
  if (b instanceof HTMLButtonElement) b.type = "button";
  b.className = "cw-ov-pill";
  if (!clickable) b.tabIndex = 0;
  b.dataset.id = String(t.id);
  const name = document.createElement("span");
  name.className = "cw-ov-pill-text";
  name.append(visibleToken(t.text));
  const value = document.createElement("span");
  value.className = "cw-ov-pill-value";
  value.textContent = formatValue(v);
  b.append(name, value);
  const swatch = v > 0 && scale ? scale(v) : null;
  b.style.background = swatch?.background ?? "";
  b.style.color = swatch?.color ?? "";
  const text = pillText(mode, row, rank);
  b.setAttribute("aria-label", text.label);
  const show = () => tooltip.show(b, { title: visibleToken(t.text), rows: text.rows, note: text.note });
  b.addEventListener("pointerenter", show);
  b.addEventListener("focus", show);
  b.addEventListener("pointerleave", () => tooltip.hide());
  b.addEventListener("blur", () => tooltip.hide());
  if (clickable) {
    b.addEventListener("click", () => {
      tooltip.hide();
      onPick(t);
    });
  }
  return b;
}

/** A token on the list, with a × that removes it. */
export function createChip(t: TokenRef, disabled: boolean, onRemove: () => void): HTMLElement {
  const chip = document.createElement("span");
  chip.className = "cw-ov-chip";
  chip.dataset.id = String(t.id);
  const name = document.createElement("span");
  name.className = "cw-ov-chip-text";
  name.append(visibleToken(t.text));
  const remove = createButton("×", `Remove ${JSON.stringify(t.text)}`);
  remove.classList.add("cw-ov-chip-remove");
  remove.disabled = disabled;
  remove.addEventListener("click", onRemove);
  chip.append(name, remove);
  return chip;
}

/** A token offered to pick (a default choice not on the list). */
export function createChoice(t: TokenRef, onAdd: () => void): HTMLElement {
  const b = createButton("", `Add ${JSON.stringify(t.text)} (token id ${t.id})`);
  b.classList.add("cw-ov-piece");
  b.dataset.id = String(t.id);
  b.append(visibleToken(t.text));
  b.addEventListener("click", onAdd);
  return b;
}

/** How many pieces of a refused entry are offered as buttons (a pasted paragraph is hundreds). */
export const MAX_PIECES = 12;

/** Why Python refused a typed entry, with its first {@link MAX_PIECES} pieces as buttons to add
 * instead (when it is more than one token) and how many more there are. */
export function failureNodes(f: QueryFailure, onAddPiece: (id: number) => void): Node[] {
  const text = document.createElement("span");
  text.className = "cw-ov-message-text";
  text.textContent = f.message;
  const nodes: Node[] = [text];
  if (f.pieces.length > 1) {
    const offer = document.createElement("span");
    offer.className = "cw-ov-pieces";
    offer.append("Add a piece instead: ");
    for (const piece of f.pieces.slice(0, MAX_PIECES)) {
      const b = createButton("", `Add the token ${JSON.stringify(piece.text)} (id ${piece.id})`);
      b.classList.add("cw-ov-piece");
      b.append(visibleToken(piece.text));
      b.addEventListener("click", () => onAddPiece(piece.id));
      offer.append(b);
    }
    if (f.pieces.length > MAX_PIECES) {
      const more = document.createElement("span");
      more.className = "cw-ov-pieces-more";
      more.textContent = `and ${f.pieces.length - MAX_PIECES} more`;
      offer.append(more);
    }
    nodes.push(offer);
  }
  return nodes;
}

/** The k menu's options, `k` selected. */
export function kOptions(choices: readonly number[], k: number): HTMLOptionElement[] {
  return choices.map((n) => {
    const o = document.createElement("option");
    o.value = String(n);
    o.textContent = String(n);
    o.selected = n === k;
    return o;
  });
}
