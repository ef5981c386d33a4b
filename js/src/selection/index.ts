/**
 * The shared selection's own (tiny) view: one line naming what is selected. A Selection is
 * normally not displayed at all — views reference it through their `selection` trait (see
 * kit/selection.ts) — but displaying it is handy when wiring views together.
 */
import type { RenderProps } from "@anywidget/types";
import { SELECTION_FIELDS, type SelectionState } from "../kit/selection";
import { withSignal } from "../kit/render";

function render({ model, el, signal }: RenderProps<SelectionState>) {
  const line = document.createElement("code");
  line.className = "cw-selection-summary";
  const draw = () => {
    line.textContent = SELECTION_FIELDS.map((name) => `${name}=${model.get(name) ?? "—"}`).join("  ");
  };
  for (const name of SELECTION_FIELDS) model.on(`change:${name}`, draw);
  signal.addEventListener("abort", () => {
    for (const name of SELECTION_FIELDS) model.off(`change:${name}`, draw);
  });
  draw();
  el.replaceChildren(line);
}

export default { render: withSignal(render) };
