/**
 * Where an eigenvalue goes on the spectrum plot, free of the DOM.
 *
 * The plot is the complex plane centred on 0. Every eigenvalue keeps its angle (so "positive
 * real" is always to the right); only its distance from the centre is scaled:
 *
 * - **linear**: radius ∝ |λ|, out to a round number ≥ the largest |λ| ({@link niceCeil});
 *   reference rings at that number and half of it, plus the unit circle where it fits;
 * - **log**: radius ∝ log10(|λ| / floor) over {@link LOG_DECADES} decades below the power of
 *   ten above the largest |λ|; a ring per decade. Eigenvalues below the floor sit at the
 *   centre (the hover card says so).
 *
 * Radii are fractions of the plot radius (0 = centre, 1 = edge).
 */

export type RadialKind = "linear" | "log";

/** How many powers of ten the log scale shows. */
export const LOG_DECADES = 4;

export interface Ring {
  /** The |λ| the ring stands for. */
  value: number;
  /** Its radius, as a fraction of the plot radius. */
  r: number;
  label: string;
}

export interface RadialScale {
  kind: RadialKind;
  /** |λ| at the edge of the plot. */
  outer: number;
  /** |λ| at the centre (0 for linear). */
  floor: number;
  radius(magnitude: number): number;
  rings: Ring[];
}

/** Round numbers for the plot's edge: the edge wastes at most a fifth of the radius. */
const NICE_STEPS = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10];

/** The smallest of {@link NICE_STEPS} × 10^k that is ≥ x (x > 0). */
export function niceCeil(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return 1;
  const power = 10 ** Math.floor(Math.log10(x));
  for (const step of NICE_STEPS) {
    const candidate = step * power;
    if (candidate >= x * (1 - 1e-9)) return candidate;
  }
  return 10 * power; // not reached
}

/** A magnitude for a ring label: plain for 0.001 .. 99999, else 1e-5 / 2e6. */
export function formatMagnitude(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e5) return String(+v.toPrecision(3));
  const [mantissa, exponent] = v.toExponential(1).split("e") as [string, string];
  return `${mantissa.replace(/\.0$/, "")}e${Number(exponent)}`;
}

/** The radial scale for eigenvalues whose largest magnitude is `largest`. */
export function radialScale(kind: RadialKind, largest: number): RadialScale {
  if (kind === "linear") {
    const outer = niceCeil(largest);
    const values = [outer / 2, outer];
    if (outer > 1 && 1 > outer / 20 && !values.includes(1)) values.unshift(1);
    return {
      kind,
      outer,
      floor: 0,
      radius: (m) => Math.min(1, Math.max(0, m / outer)),
      rings: values.map((value) => ({ value, r: value / outer, label: `|λ| = ${formatMagnitude(value)}` })),
    };
  }
  const top = largest > 0 && Number.isFinite(largest) ? Math.ceil(Math.log10(largest) - 1e-9) : 0;
  const outer = 10 ** top;
  const floor = 10 ** (top - LOG_DECADES);
  const rings: Ring[] = [];
  for (let i = 1; i <= LOG_DECADES; i++) {
    const value = 10 ** (top - LOG_DECADES + i);
    rings.push({ value, r: i / LOG_DECADES, label: `|λ| = ${formatMagnitude(value)}` });
  }
  return {
    kind,
    outer,
    floor,
    radius: (m) => (m > floor ? Math.min(1, Math.log10(m / floor) / LOG_DECADES) : 0),
    rings,
  };
}

/** Plot coordinates of eigenvalue `re + i·im`: x to the right, y *up* (flip for SVG). */
export function project(re: number, im: number, scale: RadialScale): [number, number] {
  const m = Math.hypot(re, im);
  if (m === 0) return [0, 0];
  const r = scale.radius(m);
  return [(re / m) * r, (im / m) * r];
}

/** The largest magnitude among `n` eigenvalues stored as (re, im) pairs. */
export function largestMagnitude(pairs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 0; i + 1 < pairs.length; i += 2) best = Math.max(best, Math.hypot(pairs[i] as number, pairs[i + 1] as number));
  return best;
}

/** Index of the point nearest (x, y) within `maxDistance`, else -1. `xy` holds (x, y) pairs. */
export function nearest(xy: ArrayLike<number>, x: number, y: number, maxDistance: number): number {
  let best = -1;
  let bestD = maxDistance;
  for (let i = 0; i + 1 < xy.length; i += 2) {
    const d = Math.hypot((xy[i] as number) - x, (xy[i + 1] as number) - y);
    if (d <= bestD) {
      best = i / 2;
      bestD = d;
    }
  }
  return best;
}

/** `a + bi` with 3 significant digits, a real minus sign, and no `+ 0i` noise. */
export function formatComplex(re: number, im: number): string {
  const f = (v: number) => formatMagnitude(Math.abs(v) < 1e-12 ? 0 : v).replace(/^-/, "−");
  if (im === 0) return f(re);
  const sign = im < 0 ? "−" : "+";
  return `${f(re)} ${sign} ${f(Math.abs(im))}i`;
}

/** The hover card of eigenvalue `i` (of `n`, largest |λ| first): |λ|, angle, rank, and what its
 * real part means (or that the log plot draws it at the centre, below its floor). */
export function eigenCard(re: number, im: number, i: number, n: number, kind: RadialKind, floor: number) {
  const m = Math.hypot(re, im);
  const angle = (Math.atan2(im, re) * 180) / Math.PI;
  return {
    title: `λ = ${formatComplex(re, im)}`,
    rows: [
      ["|λ|", formatMagnitude(m)],
      ["angle", `${angle.toFixed(1).replace("-", "−")}°`],
      ["rank by |λ|", `${i + 1} of ${n}`],
    ] as [string, string][],
    note:
      kind === "log" && m <= floor
        ? `below the plot's floor (${formatMagnitude(floor)}): drawn at the centre`
        : re > 0
          ? "positive real part: copies what the head attends to"
          : "negative real part: suppresses what the head attends to",
  };
}

/** Where the keys step through `n` eigenvalues from `active` (arrows by one, Home/End). */
export function eigenKeys(active: number, n: number): Record<string, number> {
  return {
    ArrowRight: Math.min(n - 1, active + 1),
    ArrowDown: Math.min(n - 1, active + 1),
    ArrowLeft: Math.max(0, active - 1),
    ArrowUp: Math.max(0, active - 1),
    Home: 0,
    End: n - 1,
  };
}
