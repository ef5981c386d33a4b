/**
 * TokenView's pure logic (unit-tested in vitest, no browser): the colour scale and hover text
 * of the values a model-free view (cw.colored_tokens) shows.
 */
import { diverging, sequential, type ColorScale, type Palette } from "../kit/color_scale";

/** The scale of values over `[lo, hi]`: diverging around 0 when the domain spans it. */
export function valueScale(lo: number, hi: number): (palette: Palette) => ColorScale {
  return lo < 0 && hi > 0 ? (p) => diverging(p, Math.max(-lo, hi)) : (p) => sequential(p, [lo, hi]);
}

/** A value in a hover card: four significant digits ("—" when there is none). */
export const formatValue = (v: number) => (Number.isFinite(v) ? String(+v.toPrecision(4)) : "—");
