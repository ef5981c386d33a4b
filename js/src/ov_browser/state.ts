/**
 * OVBrowser's pure logic: the selected head's eigenvalues out of every head's, and the
 * numbers shown under its spectrum (unit-tested in js/tests/ov_browser.test.ts).
 */
import { headValue, type NDArray } from "../kit/decode";
import { formatScore } from "../kit/format";
import { formatMagnitude } from "./spectrum_geometry";

/** Head `(layer, head)`'s eigenvalues as (re, im) pairs `[2 * d_head]`, out of every head's
 * `[L, H, d_head, 2]`; null while they are not computed. */
export function headPairs(eigen: NDArray | null, layer: number, head: number): Float32Array | null {
  if (!eigen) return null;
  const [, nHeads, dHead] = eigen.shape as [number, number, number, number];
  const n = dHead * 2;
  const start = (layer * nHeads + head) * n;
  return (eigen.data as Float32Array).subarray(start, start + n);
}

/** The largest |λ| of (re, im) pairs (0 for none). */
export function largestMagnitude(pairs: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i + 1 < pairs.length; i += 2) largest = Math.max(largest, Math.hypot(pairs[i] as number, pairs[i + 1] as number));
  return largest;
}

export interface HeadNumber {
  label: string;
  value: string;
  help: string;
}

/** What the numbers under the spectrum say for one head ("…" while the spectra are computed). */
export function headNumbers(
  copying: NDArray | null,
  positive: NDArray | null,
  pairs: Float32Array | null,
  layer: number,
  head: number,
): HeadNumber[] {
  const ready = pairs !== null;
  return [
    { label: "copying score", value: ready ? formatScore(headValue(copying, layer, head)) : "…", help: "Re(Σλ) / Σ|λ|: 1 = copies, −1 = suppresses" },
    { label: "positive-real mass", value: ready ? percent(headValue(positive, layer, head)) : "…", help: "Σ|λ| over eigenvalues with Re λ > 0, as a share of Σ|λ|" },
    { label: "largest |λ|", value: ready ? formatMagnitude(largestMagnitude(pairs)) : "…", help: "the biggest eigenvalue's magnitude" },
  ];
}

/** A share as a whole percentage ("42%"). */
export const percent = (share: number) => `${(share * 100).toFixed(0)}%`;

