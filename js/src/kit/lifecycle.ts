/**
 * The two ends of every view's `render()` that are the same in every view (docs/architecture.md,
 * "The render lifecycle"):
 *
 * - the preamble, {@link connectView}: the colours read from the theme (palette, the view's
 *   scale, the one masked-cell colour, also as `--cw-masked` on the root for CSS swatches), the
 *   model's shape (`n_layers`, `n_heads`), and the shared selection (written back to the
 *   kernel unless the page is a static export) with the selected head and its fallback;
 * - the tail, {@link startDrawing}: recolour on every theme change, recolour → draw now, and
 *   once the root is in the document (where the theme's colours can be read) recolour again,
 *   run the view's `ready` step and mark the root `data-ready="true"`.
 *
 *     const { look, selection, selectedHead } = connectView(model, root, signal, {
 *       scale: sequential,                          // the view's colour scale for a palette
 *       onSelection: (changed) => { if (changed.has("layer")) showHead(); },
 *     });
 *     // ... the panels ...
 *     startDrawing(root, signal, { recolour, draw: drawData, ready: showHead });
 */
import type { AnyModel } from "@anywidget/types";
import { maskedRgb, type ColorScale, type Palette } from "./color_scale";
import { connectSelection, pairedHead, selectedHead, type Head, type SelectionKey, type SharedSelection } from "./selection";
import { onThemeChange, readPalette, whenInDocument } from "./theme";

/** The colours a view paints with, as last read from its theme. */
export interface Look {
  palette: Palette;
  scale: ColorScale;
  /** The masked-cell colour (a key after its query), `[r, g, b]` for ImageData. */
  masked: [number, number, number];
}

/** A view's colours, read now and again on {@link LookReader.read} (a theme change). */
export interface LookReader extends Look {
  read(): void;
}

/** The palette of `root`'s theme, `scale` made from it and the masked colour (also set as
 * `--cw-masked` on `root`, for legends' swatches). */
export function createLook(root: HTMLElement, scale: (palette: Palette) => ColorScale): LookReader {
  const look = { read } as LookReader;
  function read() {
    look.palette = readPalette(root);
    look.scale = scale(look.palette);
    look.masked = maskedRgb(look.palette);
    root.style.setProperty("--cw-masked", `rgb(${look.masked.join(" ")})`);
  }
  read();
  return look;
}

type ViewModel = AnyModel<Record<string, unknown>>;

export interface ConnectOptions {
  /** The view's colour scale for a palette (e.g. `sequential`, `(p) => diverging(p, 1)`). */
  scale: (palette: Palette) => ColorScale;
  /** The shared selection changed (these fields). */
  onSelection: (changed: ReadonlySet<SelectionKey>) => void;
}

export interface ConnectedView {
  readonly look: LookReader;
  readonly selection: SharedSelection;
  nLayers(): number;
  nHeads(): number;
  /** The selected head if this model has it, else `fallback` (the head drawn last) or 0.0. */
  selectedHead(fallback?: Head | null): Head;
  /** The selected pair's writing head if the selection holds a pair this model has, else null. */
  pairedHead(): Head | null;
}

/** The preamble of a view of a model's heads: its colours, its shape and the shared selection. */
export function connectView(model: ViewModel, root: HTMLElement, signal: AbortSignal, options: ConnectOptions): ConnectedView {
  const nLayers = () => Number(model.get("n_layers"));
  const nHeads = () => Number(model.get("n_heads"));
  const selection = connectSelection(model, {
    signal,
    canSave: () => !model.get("_static"),
    onChange: options.onSelection,
  });
  return {
    look: createLook(root, options.scale),
    selection,
    nLayers,
    nHeads,
    selectedHead: (fallback = null) => selectedHead(selection, nLayers(), nHeads(), fallback),
    pairedHead: () => pairedHead(selection, nLayers(), nHeads()),
  };
}

export interface DrawingSteps {
  /** Read the theme's colours again and repaint with them. */
  recolour(): void;
  /** Draw what the model holds. */
  draw(): void;
  /** Once in the document, after the recolour: what the view does before it is ready. */
  ready?(): void;
}

/** The tail of every view's `render()`: recolour on theme changes, recolour → draw, and in the
 * document recolour → `ready` → `data-ready="true"` on `root`. */
export function startDrawing(root: HTMLElement, signal: AbortSignal, steps: DrawingSteps): void {
  onThemeChange(root, steps.recolour, signal);
  steps.recolour();
  steps.draw();
  whenInDocument(root, () => {
    steps.recolour();
    steps.ready?.();
    root.dataset.ready = "true";
  }, signal);
}
