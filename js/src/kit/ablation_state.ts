/**
 * The pure half of the ablation panel (kit/ablation_panel.ts): the ablated set as pairs, toggling
 * a head, the labels, and whether an answer still matches what is on screen. Python's half:
 * circuitwidgets/widgets/_ablation.py.
 */

export type HeadPair = [number, number];
export type AblationMode = "zero" | "mean";

/** The synced `ablated` trait as clean pairs (anything else dropped). */
export function headPairs(value: unknown): HeadPair[] {
  if (!Array.isArray(value)) return [];
  return value.filter((p): p is HeadPair => Array.isArray(p) && p.length === 2 && p.every(Number.isInteger)).map(([l, h]) => [l, h]);
}

/** Whether `layer.head` is in `heads`. */
export function isAblated(heads: readonly HeadPair[], layer: number, head: number): boolean {
  return heads.some(([l, h]) => l === layer && h === head);
}

/** `heads` with `layer.head` added at the end, or removed if it was there. */
export function toggleHead(heads: readonly HeadPair[], layer: number, head: number): HeadPair[] {
  return isAblated(heads, layer, head) ? heads.filter(([l, h]) => l !== layer || h !== head) : [...heads, [layer, head]];
}

/** "L1H3", as analysis.ablate labels a head. */
export function headLabel(layer: number, head: number): string {
  return `L${layer}H${head}`;
}

/** One string naming a request: an answer whose key differs from the one on screen is dropped. */
export function ablationKey(run: number, heads: readonly HeadPair[], mode: string, position: number, target: number | null): string {
  return `${run}|${heads.map(([l, h]) => headLabel(l, h)).join(",")}|${mode}|${position}|${target ?? "-"}`;
}

/** Whether a key press toggles the selected head: A, no modifier, not typed into a field. */
export function isToggleKey(e: { key: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean }, targetTag: string): boolean {
  if (e.ctrlKey || e.metaKey || e.altKey) return false;
  if (["INPUT", "TEXTAREA", "SELECT"].includes(targetTag.toUpperCase())) return false;
  return e.key === "a" || e.key === "A";
}

/** "0.214 → 0.091 (−57%)": a probability before and after, and the relative change. */
export function probChange(before: number, after: number, format: (p: number) => string): string {
  const change = before > 0 ? Math.round(((after - before) / before) * 100) : 0;
  const sign = change > 0 ? "+" : change < 0 ? "−" : "±";
  return `${format(before)} → ${format(after)} (${sign}${Math.abs(change)}%)`;
}
