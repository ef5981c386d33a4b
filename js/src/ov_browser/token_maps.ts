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
import { createControl } from "../kit/control";
import { sequential, type ColorScale, type Palette } from "../kit/color_scale";
import { createPanel } from "../kit/panel";
import { visibleToken } from "../kit/token_strip";
import type { Tooltip } from "../kit/tooltip";
import { AnswerCache, MODES, type Mode, type Payload, type QueryFailure, type Question, type Row, type TokenRef } from "./answers";
import { createTabs } from "../kit/tabs";


export interface Defaults {
  kind: "text" | "frequent";
  /** Tokens offered to pick from (the text's, or frequent ones); `tokens`/`targets` start it. */
  choices: TokenRef[];
  tokens: TokenRef[];
  targets: TokenRef[];
}

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

interface ModeText {
  tab: string;
  list: string;
  add: string;
  arrow: string;
  value: string;
  caption: string;
}

const TEXT: Record<Mode, ModeText> = {
  ov: {
    tab: "Writes (OV)",
    list: "Source tokens",
    add: "Add a source token",
    arrow: "promotes",
    value: "logit added",
    caption:
      "If this head attends to a source token, which next tokens does it push the model towards? " +
      "Each row is one row of the head's full OV circuit W_E·W_V·W_O·W_U: the logits it adds, largest " +
      "first (the direct path through this head alone; layer norms and positions left out). " +
      "A copying head puts the source token itself near the top. Click a token to ask the reverse question.",
  },
  ov_sources: {
    tab: "Written by (OV reverse)",
    list: "Target tokens",
    add: "Add a target token",
    arrow: "written by",
    value: "logit added",
    caption:
      "Which source tokens, when this head attends to them, raise the logit of the target token most? " +
      "Each row is one column of the full OV circuit W_E·W_V·W_O·W_U. Click a source to see everything it makes the head write.",
  },
  qk: {
    tab: "Looks at (QK)",
    list: "Query tokens",
    add: "Add a query token",
    arrow: "prefers keys",
    value: "score",
    caption:
      "When the current token is the query, which key tokens does this head want to attend to, by token " +
      "content alone? Each row is one row of the full QK circuit W_E·W_Q·W_Kᵀ·W_Eᵀ (unscaled; positions " +
      "and layer norms left out). With rotary positions (Llama, Pythia, Gemma ...) or ALiBi (BLOOM) this is the score " +
      "at zero distance: positions rotate or penalize it as the key moves away, and no positional term appears here. " +
      "A previous-token or induction head looks for positions, not contents, so its map can look random.",
  },
};

const K_CHOICES = [5, 10, 20, 50];
const STATIC_NOTE =
  "Static export: asking about new tokens or other heads needs a running Python kernel. This file holds the answers for its default tokens only.";

/** "#262" → 262; anything else is the token string itself (leading spaces matter). */
export function parseEntry(value: string): number | string {
  const m = /^#(\d+)$/.exec(value.trim());
  return m ? Number(m[1]) : value;
}

export function createTokenMaps(parent: HTMLElement, options: TokenMapsOptions): TokenMaps {
  const { cache, tooltip } = options;
  const panel = createPanel(parent, { className: "cw-ov-tokens", title: "Token map", caption: TEXT.ov.caption });
  const element = panel.element;

  // ---- header: tabs + k ---------------------------------------------------------------------
  const tabs = createTabs<Mode>(panel.header, panel.body, {
    label: "Token map questions",
    tabs: MODES.map((m) => ({ value: m, text: TEXT[m].tab })),
    onPick: (m) => setMode(m),
  });
  const kLabel = document.createElement("label");
  kLabel.className = "cw-ov-k";
  kLabel.textContent = "top ";
  const kSelect = createControl("select", "cw-ov-select");
  kLabel.append(kSelect);
  kSelect.addEventListener("change", () => options.setK(Number(kSelect.value)));
  panel.header.append(kLabel);

  // ---- body: token list, input, messages, results --------------------------------------------
  const body = tabs.panel;
  body.classList.add("cw-ov-tabpanel");

  const listRow = document.createElement("div");
  listRow.className = "cw-ov-list";
  const listLabel = document.createElement("span");
  listLabel.className = "cw-ov-list-label";
  const chips = document.createElement("span");
  chips.className = "cw-ov-chips";
  const input = createControl("input", "cw-ov-input");
  input.type = "text";
  input.spellcheck = false;
  input.setAttribute("data-lm-suppress-shortcuts", "true");
  input.placeholder = "a token: ' the' or #262";
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

  // ---- state ----------------------------------------------------------------------------------
  let mode: Mode = "ov";
  let layer = 0;
  let head = 0;
  let k = 10;
  let isStatic = false;
  let defaults: Defaults = { kind: "frequent", choices: [], tokens: [], targets: [] };
  const lists: Record<Mode, TokenRef[]> = { ov: [], ov_sources: [], qk: [] };
  const drafts: Record<Mode, string> = { ov: "", ov_sources: "", qk: "" };
  const failures: Record<Mode, QueryFailure | null> = { ov: null, ov_sources: null, qk: null };
  const inFlight = new Set<string>();
  let palette: Palette | null = null;
  let scale: ColorScale | null = null;

  const question = (): Question => ({ mode, layer, head, k });

  function setMode(next: Mode) {
    drafts[mode] = input.value;
    mode = next;
    tabs.show(mode);
    input.value = drafts[mode];
    input.setAttribute("aria-label", TEXT[mode].add);
    listLabel.textContent = `${TEXT[mode].list}:`;
    panel.caption.textContent = TEXT[mode].caption;
    element.dataset.mode = mode;
    refresh();
  }

  function showFailure() {
    const f = failures[mode];
    message.hidden = f === null;
    if (!f) {
      message.replaceChildren();
      return;
    }
    const text = document.createElement("span");
    text.textContent = f.message;
    const nodes: Node[] = [text];
    if (f.pieces.length > 1) {
      const offer = document.createElement("span");
      offer.className = "cw-ov-pieces";
      offer.append("Add a piece instead: ");
      for (const piece of f.pieces) {
        const b = createButton("", `Add the token ${JSON.stringify(piece.text)} (id ${piece.id})`);
        b.classList.add("cw-ov-piece");
        b.append(visibleToken(piece.text));
        b.addEventListener("click", () => addToken(piece.id, true));
        offer.append(b);
      }
      nodes.push(offer);
    }
    message.replaceChildren(...nodes);
  }

  function renderChips() {
    chips.replaceChildren(
      ...lists[mode].map((t, i) => {
        const chip = document.createElement("span");
        chip.className = "cw-ov-chip";
        chip.dataset.id = String(t.id);
        const name = document.createElement("span");
        name.className = "cw-ov-chip-text";
        name.append(visibleToken(t.text));
        const remove = createButton("×", `Remove ${JSON.stringify(t.text)}`);
        remove.classList.add("cw-ov-chip-remove");
        remove.disabled = isStatic;
        remove.addEventListener("click", () => {
          lists[mode].splice(i, 1);
          refresh();
        });
        chip.append(name, remove);
        return chip;
      }),
    );
  }

  /** The choices not on the current list, as buttons that add them. */
  function renderPicker() {
    const on = new Set(lists[mode].map((t) => t.id));
    const left = defaults.choices.filter((t) => !on.has(t.id));
    picker.hidden = isStatic || left.length === 0;
    const where = defaults.kind === "text" ? "from your text" : "frequent tokens";
    pickerSummary.textContent = `Pick more (${where}, ${left.length})`;
    pickerList.replaceChildren(
      ...left.map((t) => {
        const b = createButton("", `Add ${JSON.stringify(t.text)} (token id ${t.id})`);
        b.classList.add("cw-ov-piece");
        b.dataset.id = String(t.id);
        b.append(visibleToken(t.text));
        b.addEventListener("click", () => {
          lists[mode].push(t);
          if (mode === "ov_sources") options.onTarget(t);
          refresh();
        });
        return b;
      }),
    );
  }

  /** Ask for whatever the current tab lacks; redraw when it comes. */
  function fetchMissing(ids: number[]) {
    const q = question();
    const missing = cache.missing(q, ids);
    const key = `${q.mode}|${q.layer}.${q.head}|${q.k}|${missing.join(",")}`;
    if (missing.length === 0 || inFlight.has(key)) return;
    inFlight.add(key);
    options
      .ask(q, missing)
      .then(() => refresh())
      .catch((f: QueryFailure) => {
        failures[q.mode] = f;
        if (q.mode === mode) showFailure();
      })
      .finally(() => inFlight.delete(key));
  }

  function refresh() {
    renderChips();
    renderPicker();
    showFailure();
    const ids = lists[mode].map((t) => t.id);
    const q = question();
    Object.assign(element.dataset, { layer: String(layer), head: String(head), k: String(k) });
    const rows = ids.length ? cache.rows(q, ids) : [];
    if (ids.length === 0) {
      setState("empty", "Add a token above to see what this head does with it.");
      results.replaceChildren();
      return;
    }
    if (rows) {
      setState("ready", "");
      drawRows(rows);
      return;
    }
    if (isStatic) {
      setState("missing", `This file holds no token map for layer ${layer} head ${head} with these tokens; it needs a running Python kernel.`);
      results.replaceChildren();
      return;
    }
    setState("loading", "Asking Python…");
    results.classList.add("cw-ov-stale");
    fetchMissing(ids);
  }

  function setState(state: string, text: string) {
    element.dataset.state = state;
    status.textContent = text;
    status.hidden = text === "";
    results.classList.toggle("cw-ov-stale", false);
  }

  function drawRows(rows: Row[]) {
    let max = 0;
    for (const row of rows) for (const v of row.values) if (v > max) max = v;
    const rowScale = palette ? sequential(palette, [0, max > 0 ? max : 1]) : scale;
    results.replaceChildren(
      ...rows.map((row) => {
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
        row.top.forEach((t, j) => pills.append(pill(row, t, j, rowScale)));
        line.append(given, arrow, pills);
        return line;
      }),
    );
  }

  function pill(row: Row, t: TokenRef, rank: number, rowScale: ColorScale | null): HTMLElement {
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
    const swatch = v > 0 && rowScale ? rowScale(v) : null;
    b.style.background = swatch?.background ?? "";
    b.style.color = swatch?.color ?? "";
    const what = mode === "ov" ? "destination" : mode === "ov_sources" ? "source" : "key";
    b.setAttribute("aria-label", `${what} ${JSON.stringify(t.text)}, ${TEXT[mode].value} ${formatValue(v)}`);
    const show = () =>
      tooltip.show(b, {
        title: visibleToken(t.text),
        rows: [
          ["token id", String(t.id)],
          [TEXT[mode].value, formatValue(v)],
          ["rank", `${rank + 1} of ${row.top.length}`],
          [mode === "ov_sources" ? "target" : mode === "qk" ? "query" : "source", row.given.text],
        ],
        note:
          mode === "ov"
            ? "click: which sources make this head write it?"
            : mode === "ov_sources"
              ? "click: what does this head write for it?"
              : undefined,
      });
    b.addEventListener("pointerenter", show);
    b.addEventListener("focus", show);
    b.addEventListener("pointerleave", () => tooltip.hide());
    b.addEventListener("blur", () => tooltip.hide());
    if (clickable) {
      b.addEventListener("click", () => {
        tooltip.hide();
        if (mode === "ov") {
          showTarget(t);
          options.onTarget(t);
          setMode("ov_sources");
        } else {
          putFirst("ov", t);
          setMode("ov");
        }
      });
    }
    return b;
  }

  function putFirst(m: Mode, t: TokenRef) {
    lists[m] = [t, ...lists[m].filter((x) => x.id !== t.id)];
  }

  function showTarget(t: TokenRef) {
    if (lists.ov_sources[0]?.id === t.id) return;
    putFirst("ov_sources", t);
    if (mode === "ov_sources") refresh();
  }

  /** Add a typed entry: Python checks it (and answers for this head in the same trip). */
  function addToken(entry: number | string, fromPiece = false) {
    if (isStatic || entry === "") return;
    const q = question();
    failures[q.mode] = null;
    showFailure();
    setState("loading", "Asking Python…");
    options
      .ask(q, [entry])
      .then((answer) => {
        const id = answer.given[0] as number;
        const t = { id, text: answer.given_strs[0] ?? "" };
        if (!lists[q.mode].some((x) => x.id === id)) lists[q.mode].push(t);
        if (!fromPiece) drafts[q.mode] = "";
        if (q.mode === mode) {
          if (!fromPiece) input.value = "";
          if (q.mode === "ov_sources") options.onTarget(t);
          refresh();
        }
      })
      .catch((f: QueryFailure) => {
        failures[q.mode] = f;
        if (q.mode === mode) {
          showFailure();
          refresh();
        }
      });
  }

  input.addEventListener("keydown", (e) => {
    e.stopPropagation(); // keep JupyterLab's notebook shortcuts out of the box
    if (e.key === "Enter") {
      e.preventDefault();
      addToken(parseEntry(input.value));
    }
  });
  input.addEventListener("input", () => {
    if (input.value === "" && failures[mode]) {
      failures[mode] = null; // the box was cleared: the message about it goes too
      showFailure();
    }
  });
  addButton.addEventListener("click", () => addToken(parseEntry(input.value)));
  resetButton.addEventListener("click", () => {
    lists[mode] = [...(mode === "ov_sources" ? defaults.targets : defaults.tokens)];
    failures[mode] = null;
    refresh();
  });

  function setStatic(value: boolean) {
    isStatic = value;
    input.disabled = addButton.disabled = resetButton.disabled = kSelect.disabled = value;
    hint.textContent = value
      ? STATIC_NOTE
      : defaults.kind === "text"
        ? "Starting tokens: the tokens of your text. A token is exactly one vocabulary entry: ' cat' (with its space) and 'cat' differ."
        : "Starting tokens: frequent whole words of the tokenizer. A token is exactly one vocabulary entry: ' cat' (with its space) and 'cat' differ.";
    hint.classList.toggle("cw-ov-hint-static", value);
    refresh();
  }

  function fillK() {
    const choices = [...new Set([...K_CHOICES, k])].sort((a, b) => a - b);
    kSelect.replaceChildren(
      ...choices.map((n) => {
        const o = document.createElement("option");
        o.value = String(n);
        o.textContent = String(n);
        o.selected = n === k;
        return o;
      }),
    );
  }

  setMode("ov");
  fillK();
  return {
    element,
    setHead(l, h) {
      if (l === layer && h === head) return;
      layer = l;
      head = h;
      refresh();
    },
    setK(next) {
      k = next;
      fillK();
      refresh();
    },
    setDefaults(next) {
      defaults = next;
      lists.ov = [...next.tokens];
      lists.qk = [...next.tokens];
      const first = lists.ov_sources[0];
      lists.ov_sources = [...next.targets];
      if (first && !next.targets.some((t) => t.id === first.id)) lists.ov_sources.unshift(first);
      setStatic(isStatic);
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

/** A logit or score, a real minus sign: 2 decimals (fewer above 10), or two significant
 * digits in e-notation below 0.01 (a random model's logits are tiny: "3.1e-3", not "0.00"). */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return "—";
  const a = Math.abs(v);
  let text: string;
  if (a === 0) text = "0";
  else if (a < 0.01) text = a.toExponential(1).replace("e-", "e−");
  else text = a.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
  return v < 0 ? `−${text}` : text;
}
