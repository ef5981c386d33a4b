/**
 * The shared selection, seen from a view in the browser.
 *
 * Python gives every linked view a `selection` trait that references one `Selection` widget
 * model (circuitwidgets/widgets/selection.py); it arrives here as the string
 * `"IPY_MODEL_<model id>"`. {@link connectSelection} resolves that reference through the
 * widget manager, listens to the selection model's `change:<field>` events and writes clicks
 * straight into it (`set` + `save_changes`). Every view sharing the selection hears the
 * change at once, in the browser, without a kernel round trip — so linking also works in a
 * static HTML export, where there is no kernel (there `save_changes` is skipped).
 *
 *     const sel = connectSelection(model, {
 *       signal,
 *       canSave: () => !model.get("_static"),
 *       onChange: (changed) => { if (changed.has("head")) redrawHead(); },
 *     });
 *     button.onclick = () => sel.set({ layer: 3, head: 5 });
 *     sel.get("head");   // null until the selection model has been resolved
 *     edge.onclick = () => sel.set({ pair: [0, 1, 1, 3] });   // two heads: L1H3 selected
 *     sel.pair();        // { writer: {layer: 0, head: 1}, reader: {layer: 1, head: 3} }
 *
 * The pair rule (the same as the Python Selection's, applied in {@link withPairRule} so that
 * it also holds in a static export): setting a pair selects its reading head; selecting any
 * other head clears the pair.
 */
import type { AnyModel } from "@anywidget/types";

/** Every field of the selection (the Python `SELECTION_FIELDS`). */
export const SELECTION_FIELDS = ["layer", "head", "query", "key", "token", "lens_layer", "position"] as const;
export type SelectionField = (typeof SELECTION_FIELDS)[number];
/** The field holding a pair of heads (the Python `PAIR_FIELD`): `[]` or four ints. */
export const PAIR_FIELD = "pair";
/** Any field of the selection, the pair included (what `onChange` reports). */
export type SelectionKey = SelectionField | typeof PAIR_FIELD;
export type SelectionState = { pair: number[]; [key: string]: unknown } & { [K in SelectionField]: number | null };
/** Fields to write; `pair: []` clears the pair. */
export type SelectionChanges = Partial<Record<SelectionField, number | null>> & { pair?: number[] };

const PREFIX = "IPY_MODEL_";

/** The model id in a widget reference (`"IPY_MODEL_<id>"`), or `null` for anything else. */
export function modelIdOf(reference: unknown): string | null {
  if (typeof reference !== "string" || !reference.startsWith(PREFIX)) return null;
  const id = reference.slice(PREFIX.length);
  return id === "" ? null : id;
}

/** Which of `changes` differ from what `current` holds (the fields worth writing). */
export function differing(changes: SelectionChanges, current: (field: SelectionField) => number | null): SelectionChanges {
  const out: SelectionChanges = {};
  for (const [field, value] of Object.entries(changes) as [SelectionField, number | null][]) {
    if (SELECTION_FIELDS.includes(field) && value !== undefined && current(field) !== value) out[field] = value;
  }
  return out;
}

export interface Head {
  layer: number;
  head: number;
}

/** Two heads selected together: the writer (earlier layer) and the reader (the selected head). */
export interface Pair {
  writer: Head;
  reader: Head;
}

/** The pair in a selection's `pair` value, or `null` for `[]` or anything that is not four
 * non-negative ints with the writer in an earlier layer. */
export function parsePair(value: unknown): Pair | null {
  if (!Array.isArray(value) || value.length !== 4 || !value.every((v) => Number.isInteger(v) && v >= 0)) return null;
  const [l1, h1, l2, h2] = value as [number, number, number, number];
  if (l1 >= l2) return null;
  return { writer: { layer: l1, head: h1 }, reader: { layer: l2, head: h2 } };
}

/** A pair as the selection holds it: `[writer layer, writer head, reader layer, reader head]`. */
export const pairList = (pair: Pair): number[] => [pair.writer.layer, pair.writer.head, pair.reader.layer, pair.reader.head];

/** `changes` with the pair rule applied against what the selection holds now: a pair selects
 * its reading head (`layer`, `head`); a head other than the pair's reader clears the pair. */
export function withPairRule(
  changes: SelectionChanges,
  current: { layer: number | null; head: number | null; pair: Pair | null },
): SelectionChanges {
  const out: SelectionChanges = { ...changes };
  if (changes.pair !== undefined) {
    const pair = parsePair(changes.pair);
    out.pair = pair ? pairList(pair) : [];
    if (pair) Object.assign(out, { layer: pair.reader.layer, head: pair.reader.head });
    return out;
  }
  if (current.pair && ("layer" in changes || "head" in changes)) {
    const layer = changes.layer !== undefined ? changes.layer : current.layer;
    const head = changes.head !== undefined ? changes.head : current.head;
    if (layer !== current.pair.reader.layer || head !== current.pair.reader.head) out.pair = [];
  }
  return out;
}

export interface SharedSelection {
  /** The field's value, or `null` (nothing selected, or the selection not resolved yet). */
  get(field: SelectionField): number | null;
  /** The selected pair of heads, or `null` (none). */
  pair(): Pair | null;
  /** Write several fields at once (with the pair rule, {@link withPairRule}); every view
   * sharing the selection hears one change. */
  set(changes: SelectionChanges): void;
  /** True once the referenced selection model has been found. */
  readonly ready: boolean;
}

export interface SelectionOptions {
  signal: AbortSignal;
  /** Called (once per batch of changes, on a microtask) with the fields that changed; with
   * every field when the selection is first resolved or replaced. */
  onChange: (changed: ReadonlySet<SelectionKey>) => void;
  /** Whether changes may be sent to the kernel (false in a static export). */
  canSave?: () => boolean;
  /** The view model's trait holding the reference (default `"selection"`). */
  trait?: string;
}

type ViewModel = AnyModel<Record<string, unknown>>;

export function connectSelection(model: ViewModel, options: SelectionOptions): SharedSelection {
  const trait = options.trait ?? "selection";
  let shared: AnyModel<SelectionState> | null = null;
  let generation = 0;
  let pending = new Set<SelectionKey>();
  let queued = false;

  const flush = () => {
    queued = false;
    if (options.signal.aborted || pending.size === 0) return;
    const changed = pending;
    pending = new Set();
    options.onChange(changed);
  };
  const notify = (fields: Iterable<SelectionKey>) => {
    for (const f of fields) pending.add(f);
    if (!queued) {
      queued = true;
      queueMicrotask(flush);
    }
  };
  const keys: SelectionKey[] = [...SELECTION_FIELDS, PAIR_FIELD];
  const handlers = keys.map((field) => [field, () => notify([field])] as const);

  const detach = () => {
    if (!shared) return;
    for (const [field, handler] of handlers) shared.off(`change:${field}`, handler);
    shared = null;
  };

  const resolve = async () => {
    const mine = ++generation;
    detach();
    const id = modelIdOf(model.get(trait));
    if (id === null) return;
    const found = (await model.widget_manager.get_model(id)) as AnyModel<SelectionState>;
    if (mine !== generation || options.signal.aborted) return; // replaced meanwhile
    shared = found;
    for (const [field, handler] of handlers) found.on(`change:${field}`, handler);
    notify(keys);
  };

  const onReplaced = () => void resolve();
  model.on(`change:${trait}`, onReplaced);
  options.signal.addEventListener("abort", () => {
    model.off(`change:${trait}`, onReplaced);
    detach();
  });
  void resolve();

  return {
    get ready() {
      return shared !== null;
    },
    get(field) {
      const value = shared?.get(field);
      return typeof value === "number" ? value : null;
    },
    pair() {
      return parsePair(shared?.get(PAIR_FIELD));
    },
    set(changes) {
      const target = shared;
      if (!target) return;
      const number = (f: SelectionField) => (typeof target.get(f) === "number" ? (target.get(f) as number) : null);
      const pair = parsePair(target.get(PAIR_FIELD));
      const ruled = withPairRule(changes, { layer: number("layer"), head: number("head"), pair });
      const diff: Record<string, unknown> = differing(ruled, number);
      const held = pair ? pairList(pair) : [];
      if (ruled.pair !== undefined && ruled.pair.join(",") !== held.join(",")) diff[PAIR_FIELD] = ruled.pair;
      const entries = Object.entries(diff);
      if (entries.length === 0) return;
      // views hear these on one microtask (onChange), the kernel in one message (save_changes)
      for (const [field, value] of entries) target.set(field, value as SelectionState[string]);
      if (options.canSave?.() ?? true) {
        try {
          target.save_changes();
        } catch {
          // No comm (a static export whose view did not say so): the browser-side change
          // has already reached every view, which is all that can happen without a kernel.
        }
      }
    },
  };
}

/** The selected head when the selection holds one this model has, else `fallback` (the head
 * drawn last, or 0.0): a selection shared with a bigger model may name a head this one lacks. */
export function selectedHead(
  selection: Pick<SharedSelection, "get">,
  nLayers: number,
  nHeads: number,
  fallback: Head | null = null,
): Head {
  const layer = selection.get("layer");
  const head = selection.get("head");
  if (layer !== null && head !== null && layer < nLayers && head < nHeads) return { layer, head };
  return fallback ?? { layer: 0, head: 0 };
}

/** The pair's writing head when the selection holds a pair whose two heads this model has and
 * its reader is the selected head, else `null`: what a view marks beside the selected head. */
export function pairedHead(selection: Pick<SharedSelection, "pair" | "get">, nLayers: number, nHeads: number): Head | null {
  const pair = selection.pair();
  if (!pair || selection.get("layer") !== pair.reader.layer || selection.get("head") !== pair.reader.head) return null;
  const fits = (h: Head) => h.layer < nLayers && h.head < nHeads;
  return fits(pair.writer) && fits(pair.reader) ? pair.writer : null;
}
