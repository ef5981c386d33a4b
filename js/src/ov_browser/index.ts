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
 * carries `data-points`; grid cells are the kit's head grid (kit/head_grid.ts): `.cw-ov-cell` buttons named
 * "layer L head H" with `data-score`.
 * For benchmarks: the root's `data-drawn-ms` is the time from `render` to the first frame
 * painted with every head's score and the selected spectrum (including Python computing them).
 */
import type { RenderProps } from "@anywidget/types";
import "./ov_browser.css";
import { diverging } from "../kit/color_scale";
import { failureText, invoke, isQuiet } from "../kit/channel";
import { decode, headValue, type NDArray, type WireArray } from "../kit/decode";
import { connectView, startDrawing } from "../kit/lifecycle";
import { createView } from "../kit/view";
import { watch } from "../kit/watch";
import { AnswerCache, askTokenMap, type Payload, type TokenRef } from "./answers";
import { formatScore } from "../kit/format";
import { createCopyingMap } from "./copying_map";
import { createSpectrumPanel } from "./spectrum_panel";
import { percent } from "./state";
import { createTokenMaps, type Defaults } from "./token_maps";
import { withSignal } from "../kit/render";

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
  defaults: Defaults | null;
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

  const map = createCopyingMap(main, {
    frame,
    onSelect: (layer, head) => selection.set({ layer, head }),
    onInspect: (cell, layer, head) => inspectHead(cell, layer, head),
    title: () => model.get("model_name"),
    palette: () => look.palette,
  });
  const spectrum = createSpectrumPanel(main, tooltip);

  // ---- token maps ---------------------------------------------------------------------------
  const cache = new AnswerCache();
  const tokenMaps = createTokenMaps(frame.body, {
    cache,
    tooltip,
    ask: (q, tokens) => askTokenMap(model, cache, q, tokens, signal),
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
  let asked = false;
  const { look, selection, nLayers, nHeads, selectedHead, pairedHead } = connectView(model, root, signal, {
    scale: (palette) => diverging(palette, 1),
    onSelection(changed) {
      if (changed.has("layer") || changed.has("head")) showHead();
      else if (changed.has("pair")) markHead();
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

  function showHead() {
    const { layer, head } = selectedHead();
    markHead();
    spectrum.show(layer, head, { copying, positive, eigen });
    tokenMaps.setHead(layer, head);
  }

  /** Mark the selected head in the copying map, and the pair's other head if a pair is selected. */
  function markHead() {
    const { layer, head } = selectedHead();
    map.grid.select(layer, head, pairedHead());
  }

  function inspectHead(cell: HTMLElement | null, layer: number | null, head: number | null) {
    if (!cell || layer === null || head === null) {
      tooltip.hide();
      return;
    }
    const ready = copying !== null;
    tooltip.show(cell, {
      title: `layer ${layer} head ${head}`,
      rows: [
        ["copying score", ready ? formatScore(headValue(copying, layer, head)) : "…"],
        ["positive-real mass", ready ? percent(headValue(positive, layer, head)) : "…"],
      ],
      note: "click to show its eigenvalues and token maps",
    });
  }

  function drawData() {
    map.grid.setShape(nLayers(), nHeads());
    const wc = model.get("copying");
    const wp = model.get("positive_mass");
    const we = model.get("eigenvalues");
    copying = wc ? decode(wc) : null;
    positive = wp ? decode(wp) : null;
    eigen = we ? decode(we) : null;
    map.paint(copying, look.scale);
    root.dataset.spectra = eigen ? "ready" : "pending";
    const circuit = `circuit ${CIRCUIT_NAME[model.get("circuit")] ?? model.get("circuit")}`;
    frame.setMeta([model.get("model_name"), `${nLayers()} layers × ${nHeads()} heads`, `d_head ${model.get("d_head")}`, circuit]);
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
    look.read();
    spectrum.setPalette(look.palette);
    tokenMaps.setPalette(look.palette);
    map.paint(copying, look.scale);
  }

  watch(model, ["copying", "positive_mass", "eigenvalues", "n_layers", "n_heads", "circuit"], drawData, signal);
  // Python sets `defaults` in the constructor, before any view: null only on a malformed page.
  const setDefaults = () => {
    const d = model.get("defaults");
    if (d) tokenMaps.setDefaults(d);
  };
  watch(model, ["defaults"], setDefaults, signal);
  watch(model, ["k"], () => tokenMaps.setK(model.get("k")), signal);
  watch(model, ["_answers"], loadAnswers, signal);
  watch(model, ["_static"], () => tokenMaps.setStatic(model.get("_static")), signal);

  tokenMaps.setK(model.get("k"));
  setDefaults();
  tokenMaps.setStatic(model.get("_static"));
  loadAnswers();
  startDrawing(root, signal, { recolour, draw: drawData, ready: showHead });
}

export default { render: withSignal(render) };
