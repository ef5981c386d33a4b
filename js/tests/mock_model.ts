/**
 * A widget model for tests, without a front end: traits in a Map, `change:<name>` and
 * `msg:custom` events, and a kernel stand-in that answers `invoke` requests (kit/channel.ts)
 * with handlers by name, as `circuitwidgets/widgets/_channel.py` does.
 */
import { REQUEST, RESPONSE } from "../src/kit/channel";

type Callback = (...args: any[]) => void;
export type Handler = (payload: Record<string, unknown>) => unknown;

export interface Sent {
  content: Record<string, unknown>;
}

export class MockModel {
  readonly traits = new Map<string, unknown>();
  readonly listeners = new Map<string, Set<Callback>>();
  readonly sent: Record<string, unknown>[] = [];
  readonly saved: Record<string, unknown>[] = [];
  /** Answer requests at once (true), or hold them in `held` until `release()`. */
  auto = true;
  readonly held: Record<string, unknown>[] = [];
  /** Models other models reference as "IPY_MODEL_<id>" (the shared selection). */
  readonly others = new Map<string, MockModel>();
  widget_manager = { get_model: async (id: string) => this.others.get(id) };

  constructor(initial: Record<string, unknown> = {}, readonly handlers: Record<string, Handler> = {}) {
    for (const [k, v] of Object.entries(initial)) this.traits.set(k, v);
  }

  get(key: string): any {
    return this.traits.get(key);
  }

  set(key: string, value: unknown): void {
    this.traits.set(key, value);
    this.emit(`change:${key}`);
  }

  save_changes(): void {
    this.saved.push(Object.fromEntries(this.traits));
  }

  on(name: string, callback: Callback): void {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name)!.add(callback);
  }

  off(name?: string | null, callback?: Callback | null): void {
    for (const [n, set] of this.listeners) {
      if (name != null && n !== name) continue;
      if (callback == null) set.clear();
      else set.delete(callback);
    }
  }

  count(name: string): number {
    return this.listeners.get(name)?.size ?? 0;
  }

  emit(name: string, ...args: unknown[]): void {
    for (const callback of [...(this.listeners.get(name) ?? [])]) callback(...args);
  }

  send(content: Record<string, unknown>): void {
    this.sent.push(content);
    if (content.kind !== REQUEST) return;
    if (this.auto) queueMicrotask(() => this.answer(content));
    else this.held.push(content);
  }

  /** Answer the held requests (in order). */
  release(): void {
    for (const request of this.held.splice(0)) this.answer(request);
  }

  /** What `_channel.py` replies to `request`, with wire arrays' buffers as binary frames. */
  answer(request: Record<string, unknown>): void {
    const handler = this.handlers[request.name as string];
    let reply: Record<string, unknown>;
    try {
      if (!handler) throw new Error(`no handler named ${String(request.name)}`);
      reply = { ok: true, response: handler(request.payload as Record<string, unknown>) };
    } catch (e) {
      const stale = e instanceof Error && e.name === "Stale";
      reply = { ok: false, stale, error: e instanceof Error ? e.message : String(e), detail: (e as { detail?: unknown }).detail };
    }
    const buffers: DataView[] = [];
    const split = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(split);
      if (value === null || typeof value !== "object") return value;
      const record = value as Record<string, unknown>;
      if (record.buffer instanceof DataView) {
        buffers.push(record.buffer);
        const { buffer: _, ...rest } = record;
        return { ...rest, buffer_index: buffers.length - 1 };
      }
      return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, split(v)]));
    };
    this.emit("msg:custom", { kind: RESPONSE, id: request.id, ...(split(reply) as object) }, buffers);
  }
}

/** A little-endian wire array of `values` (float32 or int32). */
export function wire(dtype: "float32" | "int32" | "uint8", shape: number[], values: ArrayLike<number>) {
  const ctor = { float32: Float32Array, int32: Int32Array, uint8: Uint8Array }[dtype];
  const data = ctor.from(values as ArrayLike<number>);
  return { dtype, shape, buffer: new DataView(data.buffer) };
}

/** A view model linked to a shared selection model (resolved through `widget_manager`). */
export function withSelection(model: MockModel, fields: Record<string, number | number[] | null> = {}): MockModel {
  const selection = new MockModel({ layer: 0, head: 0, query: null, key: null, token: null, lens_layer: null, position: null, pair: [], ...fields });
  model.others.set("sel", selection);
  model.traits.set("selection", "IPY_MODEL_sel");
  return selection;
}

/** Let microtasks and zero-delay timers run (the selection resolves, requests are answered). */
export const settle = async (times = 3) => {
  for (let i = 0; i < times; i++) await new Promise((r) => setTimeout(r, 0));
};

/** Render `view` (a bundle's default export) into a fresh element; returns it and the cleanup. */
export async function mount(view: { render: (props: any) => unknown }, model: MockModel) {
  const el = document.createElement("div");
  document.body.append(el);
  const controller = new AbortController();
  const cleanup = await view.render({ model, el, signal: controller.signal, experimental: {} });
  await settle();
  return {
    el,
    async unmount() {
      controller.abort();
      if (typeof cleanup === "function") await cleanup();
      el.remove();
    },
  };
}

/** happy-dom has no 2D canvas: give canvases a context that takes every call and draws nothing
 * (ImageData included), so views that paint heatmaps render; what they paint is the browser
 * suite's to check. */
export function stubCanvas(): void {
  const proto = HTMLCanvasElement.prototype as unknown as { getContext: (kind: string) => unknown };
  const imageData = (width: number, height: number) => ({ width, height, data: new Uint8ClampedArray(width * height * 4) });
  proto.getContext = function (this: HTMLCanvasElement) {
    const canvas = this;
    const target: Record<string, unknown> = {
      canvas,
      createImageData: (w: number | { width: number; height: number }, h?: number) =>
        typeof w === "number" ? imageData(w, h as number) : imageData(w.width, w.height),
      getImageData: (_x: number, _y: number, w: number, h: number) => imageData(w, h),
      measureText: (text: string) => ({ width: text.length * 7 }),
    };
    return new Proxy(target, {
      get: (t, key: string) => (key in t ? t[key] : () => undefined),
      set: (t, key: string, value) => ((t[key] = value), true),
    });
  };
  if (!("ImageData" in globalThis)) {
    (globalThis as Record<string, unknown>).ImageData = class {
      data: Uint8ClampedArray;
      constructor(public width: number, public height: number) {
        this.data = new Uint8ClampedArray(width * height * 4);
      }
    };
  }
}
