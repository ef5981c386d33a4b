/**
 * Number formatting shared by hover cards and legends, so the same value reads the same way
 * in every view.
 */

/**
 * A probability (or attention weight) in [0, 1]: four decimals from 0.001 up, scientific
 * notation below (`3.18e-5`), `"0"` for exactly zero, `"—"` when there is no value.
 */
export function formatProbability(p: number): string {
  if (!Number.isFinite(p)) return "—";
  if (p === 0) return "0";
  if (Math.abs(p) >= 1e-3) return p.toFixed(4);
  return p.toExponential(2);
}

/** A legend tick: as few decimals as the value needs (0, 0.25, 0.5, 1). */
export function formatTick(value: number): string {
  return String(+value.toFixed(3));
}

/** A head score as every head grid shows it: two decimals and a real minus sign ("−0.44",
 * "0.97"), `"—"` when there is no value. */
export function formatScore(v: number): string {
  if (!Number.isFinite(v)) return "—";
  const text = Math.abs(v).toFixed(2);
  return v < 0 && text !== "0.00" ? `−${text}` : text;
}

/** A signed number with `digits` decimals, the sign always shown: "+1.50", "-0.25" (the bars'
 * values and their hover cards). */
export const formatSigned = (v: number, digits = 2) => (v >= 0 ? "+" : "") + v.toFixed(digits);
