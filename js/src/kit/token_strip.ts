/**
 * A row of tokens, as text, with whitespace made visible.
 *
 * Token text comes from the user, so it is only ever inserted with `textContent` (never as
 * HTML): a token `<script>` shows up as the characters `<script>`. Spaces show as `·`,
 * newlines as `↵` (followed by a real line break), tabs as `→` and other control characters as
 * their Unicode "control picture" (␀, ␛ ...), all dimmed so they are not mistaken for text.
 *
 *     const strip = createTokenStrip(parent, { onInspect: (i, el) => ..., onLeave: () => ... });
 *     strip.setTokens(["<|endoftext|>", "Hello", " world", "\n"]);
 *     strip.paint((i) => scale(probs[i]));   // recolour without rebuilding the DOM
 *
 * Hover, or focus the strip and use the arrow keys, Home and End, to inspect a token.
 *
 * A strip of more than VIRTUAL_FROM tokens (kit/token_window.ts) scrolls in a box of its
 * own and holds elements only for the chunks of tokens in sight (`.cw-token-chunk`, drawn as
 * they scroll in, each starting a new line; `data-drawn` on the strip names them), with a minimap beside it
 * (kit/minimap.ts) showing where the box is, the inspected token and the `mark`ed one; the
 * keys work as on a short strip and scroll the token reached into sight.
 */
import "./token_strip.css";
import { createMinimap } from "./minimap";
import {
  CHUNK, chunkCount, chunkLayout, chunkOf, chunksInView, chunkTokens, minimapWindow, scrollForFraction, tokenFraction, VIRTUAL_FROM,
} from "./token_window";

export type PartKind = "text" | "space" | "newline" | "tab" | "control" | "empty";

/** One run of a token's display form: visible text, or a marker standing for whitespace. */
export interface Part {
  kind: PartKind;
  text: string;
}

const MARKERS: Record<string, [PartKind, string]> = {
  " ": ["space", "·"],
  "\u00a0": ["space", "⍽"],
  "\n": ["newline", "↵"],
  "\t": ["tab", "→"],
  "\r": ["control", "␍"],
};

function marker(ch: string): [PartKind, string] | null {
  const known = MARKERS[ch];
  if (known) return known;
  const code = ch.charCodeAt(0);
  if (code < 0x20) return ["control", String.fromCharCode(0x2400 + code)];
  if (code === 0x7f) return ["control", "␡"];
  return null;
}

/** Split a token into display runs (see the module docstring). */
export function tokenParts(token: string): Part[] {
  if (token === "") return [{ kind: "empty", text: "∅" }];
  const parts: Part[] = [];
  for (const ch of token) {
    const m = marker(ch);
    const kind = m ? m[0] : "text";
    const text = m ? m[1] : ch;
    const last = parts[parts.length - 1];
    if (last && last.kind === kind) last.text += text;
    else parts.push({ kind, text });
  }
  return parts;
}

/** A token as one line of visible characters (spaces as ·, newlines as ↵ ...): the text of
 * canvas labels and hover-card rows, where markers cannot be dimmed spans. */
export function tokenLabel(token: string): string {
  return tokenParts(token).map((p) => p.text).join("");
}

/** How many line breaks to draw after a token (one per newline it contains). */
export function lineBreaksAfter(token: string): number {
  let n = 0;
  for (const ch of token) if (ch === "\n") n++;
  return n;
}

/** A token's display form as DOM nodes (text nodes and dimmed marker spans). */
export function visibleToken(token: string): DocumentFragment {
  const frag = document.createDocumentFragment();
  for (const part of tokenParts(token)) {
    if (part.kind === "text") {
      frag.append(document.createTextNode(part.text));
    } else {
      const span = document.createElement("span");
      span.className = `cw-ws cw-ws-${part.kind}`;
      span.textContent = part.text;
      frag.append(span);
    }
  }
  return frag;
}

/** Background and text colour for one token, or `null` for the "no value" style. */
export interface TokenPaint {
  background: string;
  color: string;
}

export interface TokenStripOptions {
  /** A token was hovered or reached with the keyboard. */
  onInspect?: (index: number, el: HTMLElement) => void;
  /** The pointer left the strip, or it lost keyboard focus. */
  onLeave?: () => void;
  /** A token was clicked. */
  onSelect?: (index: number, el: HTMLElement) => void;
  /** Accessible name of the strip. */
  label?: string;
}

export interface TokenStrip {
  readonly element: HTMLElement;
  /** Rebuild the strip; `attributes(i)` adds data-* / aria-* attributes to token `i`. */
  setTokens(tokens: readonly string[], attributes?: (index: number) => Record<string, string>): void;
  /** Recolour every token (`null`: the neutral "no value" style). */
  paint(paintFor: (index: number) => TokenPaint | null): void;
  /** The element of token `index` (undefined while a long strip has it out of sight). */
  tokenAt(index: number): HTMLElement | undefined;
  /** Scroll token `index` into sight (drawing it first in a long strip); its element. */
  reveal(index: number): HTMLElement | undefined;
  /** Mark the selected position on a long strip's minimap (null: none). */
  mark(index: number | null): void;
  readonly length: number;
}

export function createTokenStrip(parent: HTMLElement, options: TokenStripOptions = {}): TokenStrip {
  const element = document.createElement("div");
  element.className = "cw-token-strip";
  element.tabIndex = 0;
  element.setAttribute("role", "group");
  const label = options.label ?? "tokens";
  element.setAttribute("aria-label", label);
  parent.append(element);

  let tokens: readonly string[] = [];
  let attributes: ((index: number) => Record<string, string>) | undefined;
  let spans: (HTMLElement | undefined)[] = [];
  let painted: (string | undefined)[] = []; // what paint() last wrote to each span
  let paintFor: ((index: number) => TokenPaint | null) | null = null;
  let active = -1;
  let long: LongStrip | null = null;

  const paintSpan = (span: HTMLElement, i: number) => {
    if (!paintFor) return;
    const p = paintFor(i);
    const key = p ? `${p.background}|${p.color}` : "";
    if (painted[i] === key) return;
    painted[i] = key;
    span.classList.toggle("cw-token-none", p === null);
    span.style.backgroundColor = p ? p.background : "";
    span.style.color = p ? p.color : "";
  };
  /** Token elements `start .. stop - 1` (with their line breaks) into `into`. */
  const fill = (into: HTMLElement, start: number, stop: number) => {
    const frag = document.createDocumentFragment();
    for (let i = start; i < stop; i++) {
      const token = tokens[i] as string;
      const span = document.createElement("span");
      span.className = i === active ? "cw-token cw-token-active" : "cw-token";
      span.dataset.index = String(i);
      for (const [name, value] of Object.entries(attributes?.(i) ?? {})) span.setAttribute(name, value);
      span.append(visibleToken(token));
      frag.append(span);
      for (let k = lineBreaksAfter(token); k > 0; k--) frag.append(document.createElement("br"));
      spans[i] = span;
      painted[i] = undefined;
      paintSpan(span, i);
    }
    into.replaceChildren(frag);
  };
  const forget = (start: number, stop: number) => {
    for (let i = start; i < stop; i++) spans[i] = undefined;
  };

  const indexOf = (target: EventTarget | null): number => {
    const el = target instanceof Element ? target.closest<HTMLElement>(".cw-token") : null;
    return el && element.contains(el) ? Number(el.dataset.index) : -1;
  };
  const inspect = (i: number) => {
    const el = spans[i] ?? long?.reveal(i);
    if (!el) return;
    spans[active]?.classList.remove("cw-token-active");
    active = i;
    el.classList.add("cw-token-active");
    long?.showActive(i);
    options.onInspect?.(i, el);
  };
  const leave = () => {
    spans[active]?.classList.remove("cw-token-active");
    active = -1;
    long?.showActive(null);
    options.onLeave?.();
  };

  element.addEventListener("pointerover", (e) => {
    const i = indexOf(e.target);
    if (i >= 0 && i !== active) inspect(i);
  });
  element.addEventListener("pointerleave", leave);
  element.addEventListener("click", (e) => {
    const i = indexOf(e.target);
    const el = spans[i];
    if (el) options.onSelect?.(i, el);
  });
  element.addEventListener("keydown", (e) => {
    const n = tokens.length;
    if (n === 0) return;
    const next: Record<string, number> = {
      ArrowRight: Math.min(n - 1, active + 1),
      ArrowLeft: Math.max(0, active < 0 ? 0 : active - 1),
      Home: 0,
      End: n - 1,
    };
    if (e.key in next) {
      e.preventDefault();
      inspect(next[e.key] as number);
      spans[active]?.scrollIntoView({ block: "nearest", inline: "nearest" });
    } else if (e.key === "Escape") {
      leave();
    } else if ((e.key === "Enter" || e.key === " ") && active >= 0) {
      e.preventDefault();
      const el = spans[active] ?? long?.reveal(active); // a long strip may have scrolled it away
      if (el) options.onSelect?.(active, el);
    }
  });
  element.addEventListener("blur", leave);

  return {
    element,
    get length() {
      return tokens.length;
    },
    setTokens(next, nextAttributes) {
      active = -1;
      tokens = next;
      attributes = nextAttributes;
      spans = new Array(next.length);
      painted = [];
      long?.destroy();
      long = null;
      element.classList.toggle("cw-token-strip-long", next.length > VIRTUAL_FROM);
      if (next.length > VIRTUAL_FROM) {
        element.setAttribute("aria-label", `${label} (${next.length} tokens; those out of sight are drawn as they scroll in)`);
        long = createLongStrip(element, next.length, { fill, forget });
      } else {
        element.setAttribute("aria-label", label);
        fill(element, 0, next.length);
      }
    },
    paint(next) {
      // Hovering moves along rows of a long text: most tokens keep their colours, so only
      // the changed ones are written (a style write re-parses the colour and dirties style);
      // a long strip paints the tokens in sight, and the others as they are drawn.
      paintFor = next;
      spans.forEach((span, i) => {
        if (span) paintSpan(span, i);
      });
    },
    tokenAt: (index) => spans[index],
    reveal(index) {
      if (index < 0 || index >= tokens.length) return undefined;
      const el = spans[index] ?? long?.reveal(index);
      el?.scrollIntoView({ block: "nearest", inline: "nearest" });
      return el;
    },
    mark(index) {
      long?.showMark(index);
    },
  };
}

/** What a long strip asks of its token strip: draw or drop the tokens of a chunk. */
interface ChunkHost {
  fill(into: HTMLElement, start: number, stop: number): void;
  forget(start: number, stop: number): void;
}

interface LongStrip {
  /** Draw token `index`'s chunk and scroll it into sight; its element. */
  reveal(index: number): HTMLElement | undefined;
  showActive(index: number | null): void;
  showMark(index: number | null): void;
  destroy(): void;
}

/** A long strip: a scrolling box of chunks (only those in sight drawn) and a minimap. */
function createLongStrip(element: HTMLElement, n: number, host: ChunkHost): LongStrip {
  const scroller = document.createElement("div");
  scroller.className = "cw-token-scroll";
  const count = chunkCount(n);
  const chunks = Array.from({ length: count }, (_, c) => {
    const div = document.createElement("div");
    div.className = "cw-token-chunk";
    div.dataset.chunk = String(c);
    return div;
  });
  scroller.append(...chunks);
  const minimap = createMinimap((f) => {
    scroller.scrollTop = scrollForFraction(f, scroller.clientHeight, scroller.scrollHeight);
  });
  element.replaceChildren(scroller, minimap.element);

  const heights: number[] = new Array(count).fill(-1);
  const measured: boolean[] = new Array(count).fill(false);
  const drawn = new Set<number>();
  let estimate = 0;
  let active: number | null = null;
  let marked: number | null = null;
  let frame = 0;

  const tokensOf = (c: number) => chunkTokens(c, n);
  const guess = (c: number) => {
    const [a, b] = tokensOf(c);
    return estimate * ((b - a) / CHUNK);
  };
  const draw = (c: number) => {
    const [a, b] = tokensOf(c);
    const div = chunks[c] as HTMLDivElement;
    host.fill(div, a, b);
    div.style.height = "";
    drawn.add(c);
    measure(c);
  };
  /** A drawn chunk's height; the last one measured (with layout) sets the estimate of the rest. */
  const measure = (c: number) => {
    const [a, b] = tokensOf(c);
    const height = (chunks[c] as HTMLDivElement).offsetHeight;
    heights[c] = height;
    measured[c] = height > 0;
    if (height > 0) estimate = height * (CHUNK / Math.max(1, b - a));
  };
  const drop = (c: number) => {
    const [a, b] = tokensOf(c);
    const div = chunks[c] as HTMLDivElement;
    host.forget(a, b);
    div.replaceChildren();
    div.style.height = `${heights[c]}px`;
    drawn.delete(c);
  };
  const offsets = () => {
    for (let c = 0; c < count; c++) {
      if (!measured[c]) {
        const height = guess(c);
        if (height === heights[c]) continue; // a style write even of the same value costs a frame
        heights[c] = height;
        if (!drawn.has(c)) (chunks[c] as HTMLDivElement).style.height = `${height}px`;
      }
    }
    return chunkLayout(heights);
  };
  function update() {
    if (!drawn.size) draw(0); // the first measures a chunk: the estimate for the others
    const [first, last] = chunksInView(offsets(), scroller.scrollTop, scroller.clientHeight || 1);
    for (const c of [...drawn]) if (c < first || c > last) drop(c);
    for (let c = first; c <= last; c++) if (!drawn.has(c)) draw(c);
    const range = `${first}-${last}`;
    if (element.dataset.drawn !== range) element.dataset.drawn = range;
    showMinimap();
  }
  function showMinimap() {
    const layout = chunkLayout(heights);
    const [top, height] = minimapWindow(scroller.scrollTop, scroller.clientHeight, scroller.scrollHeight);
    minimap.show(top, height, active === null ? null : tokenFraction(layout, active, n), marked === null ? null : tokenFraction(layout, marked, n));
  }
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(() => {
      frame = 0;
      update();
    });
  };
  scroller.addEventListener("scroll", schedule, { passive: true });
  const resize = new ResizeObserver(() => {
    measured.fill(false); // a new width wraps every chunk anew
    for (const c of drawn) measure(c);
    schedule();
  });
  resize.observe(scroller);
  update();

  return {
    reveal(index) {
      const c = chunkOf(index);
      if (!drawn.has(c)) {
        scroller.scrollTop = offsets()[c] as number;
        update();
        if (!drawn.has(c)) draw(c); // no layout (a hidden strip): draw it anyway
      }
      return scroller.querySelector<HTMLElement>(`.cw-token[data-index="${index}"]`) ?? undefined;
    },
    showActive(index) {
      active = index;
      showMinimap();
    },
    showMark(index) {
      marked = index;
      showMinimap();
    },
    destroy() {
      resize.disconnect();
      cancelAnimationFrame(frame);
    },
  };
}
