/**
 * The token-map panel's token list: the open tab's tokens as chips (× removes one), the box
 * to type another (Enter or Add; Python checks it), Reset, the picker of default choices not
 * on the list, and Python's refusal of the last entry with its pieces to add instead.
 */
import type { Mode, TokenRef } from "./answers";
import { choicesLeft, pickerText, resetList, type MapState } from "./token_lists";
import { createChip, createChoice, failureNodes } from "./token_map_rows";
import { parseEntry } from "./token_map_text";

export interface ListParts {
  chips: HTMLElement;
  input: HTMLInputElement;
  addButton: HTMLButtonElement;
  resetButton: HTMLButtonElement;
  picker: HTMLDetailsElement;
  pickerSummary: HTMLElement;
  pickerList: HTMLElement;
  message: HTMLElement;
}

export interface ListHooks {
  /** The lists changed: redraw the panel. */
  refresh(): void;
  /** Ask Python about a typed entry (or a piece of a refused one). */
  add(entry: number | string, fromPiece?: boolean): void;
  onTarget(t: TokenRef): void;
}

export interface TokenList {
  /** The chips and the picker for the open tab. */
  render(): void;
  /** The open tab's refusal (or none). */
  showFailure(): void;
}

export function createTokenList(parts: ListParts, s: MapState, hooks: ListHooks): TokenList {
  const { chips, input, addButton, resetButton, picker, pickerSummary, pickerList, message } = parts;

  function render() {
    const mode: Mode = s.mode;
    chips.replaceChildren(
      ...s.lists[mode].map((t, i) =>
        createChip(t, s.isStatic, () => {
          s.lists[s.mode].splice(i, 1);
          hooks.refresh();
        }),
      ),
    );
    const left = choicesLeft(s);
    picker.hidden = s.isStatic || left.length === 0;
    pickerSummary.textContent = pickerText(s.defaults.kind, left.length);
    pickerList.replaceChildren(
      ...left.map((t) =>
        createChoice(t, () => {
          s.lists[s.mode].push(t);
          if (s.mode === "ov_sources") hooks.onTarget(t);
          hooks.refresh();
        }),
      ),
    );
  }

  function showFailure() {
    const f = s.failures[s.mode];
    message.hidden = f === null;
    message.replaceChildren(...(f ? failureNodes(f, (id) => hooks.add(id, true)) : []));
  }

  input.addEventListener("keydown", (e) => {
    e.stopPropagation(); // keep JupyterLab's notebook shortcuts out of the box
    if (e.key === "Enter") {
      e.preventDefault();
      hooks.add(parseEntry(input.value));
    }
  });
  input.addEventListener("input", () => {
    if (input.value === "" && s.failures[s.mode]) {
      s.failures[s.mode] = null; // the box was cleared: the message about it goes too
      showFailure();
    }
  });
  addButton.addEventListener("click", () => hooks.add(parseEntry(input.value)));
  resetButton.addEventListener("click", () => {
    resetList(s);
    hooks.refresh();
  });

  return { render, showFailure };
}
