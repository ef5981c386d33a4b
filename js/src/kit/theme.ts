/**
 * The current theme's colours, read from the `--cw-*` CSS variables of `theme.css`, and a
 * way to hear when they change (JupyterLab's theme switch, VS Code's, the OS setting).
 *
 * Views draw token backgrounds and canvas pixels from numbers, so they need the theme as RGB
 * values, not CSS: {@link readPalette} resolves whatever the variables hold (hex, rgba, named
 * colours) through the browser.
 */
import "./theme.css";
import { composite, parseColor, type RGBA } from "./color";
import type { Palette } from "./color_scale";

const WHITE: RGBA = { r: 255, g: 255, b: 255, a: 1 };
const BLACK: RGBA = { r: 0, g: 0, b: 0, a: 1 };

let probe: CanvasRenderingContext2D | null = null;

/** Any CSS colour string as RGBA (via a 1x1 canvas when it is not hex/rgb), or `null`. */
export function resolveColor(value: string): RGBA | null {
  const parsed = parseColor(value);
  if (parsed || value.trim() === "") return parsed;
  probe ??= document.createElement("canvas").getContext("2d", { willReadFrequently: true });
  if (!probe) return null;
  // An invalid colour leaves fillStyle unchanged: try it after two different sentinels.
  probe.fillStyle = "#010203";
  probe.fillStyle = value;
  const first = probe.fillStyle;
  probe.fillStyle = "#040506";
  probe.fillStyle = value;
  if (probe.fillStyle !== first) return null;
  probe.clearRect(0, 0, 1, 1);
  probe.fillRect(0, 0, 1, 1);
  const [r, g, b, a] = probe.getImageData(0, 0, 1, 1).data as unknown as [number, number, number, number];
  return { r, g, b, a: a / 255 };
}

/** Where each palette colour comes from: the variables theme.css defines. */
const VARIABLES: Record<keyof Palette, string> = {
  background: "--cw-bg",
  text: "--cw-text",
  textInverse: "--cw-text-inverse",
  high: "--cw-scale-high",
  low: "--cw-scale-low",
};

/**
 * The palette in effect for `el` (an element inside a `.cw-root` that is in the document).
 * A colour the browser cannot read falls back to something neutral and readable: white or
 * black for the background and text, the text colour for the accents (a grey ramp).
 */
export function readPalette(el: Element): Palette {
  const style = getComputedStyle(el);
  const read = (key: keyof Palette) => resolveColor(style.getPropertyValue(VARIABLES[key]));
  const background = composite(read("background") ?? WHITE, WHITE);
  const dark = background.r + background.g + background.b < 3 * 128;
  const text = read("text") ?? (dark ? WHITE : BLACK);
  return {
    background,
    text,
    textInverse: read("textInverse") ?? (dark ? BLACK : WHITE),
    high: composite(read("high") ?? text, background),
    low: composite(read("low") ?? text, background),
  };
}

function fingerprint(el: Element): string {
  const style = getComputedStyle(el);
  return Object.values(VARIABLES).map((name) => style.getPropertyValue(name)).join("|");
}

/**
 * Call `callback` whenever the palette of `root` changes, until `signal` aborts.
 *
 * Theme switches reach the page in different ways (JupyterLab swaps a stylesheet and sets
 * attributes on `<body>` at moments of its choosing, VS Code rewrites variables, the OS flips
 * a media query), so instead of guessing the event we watch the result:
 *
 * - while the view is on screen, a hidden probe inside `root` paints its colours from the
 *   palette variables with a 1 ms transition, so any palette change fires transition events
 *   on it;
 * - a view scrolled out of sight is not styled meanwhile (notebooks skip off-screen cells
 *   with `content-visibility`); Chromium starts the transitions when it styles the view
 *   again, and in case a browser does not, the palette is also checked whenever the view
 *   comes back into sight.
 *
 * The callback runs only when the variables really differ from the last time it ran.
 */
export function onThemeChange(root: HTMLElement, callback: () => void, signal: AbortSignal): void {
  const probe = document.createElement("span");
  probe.className = "cw-theme-probe";
  probe.setAttribute("aria-hidden", "true");
  root.append(probe);
  let last = fingerprint(root);
  let frame = 0;
  const check = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      const now = fingerprint(root);
      if (signal.aborted || now === last) return;
      last = now;
      callback();
    });
  };
  // A change starts transitions ("transitionrun"); another change while they run cancels
  // them ("transitioncancel") rather than ending them. Any of the three will do.
  for (const type of ["transitionrun", "transitioncancel", "transitionend"]) {
    probe.addEventListener(type, check);
  }
  const visibility = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) check();
  });
  visibility.observe(root);
  signal.addEventListener("abort", () => {
    cancelAnimationFrame(frame);
    visibility.disconnect();
    probe.remove();
  });
}

/**
 * Call `callback` once `el` is in the document and styled (the CSS variables a palette is read
 * from resolve only then): views render into a detached element that the front end attaches
 * a little later.
 */
export function whenInDocument(el: Element, callback: () => void, signal: AbortSignal): void {
  const check = () => {
    if (signal.aborted) return;
    if (el.isConnected) callback();
    else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}
