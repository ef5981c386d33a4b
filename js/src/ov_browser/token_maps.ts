/**
 * The token-map panel: three tabs that each hold a list of tokens and, for the selected head,
 * the top-k tokens of its circuit for each of them.
 *
 * - "Writes (OV)": source tokens → the destination tokens the head's full OV circuit promotes;
 * - "Written by (OV reverse)": target tokens → the source tokens that make the head write them;
 * - "Looks at (QK)": query tokens → the key tokens the head's QK circuit prefers.
 *
 * Answers come from Python through `ask` (the panel never does vocabulary-sized work) and
 * live in an {@link AnswerCache}, so a head seen before redraws at once. Typed tokens are
 * checked by Python too: a string that is not exactly one token gets an inline message (and
 * its pieces as buttons to add instead); what was typed stays in the box.
 *
 * For tests: the panel carries `data-mode`, `data-layer`, `data-head`, `data-k` and
 * `data-state` ("ready" | "loading" | "empty" | "missing" (a static export without this
 * answer)); each result row `.cw-ov-row` carries `data-given` (token id), `data-ids` and
 * `data-values` (comma-separated, best first).
 */
import { createButton } from "../kit/button";
import { createControl, createTokenInput } from "../kit/control";
import { sequential, type ColorScale, type Palette } from "../kit/color_scale";
import { createPanel, type Panel } from "../kit/panel";
import { createTabs } from "../kit/tabs";
import type { Tooltip } from "../kit/tooltip";
import { AnswerCache, MODES, type Mode, type Payload, type QueryFailure, type Question, type TokenRef } from "./answers";
import { createTokenList } from "./token_list";
import { applyDefaults, mapStatus, newMapState, putFirst, questionOf, type Defaults } from "./token_lists";
import { createResultRow, kOptions } from "./token_map_rows";
import { hintText, kChoices, rowsMax, TEXT } from "./token_map_text";

export type { Defaults } from "./token_lists";
export { formatValue, parseEntry } from "./token_map_text";

export interface TokenMapsOptions {
  cache: AnswerCache;
  tooltip: Tooltip;
  /** Ask Python; resolves once the answer is in the cache, rejects with a QueryFailure. */
  ask(question: Question, tokens: (number | string)[]): Promise<Payload>;
  /** A target token was chosen (the reverse tab's first token): the shared selection's token. */
  onTarget(token: TokenRef): void;
  setK(k: number): void;
}

export interface TokenMaps {
  readonly element: HTMLElement;
  setHead(layer: number, head: number): void;
  setK(k: number): void;
  setDefaults(defaults: Defaults): void;
  setStatic(isStatic: boolean): void;
  /** Put `token` first in the reverse tab (the selection's token changed). */
  showTarget(token: TokenRef): void;
  setPalette(palette: Palette): void;
  /** Redraw from the cache (an answer arrived). */
  refresh(): void;
}

export function createTokenMaps(parent: HTMLElement, options: TokenMapsOptions): TokenMaps {
  const { cache, tooltip } = options;
  const panel = createPanel(parent, { className: "cw-ov-tokens", title: "Token map", caption: TEXT.ov.caption });
  const element = panel.element;
  const { tabs, kSelect } = tokenMapHeader(panel, (m) => setMode(m), (k) => options.setK(k));
  tabs.panel.classList.add("cw-ov-tabpanel");
  const parts = tokenMapElements(tabs.panel);
  const { listLabel, input, addButton, resetButton, hint, status, results } = parts;

  const s = newMapState();
  const inFlight = new Set<string>();
  let palette: Palette | null = null;
  let scale: ColorScale | null = null;
  const list = createTokenList(parts, s, { refresh: () => refresh(), add: (e, piece) => addToken(e, piece), onTarget: options.onTarget });

  function setMode(next: Mode) {
    s.drafts[s.mode] = input.value;
    s.mode = next;
    tabs.show(next);
    input.value = s.drafts[next];
    input.setAttribute("aria-label", TEXT[next].add);
    listLabel.textContent = `${TEXT[next].list}:`;
    panel.caption.textContent = TEXT[next].caption;
    element.dataset.mode = next;
    refresh();
  }

  /** Ask for whatever the current tab lacks; redraw when it comes. */
  function fetchMissing(ids: number[]) {
    const q = questionOf(s);
    const missing = cache.missing(q, ids);
    const key = `${q.mode}|${q.layer}.${q.head}|${q.k}|${missing.join(",")}`;
    if (missing.length === 0 || inFlight.has(key)) return;
    inFlight.add(key);
    options
      .ask(q, missing)
      .then(() => refresh())
      .catch((f: QueryFailure) => {
        s.failures[q.mode] = f;
        if (q.mode === s.mode) list.showFailure();
      })
      .finally(() => inFlight.delete(key));
  }

  function refresh() {
    list.render();
    list.showFailure();
    const ids = s.lists[s.mode].map((t) => t.id);
    Object.assign(element.dataset, { layer: String(s.layer), head: String(s.head), k: String(s.k) });
    const rows = ids.length ? cache.rows(questionOf(s), ids) : [];
    const { state, text } = mapStatus(s, ids.length, rows !== null);
    setState(state, text);
    if (state === "ready") {
      const rowScale = palette ? sequential(palette, [0, rowsMax(rows!)]) : scale;
      results.replaceChildren(...rows!.map((row) => createResultRow(row, s.mode, rowScale, tooltip, pickPill)));
    }
    else if (state === "loading") {
      results.classList.add("cw-ov-stale");
      fetchMissing(ids);
    } else results.replaceChildren();
  }

  const setState = (state: string, text: string) => showStatus(element, status, results, state, text);

  /** A pill clicked: an OV destination opens the reverse tab on it, a source the OV tab. */
  function pickPill(t: TokenRef) {
    if (s.mode === "ov") {
      showTarget(t);
      options.onTarget(t);
      setMode("ov_sources");
    } else {
      putFirst(s, "ov", t);
      setMode("ov");
    }
  }

  function showTarget(t: TokenRef) {
    if (s.lists.ov_sources[0]?.id === t.id) return;
    putFirst(s, "ov_sources", t);
    if (s.mode === "ov_sources") refresh();
  }

  /** Add a typed entry: Python checks it (and answers for this head in the same trip). */
  function addToken(entry: number | string, fromPiece = false) {
    if (s.isStatic || entry === "") return;
    const q = questionOf(s);
    s.failures[q.mode] = null;
    list.showFailure();
    setState("loading", "Asking Python…");
    options
      .ask(q, [entry])
      .then((answer) => {
        const id = answer.given[0] as number;
        const t = { id, text: answer.given_strs[0] ?? "" };
        if (!s.lists[q.mode].some((x) => x.id === id)) s.lists[q.mode].push(t);
        if (!fromPiece) s.drafts[q.mode] = "";
        if (q.mode === s.mode) {
          if (!fromPiece) input.value = "";
          if (q.mode === "ov_sources") options.onTarget(t);
          refresh();
        }
      })
      .catch((f: QueryFailure) => {
        s.failures[q.mode] = f;
        if (q.mode === s.mode) {
          list.showFailure();
          refresh();
        }
      });
  }

  function setStatic(value: boolean) {
    s.isStatic = value;
    input.disabled = addButton.disabled = resetButton.disabled = kSelect.disabled = value;
    hint.textContent = hintText(value, s.defaults.kind);
    hint.classList.toggle("cw-ov-hint-static", value);
    refresh();
  }

  const fillK = () => kSelect.replaceChildren(...kOptions(kChoices(s.k), s.k));

  setMode("ov");
  fillK();
  return {
    element,
    setHead(l, h) {
      if (l === s.layer && h === s.head) return;
      s.layer = l;
      s.head = h;
      refresh();
    },
    setK(next) {
      s.k = next;
      fillK();
      refresh();
    },
    setDefaults(next) {
      applyDefaults(s, next);
      setStatic(s.isStatic);
    },
    setStatic,
    showTarget,
    setPalette(next) {
      palette = next;
      scale = sequential(next);
      refresh();
    },
    refresh,
  };
}

/** The panel's state ("ready", "loading", ...) and its status line; results no longer stale. */
function showStatus(element: HTMLElement, status: HTMLElement, results: HTMLElement, state: string, text: string) {
  element.dataset.state = state;
  status.textContent = text;
  status.hidden = text === "";
  results.classList.toggle("cw-ov-stale", false);
}

/** The panel's header: the three tabs and the top-k menu. */
function tokenMapHeader(panel: Panel, onPick: (m: Mode) => void, onK: (k: number) => void) {
  const tabs = createTabs<Mode>(panel.header, panel.body, {
    label: "Token map questions",
    tabs: MODES.map((m) => ({ value: m, text: TEXT[m].tab })),
    onPick,
  });
  const kLabel = document.createElement("label");
  kLabel.className = "cw-ov-k";
  kLabel.textContent = "top ";
  const kSelect = createControl("select", "cw-ov-select");
  kLabel.append(kSelect);
  kSelect.addEventListener("change", () => onK(Number(kSelect.value)));
  panel.header.append(kLabel);
  return { tabs, kSelect };
}

/** The tab panel's parts: the token list row (label, chips, box, Add, Reset), the picker of
 * more tokens, the hint, the refusal message, the status line and the results. */
function tokenMapElements(body: HTMLElement) {
  const listRow = document.createElement("div");
  listRow.className = "cw-ov-list";
  const listLabel = document.createElement("span");
  listLabel.className = "cw-ov-list-label";
  const chips = document.createElement("span");
  chips.className = "cw-ov-chips";
  const input = createTokenInput("cw-ov-input", "a token: ' the' or #262");
  const addButton = createButton("Add", "Add the typed token to the list (Enter)");
  const resetButton = createButton("Reset", "Go back to the default tokens");
  listRow.append(listLabel, chips, input, addButton, resetButton);

  const picker = document.createElement("details");
  picker.className = "cw-ov-picker";
  const pickerSummary = document.createElement("summary");
  const pickerList = document.createElement("div");
  pickerList.className = "cw-ov-picker-list";
  picker.append(pickerSummary, pickerList);

  const hint = document.createElement("div");
  hint.className = "cw-ov-hint";
  const message = document.createElement("div");
  message.className = "cw-ov-message";
  message.setAttribute("role", "alert");
  message.hidden = true;
  const status = document.createElement("div");
  status.className = "cw-ov-status";
  status.setAttribute("role", "status");
  const results = document.createElement("div");
  results.className = "cw-ov-results";
  body.append(listRow, picker, hint, message, status, results);
  return { listLabel, chips, input, addButton, resetButton, picker, pickerSummary, pickerList, hint, message, status, results };
}
