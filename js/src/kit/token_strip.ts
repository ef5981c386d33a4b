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
 */
import "./token_strip.css";

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
  /** The element of token `index`. */
  tokenAt(index: number): HTMLElement | undefined;
  readonly length: number;
}

export function createTokenStrip(parent: HTMLElement, options: TokenStripOptions = {}): TokenStrip {
  const element = document.createElement("div");
  element.className = "cw-token-strip";
  element.tabIndex = 0;
  element.setAttribute("role", "group");
  element.setAttribute("aria-label", options.label ?? "tokens");
  parent.append(element);

  let spans: HTMLElement[] = [];
  let painted: (string | undefined)[] = []; // what paint() last wrote to each span
  let active = -1;

  const indexOf = (target: EventTarget | null): number => {
    const el = target instanceof Element ? target.closest<HTMLElement>(".cw-token") : null;
    return el && element.contains(el) ? Number(el.dataset.index) : -1;
  };
  const inspect = (i: number) => {
    const el = spans[i];
    if (!el) return;
    spans[active]?.classList.remove("cw-token-active");
    active = i;
    el.classList.add("cw-token-active");
    options.onInspect?.(i, el);
  };
  const leave = () => {
    spans[active]?.classList.remove("cw-token-active");
    active = -1;
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
    if (spans.length === 0) return;
    const next: Record<string, number> = {
      ArrowRight: Math.min(spans.length - 1, active + 1),
      ArrowLeft: Math.max(0, active < 0 ? 0 : active - 1),
      Home: 0,
      End: spans.length - 1,
    };
    if (e.key in next) {
      e.preventDefault();
      inspect(next[e.key] as number);
      spans[active]?.scrollIntoView({ block: "nearest", inline: "nearest" });
    } else if (e.key === "Escape") {
      leave();
    } else if ((e.key === "Enter" || e.key === " ") && active >= 0) {
      e.preventDefault();
      options.onSelect?.(active, spans[active] as HTMLElement);
    }
  });
  element.addEventListener("blur", leave);

  return {
    element,
    get length() {
      return spans.length;
    },
    setTokens(tokens, attributes) {
      active = -1;
      const frag = document.createDocumentFragment();
      spans = tokens.map((token, i) => {
        const span = document.createElement("span");
        span.className = "cw-token";
        span.dataset.index = String(i);
        for (const [name, value] of Object.entries(attributes?.(i) ?? {})) span.setAttribute(name, value);
        span.append(visibleToken(token));
        frag.append(span);
        for (let k = lineBreaksAfter(token); k > 0; k--) frag.append(document.createElement("br"));
        return span;
      });
      element.replaceChildren(frag);
      painted = [];
    },
    paint(paintFor) {
      // Hovering moves along rows of a long text: most tokens keep their colours, so only
      // the changed ones are written (a style write re-parses the colour and dirties style).
      spans.forEach((span, i) => {
        const p = paintFor(i);
        const key = p ? `${p.background}|${p.color}` : "";
        if (painted[i] === key) return;
        painted[i] = key;
        span.classList.toggle("cw-token-none", p === null);
        span.style.backgroundColor = p ? p.background : "";
        span.style.color = p ? p.color : "";
      });
    },
    tokenAt: (index) => spans[index],
  };
}
