/**
 * The arithmetic of a long token strip, free of the DOM (unit-tested in
 * js/tests/token_window.test.ts): a strip of more than {@link VIRTUAL_FROM} tokens is cut into
 * chunks of {@link CHUNK} tokens stacked in a scrolling box, and only the chunks in sight (and
 * {@link OVERSCAN} more each way) hold token elements; the others are empty boxes of their
 * last measured (else estimated) height. The minimap beside the strip maps the scroll
 * position to a fraction of the text and back.
 *
 *     const layout = chunkLayout(heights);                         // heights of every chunk, px
 *     const [first, last] = chunksInView(layout, scrollTop, clientHeight);
 */

/** Strips with more tokens than this are virtualized. */
export const VIRTUAL_FROM = 1024;
/** Tokens per chunk. */
export const CHUNK = 256;
/** Chunks kept rendered beyond those in sight, on each side. */
export const OVERSCAN = 1;

/** How many chunks `n` tokens take. */
export const chunkCount = (n: number, chunk = CHUNK) => Math.ceil(n / chunk);

/** The chunk that holds token `index`. */
export const chunkOf = (index: number, chunk = CHUNK) => Math.floor(index / chunk);

/** The tokens `[start, stop)` of chunk `c` of `n` tokens. */
export function chunkTokens(c: number, n: number, chunk = CHUNK): [number, number] {
  return [c * chunk, Math.min(n, (c + 1) * chunk)];
}

/** Chunk tops: `offsets[c]` is chunk `c`'s top, `offsets[count]` the total height. */
export function chunkLayout(heights: readonly number[]): Float64Array {
  const offsets = new Float64Array(heights.length + 1);
  for (let c = 0; c < heights.length; c++) offsets[c + 1] = (offsets[c] as number) + (heights[c] as number);
  return offsets;
}

/** The chunk at height `y` (clamped to the chunks there are). */
export function chunkAt(offsets: Float64Array, y: number): number {
  const count = offsets.length - 1;
  let lo = 0, hi = count - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((offsets[mid] as number) <= y) lo = mid;
    else hi = mid - 1;
  }
  return Math.max(0, lo);
}

/** The chunks `[first, last]` to render for a box scrolled to `scrollTop`, `height` high. */
export function chunksInView(offsets: Float64Array, scrollTop: number, height: number, overscan = OVERSCAN): [number, number] {
  const count = offsets.length - 1;
  if (count <= 0) return [0, -1];
  const first = chunkAt(offsets, scrollTop);
  const last = chunkAt(offsets, scrollTop + Math.max(0, height - 1));
  return [Math.max(0, first - overscan), Math.min(count - 1, last + overscan)];
}

/** The minimap's window: the part of the text in sight as fractions `[top, height]` of the
 * whole (height at least `minHeight` so it stays grabbable). */
export function minimapWindow(scrollTop: number, clientHeight: number, scrollHeight: number, minHeight = 0.02): [number, number] {
  if (!(scrollHeight > 0)) return [0, 1];
  const height = Math.min(1, Math.max(minHeight, clientHeight / scrollHeight));
  const top = Math.min(1 - height, Math.max(0, scrollTop / scrollHeight));
  return [top, height];
}

/** The scrollTop that centres the window on fraction `f` (0: the top) of the text. */
export function scrollForFraction(f: number, clientHeight: number, scrollHeight: number): number {
  const top = Math.max(0, Math.min(1, f)) * scrollHeight - clientHeight / 2;
  return Math.max(0, Math.min(scrollHeight - clientHeight, top));
}

/** Where token `index` sits as a fraction of the text's height (its chunk's top plus its
 * share of the chunk; exact where chunks hold evenly wrapped lines). */
export function tokenFraction(offsets: Float64Array, index: number, n: number, chunk = CHUNK): number {
  const total = offsets[offsets.length - 1] as number;
  if (!(total > 0) || n <= 0) return 0;
  const at = Math.min(Math.max(0, index), n - 1);
  const c = chunkOf(at, chunk);
  const [start, stop] = chunkTokens(c, n, chunk);
  const within = (at - start) / Math.max(1, stop - start);
  const top = offsets[c] as number;
  return (top + within * ((offsets[c + 1] as number) - top)) / total;
}
