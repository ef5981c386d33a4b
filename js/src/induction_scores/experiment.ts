/**
 * InductionScores' experiment controls: random tokens (half, seed, batch, "Run", "New
 * tokens") or the user's own text. What the user types goes to Python as typed (through
 * `onRun`, the view's "run" request), so a bad value is named in the view's error and stays in
 * the box; the boxes show what Python holds again after every change of its traits.
 */
import { createButton } from "../kit/button";
import { createControl } from "../kit/control";
import { createTextInput } from "../kit/text_input";
import { createToggleGroup } from "../kit/toggle_group";

export type Mode = "random" | "text";

/** What Python holds about the experiment (the view's traits). */
export interface Settings {
  mode: Mode;
  half: number;
  seed: number;
  batch: number;
  max_half: number;
  max_batch: number;
  text: string;
}

export interface ExperimentOptions {
  /** Ask Python to run `{mode: "random", half, seed, batch}` or `{mode: "text", text}`. */
  onRun(content: Record<string, unknown>): void;
  /** The mode Python holds now. */
  mode(): Mode;
  /** The mode shown changed (the view marks its root). */
  onShowMode(mode: Mode): void;
}

export interface Experiment {
  /** The controls, in order, for the view to place. */
  readonly elements: HTMLElement[];
  /** Show what Python holds (after a run, or any change of its traits). */
  sync(settings: Settings): void;
  /** A static export: nothing can run, and a note says so. */
  setStatic(frozen: boolean, note: string): void;
}

export function createExperiment(options: ExperimentOptions): Experiment {
  const controls = document.createElement("div");
  controls.className = "cw-is-controls";
  const modes = createToggleGroup<Mode>(controls, {
    label: "What to score the heads on",
    options: [
      { value: "random", text: "Random tokens", help: "Score heads on random tokens repeated twice" },
      { value: "text", text: "Your text", help: "Score heads on your own text, where tokens repeat" },
    ],
    onPick: (m) => pickMode(m),
  });
  const form = document.createElement("form");
  form.className = "cw-is-form";
  const halfInput = numberField(form, "Tokens per half", "half: random tokens before the repeat; each sequence is BOS + 2 × half tokens");
  const seedInput = numberField(form, "Seed", "seed of the random tokens: the same seed draws the same tokens");
  const batchInput = numberField(form, "Batch", "how many random sequences the scores average over");
  const runButton = createButton("Run", "Run the experiment with these settings (Enter)");
  runButton.type = "submit";
  const newSeed = createButton("New tokens", "Draw new random tokens (seed + 1) and run");
  form.append(runButton, newSeed);
  controls.append(form);
  const textBox = document.createElement("div");
  textBox.className = "cw-is-text";
  const input = createTextInput(textBox, { label: "Text to score", onSubmit: (value) => options.onRun({ mode: "text", text: value }) });
  const readOnlyNote = document.createElement("div");
  readOnlyNote.className = "cw-is-note";
  readOnlyNote.hidden = true;

  function submitSettings(seedOverride?: number) {
    options.onRun({ mode: "random", half: halfInput.value, seed: seedOverride ?? seedInput.value, batch: batchInput.value });
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitSettings();
  });
  form.addEventListener("keydown", (e) => e.stopPropagation()); // typing digits is not a notebook shortcut
  newSeed.addEventListener("click", () => {
    const next = (Number(seedInput.value) || 0) + 1;
    seedInput.value = String(next);
    submitSettings(next);
  });

  function showMode(mode: Mode) {
    modes.show(mode);
    form.hidden = mode !== "random";
    textBox.hidden = mode !== "text";
    options.onShowMode(mode);
  }

  function pickMode(mode: Mode) {
    if (mode === "random") {
      if (options.mode() !== "random") submitSettings();
      else showMode("random");
      return;
    }
    showMode("text");
    const text = input.textarea.value;
    if (text.trim() !== "" && options.mode() !== "text") options.onRun({ mode: "text", text });
    else input.textarea.focus();
  }

  return {
    elements: [controls, textBox, readOnlyNote],
    sync(s) {
      // What Python holds; inputs keep what the user typed until a run succeeds.
      halfInput.value = String(s.half);
      halfInput.placeholder = `1–${s.max_half}`;
      seedInput.value = String(s.seed);
      batchInput.value = String(s.batch);
      batchInput.placeholder = `1–${s.max_batch}`;
      input.setValue(s.text);
      showMode(s.mode);
    },
    setStatic(frozen, note) {
      for (const el of [halfInput, seedInput, batchInput]) el.readOnly = frozen;
      for (const b of [runButton, newSeed, modes.buttons.random, modes.buttons.text]) b.disabled = frozen;
      input.setReadOnly(frozen ? note : null);
      readOnlyNote.hidden = !frozen;
      readOnlyNote.textContent = note;
    },
  };
}

function numberField(parent: HTMLElement, label: string, title: string): HTMLInputElement {
  const wrap = document.createElement("label");
  wrap.className = "cw-is-field";
  wrap.title = title;
  const text = document.createElement("span");
  text.textContent = label;
  // Text, not type="number": what the user typed reaches Python as typed (a bad value is
  // named in the error) and stays in the box.
  const input = createControl("input", "cw-is-number");
  input.type = "text";
  input.inputMode = "numeric";
  input.autocomplete = "off";
  input.setAttribute("aria-label", label);
  input.setAttribute("data-lm-suppress-shortcuts", "true");
  wrap.append(text, input);
  parent.append(wrap);
  return input;
}
