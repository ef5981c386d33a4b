/**
 * Attention patterns of single heads, fetched from the kernel when a view needs them.
 *
 * A view receives a *bank* of full patterns up front (a trait `{run, heads: [[l, h]...],
 * patterns: float16 [n, S, S]}`: the selected head live, more of them in a static export) and
 * asks the kernel for any other head through the request channel (kit/channel.ts):
 * `invoke("pattern", {layer, head, run})` answers `{layer, head, run, pattern}`. `run`
 * (bumped by Python for every new input) keeps patterns of different inputs apart. The last
 * few fetched are kept; a request the kernel refuses leaves its reason in `error(layer, head)`.
 *
 *     const patterns = createHeadPatterns(model, { run: () => model.get("run_id"), canFetch, onArrive });
 *     patterns.loadBank(model.get("_bank"));
 *     const p = patterns.get(layer, head);     // null: asked for (onArrive follows), or unavailable
 */
import type { AnyModel } from "@anywidget/types";
import { failureText, invoke, isQuiet } from "./channel";
import { decode, type NDArray, type WireArray } from "./decode";
import { toLevels } from "./heatmap_layout";
import { LRU } from "./lru";

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
  /** A requested head's pattern arrived (for the current run), or the kernel refused it
   * (then {@link HeadPatterns.error} says why). */
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
  /** Why the kernel could not send this head's pattern ("" if it has not refused). */
  error(layer: number, head: number): string;
  /** Forget fetched patterns and pending requests (call when a new run arrives). */
  reset(): void;
}

interface PatternAnswer {
  layer: number;
  head: number;
  run: number;
  pattern: NDArray;
}

export function createHeadPatterns(model: AnyModel<Record<string, unknown>>, options: HeadPatternsOptions): HeadPatterns {
  const pinned = new Map<string, HeadPattern>();
  const cache = new LRU<string, HeadPattern>(options.cacheSize ?? 8);
  const pending = new Set<string>();
  const failed = new Map<string, string>();
  const keyOf = (layer: number, head: number, run = options.run()) => `${run}:${layer}.${head}`;

  const ask = (layer: number, head: number, key: string) => {
    pending.add(key);
    invoke<PatternAnswer>(model, "pattern", { layer, head, run: options.run() }, { signal: options.signal }).then(
      (answer) => {
        pending.delete(key);
        if (answer.run !== options.run()) return;
        const values = answer.pattern;
        const data = values.data instanceof Float32Array ? values.data : Float32Array.from(values.data);
        const n = values.shape[values.shape.length - 1] as number;
        cache.set(key, { n, values: data, levels: toLevels(data, values.scale) });
        options.onArrive(layer, head);
      },
      (error) => {
        pending.delete(key);
        if (isQuiet(error)) return;
        failed.set(key, failureText(error));
        options.onArrive(layer, head);
      },
    );
  };

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
      if (known) return known;
      if (options.canFetch() && !pending.has(key) && !failed.has(key)) ask(layer, head, key);
      return null;
    },
    error: (layer, head) => failed.get(keyOf(layer, head)) ?? "",
    reset() {
      cache.clear();
      pending.clear();
      failed.clear();
    },
  };
}
