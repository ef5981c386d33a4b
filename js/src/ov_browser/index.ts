/**
 * OVBrowser: what every head writes — a copying map of all heads, the selected head's OV
 * eigenvalues in the complex plane, and token maps answered by Python on demand.
 *
 * State (Python: circuitwidgets/widgets/ov_browser.py):
 *   copying, positive_mass   float32 [L, H]: Re(Σλ)/Σ|λ| and Σ_{Re λ>0}|λ| / Σ|λ|
 *   eigenvalues              float32 [L, H, d_head, 2]: (re, im), largest |λ| first
 *   circuit                  "full" (W_E·W_V·W_O·W_U) or "ov" (W_V·W_O)
 *   defaults, k              the token map's starting tokens and its top-k
 *   _answers                 token-map answers the page holds without asking (static export)
 *   busy, error              progress line / inline error
 *   selection                the shared Selection (layer, head, token): kit/selection.ts
 *
 * Every head's spectrum is on the page, so choosing a head redraws at once (also in a static
 * export). Requests go through the channel (kit/channel.ts): if the spectra are not computed
 * yet the view asks `invoke("spectrum", {})` and Python reports its progress in `busy` (an
 * error shows in the banner). Token maps: `invoke("query", {mode, layer, head, k, tokens})`
 * → the payload with ids and values decoded, or a refusal whose detail names the entry and
 * its pieces.
 *
 * For tests: `.cw-ov-spectrum[data-layer][data-head]` names the head drawn and its plot
 * carries `data-points`; grid cells are buttons named "layer L head H" with `data-score`.
 * For benchmarks: the root's `data-drawn-ms` is the time from `render` to the first frame
 * painted with every head's score and the selected spectrum (including Python computing them).
 */
import type { RenderProps } from "@anywidget/types";
import "./ov_browser.css";
import { diverging, type ColorScale } from "../kit/color_scale";
import { createButton } from "../kit/button";
import { failureText, invoke, isQuiet, RequestError } from "../kit/channel";
import { decode, headValue, type NDArray, type WireArray } from "../kit/decode";
import { formatTick } from "../kit/format";
import { createLegend } from "../kit/legend";
import { createPanel } from "../kit/panel";
import { connectSelection, selectedHead as headOf } from "../kit/selection";
import { headGridSvg, svgColors } from "../kit/svg_grid";
import { onThemeChange, readPalette, whenInDocument } from "../kit/theme";
import { createView } from "../kit/view";
import { watch } from "../kit/watch";
import { AnswerCache, type Payload, type Question, type TokenRef } from "./answers";
import { createCopyingGrid, formatScore } from "./copying_grid";
import { formatMagnitude, type RadialKind } from "./spectrum_geometry";
import { createSpectrumPlot } from "./spectrum_plot";
import { createTokenMaps, type Defaults, type QueryFailure } from "./token_maps";
import { withSignal } from "../kit/render";
import { createToggleGroup } from "../kit/toggle_group";

interface State {
  [key: string]: unknown;
  model_name: string;
  n_layers: number;
  n_heads: number;
  d_head: number;
  d_vocab: number;
  circuit: string;
  k: number;
  text: string;
  defaults: Defaults;
  copying: WireArray | null;
  positive_mass: WireArray | null;
  eigenvalues: WireArray | null;
  busy: string;
  error: string;
  _answers: Payload[];
  _static: boolean;
  selection: string;
}

const CIRCUIT_NAME: Record<string, string> = { full: "W_E·W_V·W_O·W_U", ov: "W_V·W_O" };

const GRID_CAPTION =
  "Each square is one attention head. Blue heads copy: when they attend to a token, they make the model " +
  "more likely to predict that same token. Red heads suppress the token they attend to. The number is the " +
  "copying score Σλ/Σ|λ| of the eigenvalues λ of the head's OV circuit, from −1 to 1. Click a head to look closer.";
const SPECTRUM_CAPTION =
  "The eigenvalues of the selected head's OV circuit: what it does to the direction of the token it reads. " +
  "A point on the right (positive real part) means \"copy what I attend to\", on the left \"suppress it\"; " +
  "the distance from the centre is how strongly. Try the log scale when a few large eigenvalues hide the rest.";

function render({ model, el, signal }: RenderProps<State>) {
  const started = performance.now();
  const { frame, root, tooltip, banner } = createView(model, el, signal, {
    title: "OV circuits: what each head writes",
    className: "cw-ov-browser",
    progress: "cw-ov-progress",
  });

  const main = document.createElement("div");
  main.className = "cw-ov-main";
  frame.body.append(main);

  // ---- copying map --------------------------------------------------------------------------
  const gridPanel = createPanel(main, { className: "cw-ov-map", title: "Copying map", caption: GRID_CAPTION });
  const grid = createCopyingGrid(gridPanel.body, {
    label: "Attention heads by OV copying score: arrow keys move, the selection follows",
    onSelect: (layer, head) => selection.set({ layer, head }),
    onInspect: (cell, layer, head) => inspectHead(cell, layer, head),
  });
  const legend = createLegend(gridPanel.body, {
    title: "Copying score",
    ticks: [-1, -0.5, 0, 0.5, 1],
    format: (v) => formatTick(v).replace("-", "−"),
  });
  const legendEnds = document.createElement("div");
  legendEnds.className = "cw-ov-legend-ends";
  const anti = document.createElement("span");
  anti.textContent = "← suppresses (anti-copying)";
  const copies = document.createElement("span");
  copies.textContent = "copies →";
  legendEnds.append(anti, copies);
  legend.element.querySelector(".cw-legend-scale")?.append(legendEnds);

  frame.camera.addSvg(gridPanel.header, "copying", "the copying map", () =>
    headGridSvg(grid.element, `OV copying score: ${model.get("model_name")}`, svgColors(palette)),
  );

  // ---- spectrum -----------------------------------------------------------------------------
  const spectrumPanel = createPanel(main, { className: "cw-ov-spectrum", title: "Eigenvalues", caption: SPECTRUM_CAPTION });
  const kinds = createToggleGroup<RadialKind>(spectrumPanel.header, {
    label: "Distance from the centre",
    options: [
      { value: "linear", text: "linear |λ|", help: "Distance from the centre proportional to |λ|" },
      { value: "log", text: "log |λ|", help: "Distance from the centre proportional to log |λ| (four powers of ten)" },
    ],
    onPick: (k) => setKind(k),
  });
  const plot = createSpectrumPlot(spectrumPanel.body, tooltip);
  const numbers = document.createElement("div");
  numbers.className = "cw-ov-numbers";
  spectrumPanel.body.append(numbers);

  // ---- token maps ---------------------------------------------------------------------------
  const cache = new AnswerCache();
  const tokenMaps = createTokenMaps(frame.body, {
    cache,
    tooltip,
    async ask(q: Question, tokens: (number | string)[]) {
      try {
        const payload = await invoke<Payload>(model, "query", { ...q, tokens }, { signal });
        cache.add(payload);
        return payload;
      } catch (e) {
        const detail = e instanceof RequestError ? e.detail : null;
        throw {
          message: failureText(e),
          entry: (detail?.entry as string | number | null | undefined) ?? null,
          pieces: (detail?.pieces as TokenRef[] | undefined) ?? [],
        } satisfies QueryFailure;
      }
    },
    onTarget: (t: TokenRef) => selection.set({ token: t.id }),
    setK(k) {
      model.set("k", k);
      model.save_changes();
    },
  });

  // ---- state --------------------------------------------------------------------------------
  let copying: NDArray | null = null;
  let positive: NDArray | null = null;
  let eigen: NDArray | null = null;
  let kind: RadialKind = "linear";
  let palette = readPalette(root);
  let scale: ColorScale = diverging(palette, 1);
  let asked = false;
  const nLayers = () => model.get("n_layers");
  const nHeads = () => model.get("n_heads");
  const dHead = () => model.get("d_head");

  const selection = connectSelection(model, {
    signal,
    canSave: () => !model.get("_static"),
    onChange(changed) {
      if (changed.has("layer") || changed.has("head")) showHead();
      if (changed.has("token")) {
        const id = selection.get("token");
        if (id !== null && id < model.get("d_vocab")) tokenMaps.showTarget({ id, text: tokenText(id) });
      }
    },
  });

  /** The text of a token the page has seen (defaults, answers), else "#id". */
  function tokenText(id: number): string {
    const d = model.get("defaults");
    const known = (d?.choices ?? []).find((t) => t.id === id);
    return known?.text ?? `#${id}`;
  }

  function selectedHead() {
    return headOf(selection, nLayers(), nHeads());
  }

  function headPairs(layer: number, head: number): Float32Array | null {
    if (!eigen) return null;
    const n = dHead() * 2;
    const start = (layer * nHeads() + head) * n;
    return (eigen.data as Float32Array).subarray(start, start + n);
  }

  function showHead() {
    const { layer, head } = selectedHead();
    grid.mark(layer, head);
    const pairs = headPairs(layer, head);
    spectrumPanel.title.textContent = `Eigenvalues · layer ${layer} head ${head}`;
    plot.setData(pairs, `layer ${layer} head ${head}`);
    const c = headValue(copying, layer, head);
    const p = headValue(positive, layer, head);
    let largest = 0;
    if (pairs) for (let i = 0; i < pairs.length; i += 2) largest = Math.max(largest, Math.hypot(pairs[i] as number, pairs[i + 1] as number));
    numbers.replaceChildren(
      number("copying score", pairs ? formatScore(c) : "…", "Re(Σλ) / Σ|λ|: 1 = copies, −1 = suppresses"),
      number("positive-real mass", pairs ? `${(p * 100).toFixed(0)}%` : "…", "Σ|λ| over eigenvalues with Re λ > 0, as a share of Σ|λ|"),
      number("largest |λ|", pairs ? formatMagnitude(largest) : "…", "the biggest eigenvalue's magnitude"),
    );
    Object.assign(spectrumPanel.element.dataset, {
      layer: String(layer),
      head: String(head),
      copying: pairs ? String(c) : "",
      positiveMass: pairs ? String(p) : "",
    });
    tokenMaps.setHead(layer, head);
  }

  function inspectHead(cell: HTMLElement | null, layer: number, head: number) {
    if (!cell) {
      tooltip.hide();
      return;
    }
    const ready = copying !== null;
    tooltip.show(cell, {
      title: `layer ${layer} head ${head}`,
      rows: [
        ["copying score", ready ? formatScore(headValue(copying, layer, head)) : "…"],
        ["positive-real mass", ready ? `${(headValue(positive, layer, head) * 100).toFixed(0)}%` : "…"],
      ],
      note: "click to show its eigenvalues and token maps",
    });
  }

  function drawData() {
    grid.setShape(nLayers(), nHeads());
    const wc = model.get("copying");
    const wp = model.get("positive_mass");
    const we = model.get("eigenvalues");
    copying = wc ? decode(wc) : null;
    positive = wp ? decode(wp) : null;
    eigen = we ? decode(we) : null;
    grid.setValues(copying ? Float32Array.from(copying.data, (v) => v * (copying as NDArray).scale) : null, scale);
    root.dataset.spectra = eigen ? "ready" : "pending";
    frame.setMeta([
      model.get("model_name"),
      `${nLayers()} layers × ${nHeads()} heads`,
      `d_head ${dHead()}`,
      `circuit ${CIRCUIT_NAME[model.get("circuit")] ?? model.get("circuit")}`,
    ]);
    showHead();
    if (eigen && !root.dataset.drawnMs) {
      requestAnimationFrame(() => (root.dataset.drawnMs = (performance.now() - started).toFixed(0)));
    }
    if (!eigen && !asked && !model.get("_static")) {
      asked = true;
      // Python computes once, reporting progress in `busy`; the spectra arrive as traits.
      invoke(model, "spectrum", {}, { signal, timeout: 0 }).catch((e) => {
        if (!isQuiet(e)) banner.set(failureText(e));
      });
    }
  }

  function loadAnswers() {
    for (const payload of model.get("_answers") ?? []) cache.add(payload);
    tokenMaps.refresh();
  }

  function recolour() {
    palette = readPalette(root);
    scale = diverging(palette, 1);
    legend.setScale(scale);
    plot.setPalette(palette);
    tokenMaps.setPalette(palette);
    grid.setValues(copying ? Float32Array.from(copying.data, (v) => v * (copying as NDArray).scale) : null, scale);
  }

  const setKind = (k: RadialKind) => {
    kind = k;
    kinds.show(k);
    plot.setKind(k);
  };

  watch(model, ["copying", "positive_mass", "eigenvalues", "n_layers", "n_heads", "circuit"], drawData, signal);
  watch(model, ["defaults"], () => tokenMaps.setDefaults(model.get("defaults")), signal);
  watch(model, ["k"], () => tokenMaps.setK(model.get("k")), signal);
  watch(model, ["_answers"], loadAnswers, signal);
  watch(model, ["_static"], () => tokenMaps.setStatic(model.get("_static")), signal);
  onThemeChange(root, recolour, signal);

  setKind(kind);
  tokenMaps.setK(model.get("k"));
  tokenMaps.setDefaults(model.get("defaults"));
  tokenMaps.setStatic(model.get("_static"));
  loadAnswers();
  recolour();
  drawData();
  whenInDocument(root, () => {
    recolour();
    showHead();
    root.dataset.ready = "true";
  }, signal);
}

/** One number under the spectrum: the value large (it is read from the back of a room), its
 * name under it, what it means on hover. */
function number(label: string, value: string, title: string): HTMLElement {
  const box = document.createElement("div");
  box.className = "cw-ov-number";
  box.title = title;
  const v = document.createElement("span");
  v.className = "cw-ov-number-value";
  v.textContent = value;
  v.dataset.name = label;
  const name = document.createElement("span");
  name.className = "cw-ov-number-label";
  name.textContent = label;
  box.append(v, name);
  return box;
}

export default { render: withSignal(render) };
