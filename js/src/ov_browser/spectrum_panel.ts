/**
 * OVBrowser's spectrum panel: the selected head's eigenvalues in the complex plane (linear or
 * log radius) and three numbers under it. `.cw-ov-spectrum[data-layer][data-head]` names the
 * head drawn, with `data-copying` and `data-positive-mass` once its spectrum is there.
 */
import type { Palette } from "../kit/color_scale";
import type { NDArray } from "../kit/decode";
import { createPanel } from "../kit/panel";
import { createToggleGroup } from "../kit/toggle_group";
import type { Tooltip } from "../kit/tooltip";
import { headValue } from "../kit/decode";
import type { RadialKind } from "./spectrum_geometry";
import { createSpectrumPlot } from "./spectrum_plot";
import { headNumbers, headPairs, type HeadNumber } from "./state";

const CAPTION =
  "The eigenvalues of the selected head's OV circuit: what it does to the direction of the token it reads. " +
  "A point on the right (positive real part) means \"copy what I attend to\", on the left \"suppress it\"; " +
  "the distance from the centre is how strongly. Try the log scale when a few large eigenvalues hide the rest.";

export interface SpectrumData {
  copying: NDArray | null;
  positive: NDArray | null;
  eigen: NDArray | null;
}

export interface SpectrumPanel {
  show(layer: number, head: number, data: SpectrumData): void;
  setPalette(palette: Palette): void;
}

export function createSpectrumPanel(parent: HTMLElement, tooltip: Tooltip): SpectrumPanel {
  const panel = createPanel(parent, { className: "cw-ov-spectrum", title: "Eigenvalues", caption: CAPTION });
  const setKind = (k: RadialKind) => {
    kinds.show(k);
    plot.setKind(k);
  };
  const kinds = createToggleGroup<RadialKind>(panel.header, {
    label: "Distance from the centre",
    options: [
      { value: "linear", text: "linear |λ|", help: "Distance from the centre proportional to |λ|" },
      { value: "log", text: "log |λ|", help: "Distance from the centre proportional to log |λ| (four powers of ten)" },
    ],
    onPick: setKind,
  });
  const plot = createSpectrumPlot(panel.body, tooltip);
  const numbers = document.createElement("div");
  numbers.className = "cw-ov-numbers";
  panel.body.append(numbers);
  setKind("linear");

  return {
    show(layer, head, { copying, positive, eigen }) {
      const pairs = headPairs(eigen, layer, head);
      panel.title.textContent = `Eigenvalues · layer ${layer} head ${head}`;
      plot.setData(pairs, `layer ${layer} head ${head}`);
      numbers.replaceChildren(...headNumbers(copying, positive, pairs, layer, head).map(numberBox));
      Object.assign(panel.element.dataset, {
        layer: String(layer),
        head: String(head),
        copying: pairs ? String(headValue(copying, layer, head)) : "",
        positiveMass: pairs ? String(headValue(positive, layer, head)) : "",
      });
    },
    setPalette: (palette) => plot.setPalette(palette),
  };
}

/** One number under the spectrum: the value large (it is read from the back of a room), its
 * name under it, what it means on hover. */
function numberBox({ label, value, help }: HeadNumber): HTMLElement {
  const box = document.createElement("div");
  box.className = "cw-ov-number";
  box.title = help;
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
