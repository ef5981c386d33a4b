/**
 * Colour scales that map numbers to fills which read well on the current theme.
 *
 * A scale fades from the theme's background (value at the low end, or 0 for a diverging scale)
 * to an accent colour, mixed in OKLab so equal steps look equal; the text colour for each fill
 * is whichever of the theme's normal and inverse text colours contrasts more. The theme
 * colours come in as a {@link Palette} (read from CSS variables by `theme.ts`), so the same
 * scale code serves JupyterLab light and dark, VS Code and a static export.
 *
 *     const scale = sequential(readPalette(root), [0, 1]);
 *     const s = scale(0.42);           // { fill, background: "rgb(...)", color: "rgb(...)" }
 *     scale(NaN);                      // null: draw the "no value" style instead
 */
import { composite, contrast, mix, readableOn, toCss, type RGBA } from "./color";

/** The theme colours a scale needs (all opaque except possibly the text colours). */
export interface Palette {
  background: RGBA;
  text: RGBA;
  textInverse: RGBA;
  /** Sequential end colour, and the positive side of a diverging scale. */
  high: RGBA;
  /** The negative side of a diverging scale. */
  low: RGBA;
}

/** One colour of a scale: the fill, and CSS strings for a background and its text. */
export interface Swatch {
  fill: RGBA;
  background: string;
  color: string;
}

export interface ColorScale {
  (value: number): Swatch | null;
  readonly kind: "sequential" | "diverging";
  /** The values mapped to the two ends (for a diverging scale, `[-limit, limit]`). */
  readonly domain: readonly [number, number];
  /** `n` evenly spaced CSS colours from the low to the high end, for a legend gradient. */
  stops(n: number): string[];
  /** 256 RGBA entries (Uint8ClampedArray of length 1024), low to high, for canvas drawing. */
  readonly lut: Uint8ClampedArray;
}

const LEVELS = 256;
/** WCAG AA for normal text. */
const MIN_CONTRAST = 4.5;
const PURE = [{ r: 0, g: 0, b: 0, a: 1 }, { r: 255, g: 255, b: 255, a: 1 }] as const;

/** The theme's text colour that reads best on `fill`; pure black or white where neither of
 * the theme's (often translucent) text colours reaches WCAG AA contrast. */
function textOn(fill: RGBA, palette: Palette): RGBA {
  const themed = readableOn(fill, [palette.text, palette.textInverse]);
  if (contrast(composite(themed, fill), fill) >= MIN_CONTRAST) return themed;
  return readableOn(fill, PURE);
}

function build(
  kind: ColorScale["kind"],
  domain: readonly [number, number],
  fillAt: (u: number) => RGBA,
  palette: Palette,
): ColorScale {
  const [lo, hi] = domain;
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo)) {
    throw new RangeError(`a colour scale needs a finite domain with low < high, got [${lo}, ${hi}]`);
  }
  const swatches: Swatch[] = [];
  const lut = new Uint8ClampedArray(LEVELS * 4);
  for (let i = 0; i < LEVELS; i++) {
    const fill = fillAt(i / (LEVELS - 1));
    const text = textOn(fill, palette);
    swatches.push({ fill, background: toCss(fill), color: toCss(text) });
    lut.set([fill.r, fill.g, fill.b, 255], i * 4);
  }
  const level = (value: number) =>
    Math.round(Math.min(1, Math.max(0, (value - lo) / (hi - lo))) * (LEVELS - 1));
  const scale = ((value: number) =>
    Number.isFinite(value) ? (swatches[level(value)] as Swatch) : null) as ColorScale;
  return Object.assign(scale, {
    kind,
    domain: [lo, hi] as const,
    lut,
    stops(n: number) {
      if (!(Number.isInteger(n) && n >= 2)) throw new RangeError(`stops needs n >= 2, got ${n}`);
      return Array.from({ length: n }, (_, i) => toCss(fillAt(i / (n - 1))));
    },
  });
}

/** Background at `domain[0]` to `palette.high` at `domain[1]` (values outside are clamped). */
export function sequential(palette: Palette, domain: readonly [number, number] = [0, 1]): ColorScale {
  return build("sequential", domain, (u) => mix(palette.background, palette.high, u), palette);
}

/** `palette.low` at `-limit`, the background at 0, `palette.high` at `+limit`. */
export function diverging(palette: Palette, limit = 1): ColorScale {
  if (!(Number.isFinite(limit) && limit > 0)) {
    throw new RangeError(`a diverging scale needs a positive finite limit, got ${limit}`);
  }
  return build(
    "diverging",
    [-limit, limit],
    (u) => (u < 0.5 ? mix(palette.background, palette.low, 1 - 2 * u) : mix(palette.background, palette.high, 2 * u - 1)),
    palette,
  );
}

/** How far from the background towards the text colour a masked cell (a key after its query)
 * is drawn: a faint grey that reads as "not a value", never as zero. */
export const MASKED_MIX = 0.1;

/** The one masked-cell colour of every heatmap, as `[r, g, b]` (0..255) for ImageData. */
export function maskedRgb(palette: Palette): [number, number, number] {
  const text = palette.text.a < 1 ? { ...palette.text, a: 1 } : palette.text;
  const m = mix(palette.background, text, MASKED_MIX);
  return [Math.round(m.r), Math.round(m.g), Math.round(m.b)];
}
