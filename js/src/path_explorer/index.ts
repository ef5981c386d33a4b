/**
 * PathExplorer: the logit at one position as a waterfall of paths through the heads, with the
 * attention patterns frozen (or, "weights only", uniform).
 *
 * State (Python: circuitwidgets/widgets/path_explorer.py):
 *   text, tokens            the text and its tokens' display strings (the token strip)
 *   target, target_error    the token whose logit is expanded (null: the next token); a typed
 *                           one is checked in the kernel ("target" request)
 *   mode                    "frozen" | "weights" (the toggle)
 *   _expansions             what a static export carries (the position shown, both modes)
 *   run_id, busy, error     the text's run, progress line, inline error
 *   selection               the shared Selection: position (the strip), layer/head (a head's
 *                           bar), pair (a pair's bar: both heads, for every linked view)
 *
 * The expansion of a position is asked of the kernel (`invoke("expand", {run, position, mode,
 * target})`) whenever the position, mode, target or text changes; a refusal shows in the
 * banner and the last drawing stays. Parts: state.ts (pure), waterfall.ts (the bars).
 *
 * For tests and tools: the root's `data-position`, `data-mode` and `data-drawn-at` say what is
 * drawn; each bar is `.cw-px-bar[data-kind][data-value]` (`data-layer`, `data-head` on the
 * bars that select a head, `data-pair` on a pair's).
 */
import type { RenderProps } from "@anywidget/types";
import "./path_explorer.css";
import { failureText, invoke, isQuiet } from "../kit/channel";
import { withSignal } from "../kit/render";
import { connectSelection, modelIdOf, pairList } from "../kit/selection";
import { createTargetBox } from "../kit/target_box";
import { createToggleGroup } from "../kit/toggle_group";
import { createTokenStrip } from "../kit/token_strip";
import { createView } from "../kit/view";
import { watch } from "../kit/watch";
import type { Expansion, Mode, State } from "./shared";
import { MODES, positionProblem } from "./state";
import { createWaterfall } from "./waterfall";

const STATIC_NOTE = "Static export: other positions and targets need a running Python kernel.";

function render({ model, el, signal }: RenderProps<State>) {
  const { frame, root, tooltip, banner, showError } = createView(model, el, signal, {
    title: "Path expansion",
    className: "cw-path-explorer",
    textInput: { label: "Text" },
    progress: "cw-px-progress",
  });
  const isStatic = () => model.get("_static");
  let drawn: Expansion | null = null;
  let asked = 0;

  const selection = connectSelection(model, {
    signal,
    canSave: () => !isStatic(),
    onChange(changed) {
      if (changed.has("position")) ask();
      if (changed.has("layer") || changed.has("head") || changed.has("pair")) markBars();
    },
  });

  const controls = document.createElement("div");
  controls.className = "cw-px-controls";
  const toggle = createToggleGroup(controls, {
    label: "Reading",
    options: MODES,
    onPick: (mode: Mode) => {
      model.set("mode", mode);
      if (!isStatic()) model.save_changes();
    },
  });
  const box = createTargetBox({
    placeholder: "target: the next token",
    button: ["Expand", "Expand this token's logit (Enter)"],
    isStatic,
    submit: (text) => invoke(model, "target", { text }, { signal }),
  });
  const { input, button: follow, message: targetError } = box;
  targetError.classList.add("cw-px-target-error"); // the view's name for tests and tools
  controls.append(box.form);
  const strip = createTokenStrip(frame.body, {
    label: "tokens: click one to expand the logit after it",
    onSelect: (i) => selection.set({ position: i }),
  });
  const reading = document.createElement("p");
  reading.className = "cw-px-reading";
  reading.setAttribute("aria-live", "polite");
  frame.body.append(controls, strip.element, targetError, reading);
  const waterfall = createWaterfall(frame.body, tooltip, (changes) => selection.set(changes));
  function markBars() {
    const pair = selection.pair();
    waterfall.mark(selection.get("layer"), selection.get("head"), pair ? pairList(pair) : null);
  }

  const position = () => {
    const p = selection.get("position");
    return p === null ? model.get("tokens").length - 1 : p;
  };

  function draw(e: Expansion) {
    drawn = e;
    reading.textContent = e.reading;
    waterfall.show(e);
    strip.paint((i) => (i === e.position ? { background: "var(--cw-focus)", color: "var(--cw-bg)" } : null));
    root.dataset.position = String(e.position);
    root.dataset.mode = e.mode;
    root.dataset.drawnAt = String(Date.now()); // wall clock, for benchmarks/bench_path_explorer.py
    root.dataset.ready = "true";
  }

  /** Ask for the expansion on screen now (or take it from a static export). */
  function ask() {
    const p = position();
    const problem = positionProblem(p, model.get("tokens").length);
    if (problem) {
      banner.set(problem);
      return; // the last drawing stays
    }
    showError();
    const mode = model.get("mode");
    if (isStatic()) {
      const e = model.get("_expansions").find((x) => x.position === p && x.mode === mode);
      if (e) draw(e);
      else banner.set(STATIC_NOTE);
      return;
    }
    const mine = ++asked;
    const payload = { run: model.get("run_id"), position: p, mode, target: model.get("target") };
    root.dataset.asked = String(Date.now());
    invoke<Expansion>(model, "expand", payload, { signal }).then(
      (e) => {
        if (mine === asked) draw(e);
      },
      (err) => {
        if (!isQuiet(err) && mine === asked) banner.set(failureText(err));
      },
    );
  }

  function showTokens() {
    strip.setTokens(model.get("tokens"), (i) => ({ "aria-label": `position ${i}` }));
    frame.setMeta([model.get("model_name"), `${model.get("n_layers")} layers × ${model.get("n_heads")} heads`,
      model.get("attn_only") ? "attention only" : "MLPs frozen as terms"]);
    if (drawn) strip.paint((i) => (i === drawn?.position ? { background: "var(--cw-focus)", color: "var(--cw-bg)" } : null));
  }

  watch(model, ["tokens", "run_id"], () => {
    showTokens();
    ask();
  }, signal);
  watch(model, ["mode", "target"], () => {
    toggle.show(model.get("mode"));
    const t = model.get("target");
    if (document.activeElement !== input) input.value = t === null ? "" : String(t);
    ask();
  }, signal);
  watch(model, ["target_error"], () => box.showError(model.get("target_error")), signal);
  watch(model, ["_static"], () => (input.disabled = follow.disabled = isStatic()), signal);

  toggle.show(model.get("mode"));
  input.disabled = follow.disabled = isStatic();
  showTokens();
  if (modelIdOf(model.get("selection")) === null) ask(); // else the selection's first change asks
}

export default { render: withSignal(render) };
