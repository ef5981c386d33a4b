/**
 * Whether a view still has a Python kernel behind it, and what it does when it has none.
 *
 * A widget's front end can outlive its kernel: the kernel restarts or stops while the page
 * stays open, or the page never had one (`jupyter nbconvert --to html` of a notebook with
 * saved widget state, `nbconvert --execute`, a notebook reopened before its kernel runs).
 * Three signs, any of which counts: ipywidgets marks a model without a comm `comm_live =
 * false` (firing `comm_live_update`) and gives its views the class {@link DISCONNECTED_CLASS};
 * JupyterLab's kernel connection reports a restart in its `statusChanged` (JupyterLab 4 drops
 * the comms then without telling the models); a message sent on a dead comm throws.
 *
 *     const kernel = connectKernel(model, el, signal);   // createView (kit/view.ts) calls it
 *     kernel.state;        // "live" | "gone" (it had one, now lost) | "static" (never had one)
 *
 * What it does, once, for every view:
 *
 * - **stops sending**: the view's `model.send` and `model.save_changes` do nothing but report
 *   while there is no kernel (a send that throws marks the kernel gone), and requests waiting
 *   for an answer are rejected ({@link onKernelLost}, kit/channel.ts), so clicks and typing
 *   raise nothing;
 * - **says so**: `data-kernel` on the view's root and a note ({@link GONE_NOTE} or
 *   {@link STATIC_NOTE}) the view shows;
 * - **turns the view static**: sets the model's `_static` in this page only (never saved to
 *   the kernel), so every view's existing static mode applies — the text box read-only with a
 *   note, no requests, token maps and patterns from what the page holds.
 *
 * Hosts without ipywidgets' disconnection signal (marimo) are always "live". A model whose
 * `_static` Python already set (our `save_html` pages) is left as it is: those say so already.
 */
import type { AnyModel } from "@anywidget/types";

/** The class ipywidgets gives a widget view whose model has no live comm. */
export const DISCONNECTED_CLASS = "jupyter-widgets-disconnected";

export type KernelState = "live" | "gone" | "static";

/** What a view says when the kernel that made it has restarted or stopped. */
export const GONE_NOTE =
  "No kernel: the Python kernel behind this view restarted or stopped, so it can no longer compute. " +
  "What is drawn stays, hover and clicks still work here; re-run the cell for a live view.";
/** What a view says on a page with no kernel behind it (e.g. a notebook converted to HTML). */
export const STATIC_NOTE =
  "Static page: no Python kernel is behind this view. It draws, hovers and links what it saved; " +
  "changing the text or asking for anything new needs the notebook running.";
/** The note under the text box when there is no kernel. */
export const NO_KERNEL_TEXT_NOTE = "No kernel: changing the text needs a running Python kernel.";

export interface Kernel {
  readonly state: KernelState;
  /** What the view shows about it: "" while live, and on our `save_html` pages (whose
   * views say "Static export" in their own words). */
  readonly note: string;
}

type Model = AnyModel<Record<string, unknown>>;
type Listener = () => void;

interface Entry {
  kernel: { state: KernelState; note: string };
  lost: Set<Listener>;
  /** True while `_static` is set by this module (not by Python). */
  ownStatic: boolean;
}

const entries = new WeakMap<object, Entry>();

/** The kernel state of `model` ("live" for a model no view has connected). */
export function kernelState(model: object): KernelState {
  return entries.get(model)?.kernel.state ?? "live";
}

/** Call `listener` when `model`'s kernel goes (once per loss); returns the unsubscriber. */
export function onKernelLost(model: object, listener: Listener): () => void {
  const entry = entries.get(model);
  if (!entry) return () => {};
  entry.lost.add(listener);
  return () => entry.lost.delete(listener);
}

/** Whether the host marks `el` (or the view around it) as having no live comm. */
export function isDisconnected(el: HTMLElement): boolean {
  return el.closest(`.${DISCONNECTED_CLASS}`) !== null;
}

function noteFor(state: KernelState): string {
  return state === "gone" ? GONE_NOTE : state === "static" ? STATIC_NOTE : "";
}

/** Kernel statuses after which the comms a view was made with are gone for good. */
const LOST_STATUSES = new Set(["restarting", "autorestarting", "dead"]);

interface StatusSignal {
  connect(slot: (sender: unknown, status: string) => void): unknown;
  disconnect(slot: (sender: unknown, status: string) => void): unknown;
}

/**
 * JupyterLab 4 disposes a view's comm on a kernel restart without telling the model (no
 * `comm_live_update`); its widget manager's `kernel` (a Jupyter kernel connection, the same
 * object across restarts) reports the restart in `statusChanged`. Hosts without one: nothing.
 */
function watchStatus(model: Model, signal: AbortSignal, onLost: () => void): void {
  const kernel = (model.widget_manager as { kernel?: { status?: string; statusChanged?: StatusSignal } } | undefined)?.kernel;
  const changed = kernel?.statusChanged;
  if (!changed || typeof changed.connect !== "function") return;
  const slot = (_sender: unknown, status: string) => {
    if (LOST_STATUSES.has(status)) onLost();
  };
  changed.connect(slot);
  signal.addEventListener("abort", () => changed.disconnect(slot));
  if (kernel.status === "dead") onLost();
}

/**
 * Watch `model`'s kernel for the view rendered into `el`; `onChange` runs after every change of
 * state (not at the start). Guards `model.send`/`model.save_changes` (see the module comment).
 */
export function connectKernel(model: Model, el: HTMLElement, signal: AbortSignal, onChange: () => void = () => {}): Kernel {
  const entry: Entry = entries.get(model) ?? { kernel: { state: "live", note: "" }, lost: new Set(), ownStatic: false };
  entries.set(model, entry);

  // Once lost, never live again: a restarted kernel does not know the old comms, and a model
  // that had none (a converted page) never gets one (the kernel makes new models).
  const setState = (state: Exclude<KernelState, "live">) => {
    if (signal.aborted || entry.kernel.state !== "live") return;
    entry.kernel.state = state;
    if (!model.get("_static")) {
      entry.ownStatic = true;
      model.set("_static", true); // this page only: save_changes below never sends it
    }
    // our save_html pages (`_static` from Python) say so in their own words already
    entry.kernel.note = state === "gone" || entry.ownStatic ? noteFor(state) : "";
    for (const listener of [...entry.lost]) listener();
    if (started) onChange();
  };
  let started = false;

  const send = model.send.bind(model);
  const save = model.save_changes.bind(model);
  const guarded = <A extends unknown[]>(call: (...args: A) => void) => (...args: A) => {
    if (entry.kernel.state !== "live") throw new Error(noteFor(entry.kernel.state));
    try {
      call(...args);
    } catch (e) {
      setState("gone");
      throw new Error(`${GONE_NOTE} (${e instanceof Error ? e.message : String(e)})`);
    }
  };
  Object.assign(model, {
    send: guarded(send),
    // A click in a view with no kernel still changes what this page shows; only saving stops.
    save_changes: () => {
      if (entry.kernel.state !== "live") return;
      try {
        save();
      } catch {
        setState("gone");
      }
    },
  });

  if (isDisconnected(el)) setState("static");
  const update = () =>
    queueMicrotask(() => {
      // ipywidgets updates the view's class in its own `comm_live_update` listener
      if (isDisconnected(el)) setState("gone");
    });
  model.on("comm_live_update", update);
  signal.addEventListener("abort", () => model.off("comm_live_update", update));
  watchStatus(model, signal, () => setState("gone"));
  started = true; // the state found while connecting is the caller's starting state
  return entry.kernel;
}
