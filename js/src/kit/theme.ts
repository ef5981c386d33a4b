/**
 * The current theme's colours, read from the `--cw-*` CSS variables of `theme.css`, and a
 * way to hear when the theme changes (JupyterLab's theme switch, VS Code's, the OS setting).
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

/** The palette in effect for `el` (an element inside a `.cw-root`). */
export function readPalette(el: Element): Palette {
  const style = getComputedStyle(el);
  const read = (name: string, fallback: RGBA) => resolveColor(style.getPropertyValue(name)) ?? fallback;
  const background = composite(read("--cw-bg", WHITE), WHITE);
  const dark = background.r + background.g + background.b < 3 * 128;
  return {
    background,
    text: read("--cw-text", dark ? WHITE : BLACK),
    textInverse: read("--cw-text-inverse", dark ? BLACK : WHITE),
    high: composite(read("--cw-scale-high", { r: 29, g: 91, b: 214, a: 1 }), background),
    low: composite(read("--cw-scale-low", { r: 217, g: 69, b: 58, a: 1 }), background),
  };
}

/**
 * Call `callback` whenever the theme may have changed, until `signal` aborts. Watches the
 * attributes JupyterLab and VS Code set on `<body>` and the OS colour-scheme preference.
 */
export function onThemeChange(callback: () => void, signal: AbortSignal): void {
  let pending = false;
  const fire = () => {
    if (pending) return;
    pending = true;
    // Let the new stylesheet apply before the colours are read again.
    requestAnimationFrame(() => {
      pending = false;
      if (!signal.aborted) callback();
    });
  };
  const observer = new MutationObserver(fire);
  observer.observe(document.body, {
    attributes: true,
    attributeFilter: ["data-jp-theme-light", "data-jp-theme-name", "data-vscode-theme-kind", "class"],
  });
  const media = window.matchMedia?.("(prefers-color-scheme: dark)");
  media?.addEventListener("change", fire);
  signal.addEventListener("abort", () => {
    observer.disconnect();
    media?.removeEventListener("change", fire);
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
