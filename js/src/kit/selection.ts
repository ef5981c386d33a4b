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
 */
import type { AnyModel } from "@anywidget/types";

/** Every field of the selection (the Python `SELECTION_FIELDS`). */
export const SELECTION_FIELDS = ["layer", "head", "query", "key", "token", "lens_layer", "position"] as const;
export type SelectionField = (typeof SELECTION_FIELDS)[number];
export type SelectionState = { [K in SelectionField]: number | null } & { [key: string]: unknown };
export type SelectionChanges = Partial<Record<SelectionField, number | null>>;

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

export interface SharedSelection {
  /** The field's value, or `null` (nothing selected, or the selection not resolved yet). */
  get(field: SelectionField): number | null;
  /** Write several fields at once; every view sharing the selection hears one change. */
  set(changes: SelectionChanges): void;
  /** True once the referenced selection model has been found. */
  readonly ready: boolean;
}

export interface SelectionOptions {
  signal: AbortSignal;
  /** Called (once per batch of changes, on a microtask) with the fields that changed; with
   * every field when the selection is first resolved or replaced. */
  onChange: (changed: ReadonlySet<SelectionField>) => void;
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
  let pending = new Set<SelectionField>();
  let queued = false;

  const flush = () => {
    queued = false;
    if (options.signal.aborted || pending.size === 0) return;
    const changed = pending;
    pending = new Set();
    options.onChange(changed);
  };
  const notify = (fields: Iterable<SelectionField>) => {
    for (const f of fields) pending.add(f);
    if (!queued) {
      queued = true;
      queueMicrotask(flush);
    }
  };
  const handlers = SELECTION_FIELDS.map((field) => [field, () => notify([field])] as const);

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
    notify(SELECTION_FIELDS);
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
    set(changes) {
      const target = shared;
      if (!target) return;
      const diff = differing(changes, (f) => (typeof target.get(f) === "number" ? (target.get(f) as number) : null));
      const entries = Object.entries(diff) as [SelectionField, number | null][];
      if (entries.length === 0) return;
      for (const [field, value] of entries) target.set(field, value);
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

export interface Head {
  layer: number;
  head: number;
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
