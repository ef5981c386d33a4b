/**
 * The camera: save what a view shows as a PNG, and its heatmaps and grids as SVG.
 *
 * PNG — {@link snapshotPng}: the view's root is cloned with every element's computed style
 * written inline (so the copy needs no style sheet), each canvas replaced by an image of its
 * pixels, `::before`/`::after` content made real, form fields given their current values;
 * the copy goes into an SVG `<foreignObject>`, which is drawn into a canvas of the root's
 * CSS size x `scale`. The picture is the view as drawn (theme included); scrolled panes are
 * shown from their scroll position 0, and hover cards (which float outside the view) are not
 * in it. Canvases carry their own pixels: at a `scale` above the page's devicePixelRatio they
 * are scaled up (Python's `to_png` draws the page at `scale` so that they are not).
 *
 * SVG — a view registers each heatmap or grid with {@link Camera.addSvg}, giving a function
 * that builds the file (see svg_grid.ts); a "Save SVG" button goes into that panel's header.
 *
 * The frame's toolbar holds the "Save PNG" button. Python (widgets/_pictures.py) reaches the
 * same code in a headless Chromium through the root element's `cwCamera` property:
 *
 *     await root.cwCamera.png(2)      // data: URL of the PNG
 *     root.cwCamera.svgNames()        // ["head", "heads"] (and those of views inside this one)
 *     root.cwCamera.svg("head")       // the SVG text
 */
import { createButton } from "./button";
import "./camera.css";
import { xmlSafe } from "./svg_grid";

/** Elements with this attribute are left out of a PNG (kept as empty space): the toolbar. */
export const SKIP_ATTRIBUTE = "data-cw-camera-skip";
const XHTML = "http://www.w3.org/1999/xhtml";

export interface CameraHook {
  png(scale?: number): Promise<string>;
  svgNames(): string[];
  svg(name: string): string;
}

export interface Camera {
  /** The toolbar in the view's header. */
  readonly toolbar: HTMLElement;
  /**
   * Offer `build()` as "Save SVG" in `parent` (a panel header): `name` is what Python's
   * `to_svg(panel=...)` calls it, `label` what the button says it saves.
   */
  addSvg(parent: HTMLElement, name: string, label: string, build: () => string): HTMLButtonElement;
}

/** The default PNG density: at least 2 device pixels per CSS pixel (print), more on HiDPI screens. */
export function defaultScale(): number {
  return Math.max(2, window.devicePixelRatio || 1);
}

/** A file name from a title: "Logit lens" -> "logit-lens". */
export function fileStem(title: string): string {
  const stem = title.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return stem || "circuitwidgets";
}

export function createCamera(root: HTMLElement, header: HTMLElement, title: () => string): Camera {
  const toolbar = document.createElement("div");
  toolbar.className = "cw-toolbar";
  toolbar.setAttribute("role", "toolbar");
  toolbar.setAttribute("aria-label", "Save the view");
  toolbar.setAttribute(SKIP_ATTRIBUTE, "");
  const pngButton = createButton("Save PNG", "Save what this view shows as a PNG image");
  pngButton.classList.add("cw-camera-png");
  toolbar.append(pngButton);
  header.append(toolbar);

  const svgs = new Map<string, () => string>();
  pngButton.addEventListener("click", async () => {
    pngButton.disabled = true;
    try {
      const blob = await snapshotPng(root, defaultScale());
      download(blob, `${fileStem(title())}.png`);
    } finally {
      pngButton.disabled = false;
    }
  });

  const hook: CameraHook = {
    async png(scale = defaultScale()) {
      const blob = await snapshotPng(root, scale);
      return await blobToDataUrl(blob);
    },
    // A view that holds other views (CircuitExplorer) offers their panels too.
    svgNames: () => [...new Set([...svgs.keys(), ...nested().flatMap((h) => h.svgNames())])],
    svg(name) {
      const build = svgs.get(name);
      if (build) return build();
      const owner = nested().find((h) => h.svgNames().includes(name));
      if (!owner) throw new Error(`no SVG panel ${JSON.stringify(name)}; this view has ${JSON.stringify(hook.svgNames())}`);
      return owner.svg(name);
    },
  };
  const nested = (): CameraHook[] =>
    [...root.querySelectorAll<HTMLElement & { cwCamera?: CameraHook }>(".cw-root")]
      .map((e) => e.cwCamera)
      .filter((h): h is CameraHook => h !== undefined);
  (root as HTMLElement & { cwCamera?: CameraHook }).cwCamera = hook;

  return {
    toolbar,
    addSvg(parent, name, label, build) {
      svgs.set(name, build);
      const b = createButton("Save SVG", `Save ${label} as an SVG vector image`);
      b.classList.add("cw-camera-svg");
      b.setAttribute(SKIP_ATTRIBUTE, "");
      b.setAttribute("aria-label", `Save ${label} as SVG`);
      b.dataset.panel = name;
      b.addEventListener("click", () => {
        const text = build();
        download(new Blob([text], { type: "image/svg+xml" }), `${fileStem(title())}-${name}.svg`);
      });
      parent.append(b);
      return b;
    },
  };
}

/** Start a download of `blob` as `name` (works offline: an object URL, no server). */
export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function blobToDataUrl(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** The view under `root` as a PNG of its CSS box x `scale` pixels. */
export async function snapshotPng(root: HTMLElement, scale: number): Promise<Blob> {
  if (!(scale > 0 && scale <= 8)) throw new Error(`scale ${scale} is out of range; it must be in (0, 8]`);
  // Let pending redraws (a theme change, a resize) land first.
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const box = root.getBoundingClientRect();
  const width = Math.ceil(box.width);
  const height = Math.ceil(box.height);
  const copy = copyStyled(root) as HTMLElement;
  copy.style.setProperty("margin", "0");
  const holder = document.createElementNS(XHTML, "div") as HTMLElement;
  holder.setAttribute("style", `width:${width}px;height:${height}px;overflow:hidden`);
  holder.append(copy);
  // Token text can hold characters XML forbids; one would make the image undecodable.
  const body = xmlSafe(new XMLSerializer().serializeToString(holder));
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<foreignObject x="0" y="0" width="${width}" height="${height}">${body}</foreignObject></svg>`;
  const image = new Image();
  image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
  ctx.scale(canvas.width / width, canvas.height / height);
  ctx.drawImage(image, 0, 0, width, height);
  return await new Promise<Blob>((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("the browser could not encode the PNG"))), "image/png"),
  );
}

/** Computed style as an inline `style` value. */
function inlineStyle(style: CSSStyleDeclaration): string {
  let text = "";
  for (let i = 0; i < style.length; i++) {
    const name = style[i] as string;
    text += `${name}:${style.getPropertyValue(name)};`;
  }
  return text;
}

/** The text a `content` value shows ("\"·\"" -> "·"), or null when it shows none. */
function pseudoText(content: string): string | null {
  if (!content || content === "none" || content === "normal") return null;
  const m = /^"(.*)"$/s.exec(content);
  return m ? (m[1] as string).replace(/\\(.)/g, "$1") : "";
}

function pseudo(el: Element, which: "::before" | "::after"): HTMLElement | null {
  const style = getComputedStyle(el, which);
  const text = pseudoText(style.content);
  if (text === null) return null;
  const span = document.createElementNS(XHTML, "span") as HTMLElement;
  span.setAttribute("style", inlineStyle(style));
  span.textContent = text;
  return span;
}

/** Whether `el` holds text of its own (not only child elements) drawn on one line. */
function oneLineOfText(el: Element, style: CSSStyleDeclaration): boolean {
  if (!/^(normal|nowrap|pre-line|pre-wrap|break-spaces)$/.test(style.whiteSpace)) return false;
  const hasText = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && (n.textContent ?? "").trim() !== "");
  if (!hasText) return false;
  const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.4;
  return el.getBoundingClientRect().height < 1.6 * line + parseFloat(style.paddingTop) + parseFloat(style.paddingBottom) + 2;
}

/** Whether the children of a wrapping flex box sit on one row (they must stay there). */
function oneRow(el: Element): boolean {
  const tops = [...el.children].filter((c) => !(c instanceof HTMLElement && c.hidden)).map((c) => c.getBoundingClientRect().top);
  return tops.length > 1 && Math.max(...tops) - Math.min(...tops) < 2;
}

/** A copy of `el` and its subtree that carries its looks without style sheets. */
function copyStyled(el: Element): Node {
  const style = getComputedStyle(el);
  if (el instanceof HTMLCanvasElement) {
    const img = document.createElementNS(XHTML, "img") as HTMLImageElement;
    img.setAttribute("style", inlineStyle(style));
    try {
      img.setAttribute("src", el.toDataURL("image/png"));
    } catch {
      // a canvas the page may not read: leave its box empty
    }
    return img;
  }
  const copy = el.cloneNode(false) as Element;
  copy.removeAttribute("id");
  let css = inlineStyle(style);
  if (el.hasAttribute(SKIP_ATTRIBUTE)) css += "visibility:hidden;";
  // Text laid out again in the image can come out a fraction wider: keep one line one line.
  if (oneLineOfText(el, style)) css += /^(pre-wrap|break-spaces)$/.test(style.whiteSpace) ? "white-space:pre;" : "white-space:nowrap;";
  if (/flex/.test(style.display) && style.flexWrap !== "nowrap" && oneRow(el)) css += "flex-wrap:nowrap;";
  copy.setAttribute("style", css);
  if (el.hasAttribute(SKIP_ATTRIBUTE)) return copy;
  if (el instanceof HTMLTextAreaElement) {
    copy.textContent = el.value;
    return copy;
  }
  if (el instanceof HTMLInputElement) {
    copy.setAttribute("value", el.value);
    return copy;
  }
  if (el instanceof HTMLSelectElement) {
    // A closed select shows its chosen option: draw that text.
    const shown = document.createElementNS(XHTML, "span") as HTMLElement;
    shown.setAttribute("style", inlineStyle(style).replace(/display:[^;]*;/, "display:inline-flex;align-items:center;"));
    shown.textContent = el.selectedOptions[0]?.textContent ?? "";
    return shown;
  }
  const before = pseudo(el, "::before");
  if (before) copy.append(before);
  for (const child of el.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) copy.append(child.cloneNode());
    else if (child instanceof Element) {
      if (child instanceof HTMLElement && child.hidden) continue;
      if (child instanceof HTMLScriptElement || child instanceof HTMLStyleElement) continue;
      copy.append(copyStyled(child));
    }
  }
  const after = pseudo(el, "::after");
  if (after) copy.append(after);
  return copy;
}
