/**
 * PatchingExplorer's prompt panel: the clean and the corrupted prompt as token strips, the
 * positions where they differ marked (`data-differs`), and the metric with its raw value on
 * each run.
 */
import { createPanel, type Panel } from "../kit/panel";
import { createTokenStrip, type TokenStrip } from "../kit/token_strip";
import type { State } from "./shared";
import { formatValue, metricText } from "./state";
import type { AnyModel } from "@anywidget/types";

export interface PromptsPanel {
  readonly panel: Panel;
  readonly clean: TokenStrip;
  readonly corrupted: TokenStrip;
  draw(): void;
}

function row(parent: HTMLElement, name: string): { strip: TokenStrip; value: HTMLElement } {
  const line = document.createElement("div");
  line.className = "cw-pe-prompt";
  line.dataset.prompt = name;
  const head = document.createElement("span");
  head.className = "cw-pe-prompt-name";
  head.textContent = name;
  const value = document.createElement("span");
  value.className = "cw-pe-prompt-value";
  line.append(head);
  parent.append(line);
  const strip = createTokenStrip(line, { label: `${name} prompt tokens` });
  line.append(value);
  return { strip, value };
}

export function createPromptsPanel(parent: HTMLElement, model: AnyModel<State>): PromptsPanel {
  const panel = createPanel(parent, { className: "cw-pe-prompts", title: "Prompt pair" });
  const metric = document.createElement("p");
  metric.className = "cw-pe-metric";
  const clean = row(panel.body, "clean");
  const corrupted = row(panel.body, "corrupted");
  panel.body.append(metric);

  function draw() {
    const differing = new Set(model.get("differing") ?? []);
    const mark = (i: number): Record<string, string> => (differing.has(i) ? { "data-differs": "true" } : {});
    clean.strip.setTokens(model.get("clean_tokens") ?? [], mark);
    corrupted.strip.setTokens(model.get("corrupted_tokens") ?? [], mark);
    clean.value.textContent = `metric ${formatValue(model.get("clean_value"))} (= 1)`;
    corrupted.value.textContent = `metric ${formatValue(model.get("corrupted_value"))} (= 0)`;
    const pos = model.get("read_position");
    metric.textContent =
      `Metric: ${metricText(model.get("metric"), model.get("target_str"), model.get("distractor_str"), pos)}, ` +
      `normalized so the clean run is 1 and the corrupted run 0. ` +
      (differing.size ? `The prompts differ at position ${[...differing].join(", ")}.` : "The prompts have the same tokens.");
  }

  return { panel, clean: clean.strip, corrupted: corrupted.strip, draw };
}
