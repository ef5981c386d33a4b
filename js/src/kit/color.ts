/**
 * Colour arithmetic, free of the DOM: parse CSS colours, mix two colours perceptually
 * (in OKLab, so a ramp looks even), composite a translucent colour over a background, and
 * measure WCAG contrast to pick a readable text colour.
 *
 * Colours are `{ r, g, b, a }` with r, g, b in 0..255 (sRGB) and a in 0..1.
 */

export interface RGBA {
  r: number;
  g: number;
  b: number;
  a: number;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/**
 * Parse `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`, `rgb(...)` and `rgba(...)` (comma or space
 * separated, optional `/ alpha`). Returns `null` for anything else (e.g. named colours, which
 * `theme.ts` resolves through the browser).
 */
export function parseColor(text: string): RGBA | null {
  const s = text.trim().toLowerCase();
  const hex = /^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/.exec(s);
  if (hex) {
    let h = hex[1] as string;
    if (h.length <= 4) h = [...h].map((c) => c + c).join("");
    const n = (i: number) => parseInt(h.slice(i, i + 2), 16);
    return { r: n(0), g: n(2), b: n(4), a: h.length === 8 ? n(6) / 255 : 1 };
  }
  const fn = /^rgba?\(([^)]*)\)$/.exec(s);
  if (!fn) return null;
  const parts = (fn[1] as string).split(/[\s,/]+/).filter(Boolean);
  if (parts.length < 3 || parts.length > 4) return null;
  const channel = (p: string) => (p.endsWith("%") ? (parseFloat(p) / 100) * 255 : parseFloat(p));
  const alpha = (p: string | undefined) =>
    p === undefined ? 1 : p.endsWith("%") ? parseFloat(p) / 100 : parseFloat(p);
  const [r, g, b] = parts.slice(0, 3).map(channel) as [number, number, number];
  const a = alpha(parts[3]);
  if (![r, g, b, a].every(Number.isFinite)) return null;
  return { r: clamp(r, 0, 255), g: clamp(g, 0, 255), b: clamp(b, 0, 255), a: clamp(a, 0, 1) };
}

/** `rgb(r g b)` or `rgb(r g b / a)` with rounded channels. */
export function toCss(c: RGBA): string {
  const rgb = `${Math.round(c.r)} ${Math.round(c.g)} ${Math.round(c.b)}`;
  return c.a >= 1 ? `rgb(${rgb})` : `rgb(${rgb} / ${+c.a.toFixed(3)})`;
}

/** A translucent colour painted over an opaque background (the colour the eye sees). */
export function composite(top: RGBA, under: RGBA): RGBA {
  const a = top.a;
  return {
    r: top.r * a + under.r * (1 - a),
    g: top.g * a + under.g * (1 - a),
    b: top.b * a + under.b * (1 - a),
    a: 1,
  };
}

const toLinear = (c: number) => {
  const x = c / 255;
  return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
};
const fromLinear = (x: number) => {
  const c = x <= 0.0031308 ? 12.92 * x : 1.055 * Math.max(x, 0) ** (1 / 2.4) - 0.055;
  return clamp(c * 255, 0, 255);
};

/** sRGB -> OKLab (Björn Ottosson's matrices). */
export function toOklab(c: RGBA): [number, number, number] {
  const r = toLinear(c.r), g = toLinear(c.g), b = toLinear(c.b);
  const l = Math.cbrt(0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b);
  const m = Math.cbrt(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b);
  const s = Math.cbrt(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b);
  return [
    0.2104542553 * l + 0.793617785 * m - 0.0040720468 * s,
    1.9779984951 * l - 2.428592205 * m + 0.4505937099 * s,
    0.0259040371 * l + 0.7827717662 * m - 0.808675766 * s,
  ];
}

/** OKLab -> sRGB (opaque). */
export function fromOklab([L, A, B]: readonly [number, number, number]): RGBA {
  const l = (L + 0.3963377774 * A + 0.2158037573 * B) ** 3;
  const m = (L - 0.1055613458 * A - 0.0638541728 * B) ** 3;
  const s = (L - 0.0894841775 * A - 1.291485548 * B) ** 3;
  return {
    r: fromLinear(4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s),
    g: fromLinear(-1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s),
    b: fromLinear(-0.0041960863 * l - 0.7034186147 * m + 1.707614701 * s),
    a: 1,
  };
}

/** The colour `t` of the way from `from` (t = 0) to `to` (t = 1), mixed in OKLab. */
export function mix(from: RGBA, to: RGBA, t: number): RGBA {
  const u = clamp(t, 0, 1);
  const a = toOklab(from), b = toOklab(to);
  return fromOklab([a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u, a[2] + (b[2] - a[2]) * u]);
}

/** WCAG relative luminance of an opaque colour, 0 (black) .. 1 (white). */
export function luminance(c: RGBA): number {
  return 0.2126 * toLinear(c.r) + 0.7152 * toLinear(c.g) + 0.0722 * toLinear(c.b);
}

/** WCAG contrast ratio of two opaque colours, 1 .. 21. */
export function contrast(x: RGBA, y: RGBA): number {
  const a = luminance(x), b = luminance(y);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}

/** Of the candidate text colours, the one that reads best on `background` (each candidate
 * is first composited over the background, as translucent theme text colours are). */
export function readableOn(background: RGBA, candidates: readonly RGBA[]): RGBA {
  let best = candidates[0];
  let bestRatio = -1;
  for (const c of candidates) {
    const ratio = contrast(composite(c, background), background);
    if (ratio > bestRatio) {
      best = c;
      bestRatio = ratio;
    }
  }
  if (best === undefined) throw new RangeError("readableOn needs at least one candidate colour");
  return best;
}
