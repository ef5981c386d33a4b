/**
 * Attention patterns of single heads, fetched from the kernel when a view needs them.
 *
 * A view receives a *bank* of full patterns up front (a trait `{run, heads: [[l, h]...],
 * patterns: float16 [n, S, S]}`: the selected head live, more of them in a static export) and
 * asks the kernel for any other head with the custom message
 * `{type: "pattern", layer, head, run}`; the kernel answers `{type: "pattern", layer, head,
 * run, dtype, shape}` with the pattern as one binary buffer. `run` (bumped by Python for every
 * new input) keeps patterns of different inputs apart. The last few fetched are kept.
 *
 *     const patterns = createHeadPatterns(model, { run: () => model.get("run_id"), canFetch, onArrive });
 *     patterns.loadBank(model.get("_bank"));
 *     const p = patterns.get(layer, head);     // null: asked for (onArrive follows), or unavailable
 */
import type { AnyModel } from "@anywidget/types";
import { decode, type WireArray } from "./decode";
import { toLevels } from "./heatmap_layout";

export interface PatternBank {
  run: number;
  heads: [number, number][];
  patterns: WireArray;
}

/** One head's pattern: `n` x `n` weights and their colour levels (0..255). */
export interface HeadPattern {
  n: number;
  values: Float32Array;
  levels: Uint8Array;
}

export interface HeadPatternsOptions {
  /** The current run id. */
  run: () => number;
  /** Whether a kernel can be asked (false in a static export). */
  canFetch: () => boolean;
  /** A requested head's pattern arrived (for the current run). */
  onArrive: (layer: number, head: number) => void;
  signal: AbortSignal;
  /** How many fetched patterns to keep (default 8). */
  cacheSize?: number;
}

export interface HeadPatterns {
  /** Replace the pinned patterns (a bank of another run is ignored). */
  loadBank(bank: PatternBank | null): void;
  /** The pattern if the page has it; otherwise `null`, after asking the kernel (once). */
  get(layer: number, head: number): HeadPattern | null;
  /** Forget fetched patterns and pending requests (call when a new run arrives). */
  reset(): void;
}

export function createHeadPatterns(model: AnyModel<Record<string, unknown>>, options: HeadPatternsOptions): HeadPatterns {
  const cacheSize = options.cacheSize ?? 8;
  const pinned = new Map<string, HeadPattern>();
  const cache = new Map<string, HeadPattern>(); // LRU by insertion order
  const pending = new Set<string>();
  const keyOf = (layer: number, head: number, run = options.run()) => `${run}:${layer}.${head}`;

  const remember = (key: string, pattern: HeadPattern) => {
    cache.delete(key);
    cache.set(key, pattern);
    while (cache.size > cacheSize) cache.delete(cache.keys().next().value as string);
  };

  const onMessage = (msg: Record<string, unknown>, buffers: DataView[]) => {
    if (msg.type !== "pattern" || options.signal.aborted) return;
    const key = keyOf(msg.layer as number, msg.head as number, msg.run as number);
    pending.delete(key);
    if (msg.run !== options.run() || !buffers[0]) return;
    const values = decode({ dtype: msg.dtype as string, shape: msg.shape as number[], buffer: buffers[0] });
    const data = values.data instanceof Float32Array ? values.data : Float32Array.from(values.data);
    const n = values.shape[values.shape.length - 1] as number;
    remember(key, { n, values: data, levels: toLevels(data, values.scale) });
    options.onArrive(msg.layer as number, msg.head as number);
  };
  model.on("msg:custom", onMessage);
  options.signal.addEventListener("abort", () => model.off("msg:custom", onMessage));

  return {
    loadBank(bank) {
      pinned.clear();
      if (!bank || bank.run !== options.run()) return;
      const all = decode(bank.patterns);
      const n = all.shape[1] as number;
      const size = n * n;
      const data = all.data instanceof Float32Array ? all.data : Float32Array.from(all.data);
      bank.heads.forEach(([layer, head], i) => {
        const values = data.subarray(i * size, (i + 1) * size);
        pinned.set(keyOf(layer, head), { n, values, levels: toLevels(values, all.scale) });
      });
    },
    get(layer, head) {
      const key = keyOf(layer, head);
      const known = pinned.get(key) ?? cache.get(key);
      if (known) {
        if (cache.has(key)) remember(key, known);
        return known;
      }
      if (options.canFetch() && !pending.has(key)) {
        pending.add(key);
        model.send({ type: "pattern", layer, head, run: options.run() });
      }
      return null;
    },
    reset() {
      cache.clear();
      pending.clear();
    },
  };
}
