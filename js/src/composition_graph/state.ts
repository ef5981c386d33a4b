/**
 * CompositionGraph's pure logic (unit-tested in js/tests/composition_graph.test.ts): which
 * edges the threshold keeps (the same rule and order as Python's `HeadComposition.edges`),
 * the matrix's colour levels, the slider's steps, the node keys and the graph's geometry.
 *
 * `excess` is the float32 `[3, L, H, L, H]` array of score minus baseline (Q, K, V), flat:
 * index `(((k * L + l1) * H + h1) * L + l2) * H + h2`.
 */

export const KINDS = ["Q", "K", "V"] as const;
export type Kind = (typeof KINDS)[number];
export type Choice = Kind | "all";
export const CHOICES: readonly Choice[] = ["Q", "K", "V", "all"];

export interface Head {
  layer: number;
  head: number;
}

export interface Edge {
  writer: Head;
  reader: Head;
  kind: Kind;
  excess: number;
}

/** What each kind reads, for the switch's help and the edge cards. */
export const KIND_TEXT: Record<Choice, string> = {
  Q: "Q-composition: the later head's queries read the earlier head's output",
  K: "K-composition: the later head's keys read the earlier head's output (induction heads)",
  V: "V-composition: the later head's values read (and pass on) the earlier head's output",
  all: "every kind: an edge per kind and pair",
};

function at(L: number, H: number, k: number, l1: number, h1: number, l2: number, h2: number): number {
  return (((k * L + l1) * H + h1) * L + l2) * H + h2;
}

/**
 * The edges above `threshold` (score − baseline > threshold, writer in an earlier layer),
 * strongest first; ties keep the index order (kind, writer, reader), as in Python. `total`
 * counts them all, `edges` holds at most `cap`.
 */
export function pruneEdges(
  excess: ArrayLike<number>, L: number, H: number, choice: Choice, threshold: number, cap: number,
): { edges: Edge[]; total: number } {
  const kinds = choice === "all" ? [0, 1, 2] : [KINDS.indexOf(choice)];
  const found: Edge[] = [];
  for (const k of kinds) {
    for (let l1 = 0; l1 < L; l1++) {
      for (let h1 = 0; h1 < H; h1++) {
        for (let l2 = l1 + 1; l2 < L; l2++) {
          for (let h2 = 0; h2 < H; h2++) {
            const v = excess[at(L, H, k, l1, h1, l2, h2)] ?? NaN;
            if (v > threshold) found.push({ writer: { layer: l1, head: h1 }, reader: { layer: l2, head: h2 }, kind: KINDS[k] as Kind, excess: v });
          }
        }
      }
    }
  }
  found.sort((a, b) => b.excess - a.excess); // stable: ties stay in index order
  return { edges: found.slice(0, Math.max(0, cap)), total: found.length };
}

/** The excess of one pair (for `"all"`, the largest of the three kinds). */
export function pairValue(excess: ArrayLike<number>, L: number, H: number, choice: Choice, w: Head, r: Head): number {
  const kinds = choice === "all" ? [0, 1, 2] : [KINDS.indexOf(choice)];
  return Math.max(...kinds.map((k) => excess[at(L, H, k, w.layer, w.head, r.layer, r.head)] ?? NaN));
}

/** The largest |excess| of any pair and kind: the colour scale's limit (never 0). */
export function excessLimit(excess: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < excess.length; i++) m = Math.max(m, Math.abs(excess[i] ?? 0));
  return m > 0 ? m : 1e-6;
}

/**
 * The matrix's levels (0..255 on a diverging scale of ±`limit`, 127.5 = 0): row = the reading
 * head, column = the writing head, both in layer order (`layer * H + head`).
 */
export function matrixLevels(excess: ArrayLike<number>, L: number, H: number, choice: Choice, limit: number): Uint8Array {
  const n = L * H;
  const levels = new Uint8Array(n * n);
  for (let r = 0; r < n; r++) {
    const reader = { layer: Math.floor(r / H), head: r % H };
    for (let c = 0; c < n; c++) {
      const writer = { layer: Math.floor(c / H), head: c % H };
      const v = writer.layer < reader.layer ? pairValue(excess, L, H, choice, writer, reader) : 0;
      levels[r * n + c] = Math.round(Math.min(1, Math.max(0, (v / limit + 1) / 2)) * 255);
    }
  }
  return levels;
}

/** The slider's thresholds: 0 up to past the largest excess, in steps of 0.005 (coarser when
 * that would make more than 100 steps). */
export function thresholdSteps(maxExcess: number): number[] {
  let step = 0.005;
  while (maxExcess / step > 100) step *= 2;
  const count = Math.max(1, Math.ceil(maxExcess / step)) + 1;
  return Array.from({ length: count }, (_, i) => Math.round(i * step * 1e6) / 1e6);
}

/** The step nearest to `value`. */
export function nearestStep(steps: readonly number[], value: number): number {
  let best = 0;
  for (let i = 1; i < steps.length; i++) if (Math.abs((steps[i] ?? 0) - value) < Math.abs((steps[best] ?? 0) - value)) best = i;
  return best;
}

/** The node a key moves to in the graph (layers are columns): ← → the neighbouring layer, ↑ ↓
 * the neighbouring head, Home / End the layer's first / last head, with Ctrl (⌘) the first /
 * last node; `null` for other keys. Stops at the edges. */
export function nodeMove(key: string, at: Head, L: number, H: number, ctrl = false): Head | null {
  const l = (v: number) => Math.max(0, Math.min(L - 1, v));
  const h = (v: number) => Math.max(0, Math.min(H - 1, v));
  switch (key) {
    case "ArrowRight": return { layer: l(at.layer + 1), head: at.head };
    case "ArrowLeft": return { layer: l(at.layer - 1), head: at.head };
    case "ArrowDown": return { layer: at.layer, head: h(at.head + 1) };
    case "ArrowUp": return { layer: at.layer, head: h(at.head - 1) };
    case "Home": return ctrl ? { layer: 0, head: 0 } : { layer: at.layer, head: 0 };
    case "End": return ctrl ? { layer: L - 1, head: H - 1 } : { layer: at.layer, head: H - 1 };
    default: return null;
  }
}

/** The graph's geometry: node centres in a `width` x `height` box, layers as columns. */
export function nodePosition(node: Head, L: number, H: number, width: number, height: number): { x: number; y: number } {
  const padX = 40, padY = 18;
  const x = L > 1 ? padX + (node.layer * (width - 2 * padX)) / (L - 1) : width / 2;
  const y = H > 1 ? padY + (node.head * (height - 2 * padY)) / (H - 1) : height / 2;
  return { x, y };
}

/** An edge's path: a cubic curve leaving the writer rightwards and entering the reader. */
export function edgePath(a: { x: number; y: number }, b: { x: number; y: number }): string {
  const dx = (b.x - a.x) / 2;
  const f = (v: number) => v.toFixed(1);
  return `M${f(a.x)},${f(a.y)} C${f(a.x + dx)},${f(a.y)} ${f(b.x - dx)},${f(b.y)} ${f(b.x)},${f(b.y)}`;
}

/** `"L0H1"` */
export const headName = (h: Head) => `L${h.layer}H${h.head}`;

/** The pair as the `pair` trait holds it, and back (`null` for `[]` or a bad shape). */
export const pairOf = (e: Edge): number[] => [e.writer.layer, e.writer.head, e.reader.layer, e.reader.head];
/** The line under the controls: what the baseline is and how many edges are drawn. */
export function summary(baseline: number, std: number, draws: number, shown: number, total: number, threshold: number): string {
  const drawn = shown === total ? `${total} edge${total === 1 ? "" : "s"}` : `the strongest ${shown} of ${total} edges`;
  return `Random heads of these shapes score ${baseline.toFixed(3)} ± ${std.toFixed(3)} (${draws} pairs drawn); ` +
    `edges show score − that baseline above ${threshold.toFixed(3)}: ${drawn}.`;
}
