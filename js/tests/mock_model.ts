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
  widget_manager = {};

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
