/**
 * The start of every view's `render()`: the frame (title, meta line, toolbar), the text box
 * bound to the `text` trait, the inline error banner for `error`, the progress line for
 * `busy` (with a bar for `busy_fraction` where the view has it), and the hover card — created in that order and kept in step with the model, so a
 * view's own code begins where its content does.
 *
 *     const view = createView(model, el, signal, {
 *       title: "Attention", className: "cw-attention-explorer",
 *       textInput: { label: "Text" },          // omit: no text box (the view edits no text)
 *       progress: "cw-ae-progress",            // omit: no progress line (no `busy` trait)
 *     });
 *     view.body.append(myContent);             // after the text box, banner and progress line
 *
 * What it keeps in step: `text` → the box's value (what the user typed is never overwritten by
 * a value it already has), `_static` → the box turns read-only with a note (a static export has
 * no kernel), `error` → banner and `data-error` on the root, `busy` → progress line and
 * `data-busy` on the root. It also watches the kernel (kit/kernel.ts): when the view has none
 * (restarted, stopped, a page converted without one) it stops sending, says so in a note
 * (`.cw-kernel-note`) and `data-kernel` on the root, and the view turns static.
 */
import type { AnyModel } from "@anywidget/types";
import { createErrorBanner, type ErrorBanner } from "./error_banner";
import { createFrame, type Frame } from "./frame";
import { connectKernel, NO_KERNEL_TEXT_NOTE, type Kernel } from "./kernel";
import "./kernel.css";
import { createProgress, type Progress } from "./progress";
import { createTextInput, type TextInput } from "./text_input";
import { createTooltip, type Tooltip } from "./tooltip";
import { watch } from "./watch";

/** What a static export says under the text box when no kernel can run the model again. */
export const STATIC_TEXT_NOTE = "Static export: changing the text needs a running Python kernel.";

export interface ViewOptions {
  title: string;
  /** The root's class, e.g. `cw-logit-lens`. */
  className: string;
  /** A text box that sets the `text` trait on Enter; `staticNote` replaces the default note. */
  textInput?: { label: string; staticNote?: string };
  /** The class of the progress line that shows the `busy` trait. */
  progress?: string;
}

export interface View {
  readonly frame: Frame;
  readonly root: HTMLElement;
  /** Where the view's own content goes (after the text box, banner and progress line). */
  readonly body: HTMLElement;
  readonly input: TextInput | null;
  readonly banner: ErrorBanner;
  readonly progress: Progress | null;
  readonly tooltip: Tooltip;
  /** Whether a kernel is behind the view (kit/kernel.ts). */
  readonly kernel: Kernel;
  /** Show the model's `error` again (e.g. after the view showed a message of its own). */
  showError(): void;
}

type Model = AnyModel<Record<string, unknown>>;

export function createView(model: Model, el: HTMLElement, signal: AbortSignal, options: ViewOptions): View {
  const frame = createFrame(el, { title: options.title, className: options.className });
  const root = frame.root;
  const kernelNote = document.createElement("div");
  kernelNote.className = "cw-kernel-note";
  kernelNote.setAttribute("role", "status");
  frame.body.append(kernelNote);
  const showKernel = () => {
    root.dataset.kernel = kernel.state;
    kernelNote.textContent = kernel.note;
    kernelNote.hidden = kernel.note === "";
  };
  const kernel = connectKernel(model, el, signal, showKernel);
  showKernel();

  let input: TextInput | null = null;
  if (options.textInput) {
    const note = options.textInput.staticNote ?? STATIC_TEXT_NOTE;
    const box = createTextInput(frame.body, {
      label: options.textInput.label,
      onSubmit(value) {
        model.set("text", value);
        model.save_changes();
      },
    });
    const showText = () => box.setValue(String(model.get("text") ?? ""));
    const showMode = () =>
      box.setReadOnly(model.get("_static") ? (kernel.note ? NO_KERNEL_TEXT_NOTE : note) : null);
    watch(model, ["text"], showText, signal);
    watch(model, ["_static"], showMode, signal);
    showMode();
    showText();
    input = box;
  }

  const banner = createErrorBanner(frame.body);
  const showError = () => {
    const message = String(model.get("error") ?? "");
    banner.set(message);
    root.dataset.error = message ? "true" : "false";
  };
  watch(model, ["error"], showError, signal);
  showError();

  let progress: Progress | null = null;
  if (options.progress) {
    const line = createProgress(frame.body, options.progress);
    const showBusy = () => {
      const busy = String(model.get("busy") ?? "");
      const fraction = model.get("busy_fraction"); // views that know how far they are
      line.show(busy, typeof fraction === "number" ? fraction : null);
      root.dataset.busy = busy ? "true" : "false";
    };
    watch(model, ["busy", "busy_fraction"], showBusy, signal);
    showBusy();
    progress = line;
  }

  return { frame, root, body: frame.body, input, banner, progress, tooltip: createTooltip(signal), kernel, showError };
}
