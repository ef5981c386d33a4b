/**
 * The box where a user types the token a view follows (LogitLens's target, PathExplorer's
 * expanded logit): a text box named "Target token", a submit button (Enter submits too) and
 * the kernel's refusal below it (`role="alert"`, hidden while empty). Keys typed in the box
 * reach neither the view nor the notebook. A submission calls `submit(text)` unless the view
 * is a static export; a rejected promise shows its failure in the message (not an abort or a
 * shut-down kernel: kit/channel.ts `isQuiet`).
 *
 *     const box = createTargetBox({ placeholder: "target: the next token", button: ["Expand", "Expand this token's logit (Enter)"],
 *       isStatic, submit: (text) => invoke(model, "target", { text }, { signal }) });
 *     controls.append(box.form);
 *     body.append(box.message);
 *     box.showError(model.get("target_error"));
 */
import "./target_box.css";
import { createButton } from "./button";
import { failureText, isQuiet } from "./channel";
import { createTokenInput } from "./control";

export interface TargetBoxOptions {
  placeholder: string;
  /** The submit button's text and title. */
  button: [text: string, title: string];
  /** Whether the view is a static export (nothing to submit to). */
  isStatic(): boolean;
  /** Ask the kernel to follow `text` ("": go back to the default). */
  submit(text: string): Promise<unknown>;
}

export interface TargetBox {
  readonly form: HTMLFormElement;
  readonly input: HTMLInputElement;
  readonly button: HTMLButtonElement;
  /** The refusal's line; the caller places it. */
  readonly message: HTMLElement;
  /** Show a refusal ("": none). */
  showError(text: string): void;
  /** Submit `text` as if typed (e.g. a reset button's ""). */
  send(text: string): void;
}

export function createTargetBox(options: TargetBoxOptions): TargetBox {
  const form = document.createElement("form");
  form.className = "cw-target-box";
  const input = createTokenInput("cw-target-box-input", options.placeholder, "Target token");
  const button = createButton(...options.button);
  button.type = "submit";
  form.append(input, button);
  const message = document.createElement("div");
  message.className = "cw-target-box-error";
  message.setAttribute("role", "alert");
  message.hidden = true;

  const showError = (text: string) => {
    message.textContent = text;
    message.hidden = text === "";
  };
  const send = (text: string) => {
    if (options.isStatic()) return;
    options.submit(text).catch((e) => {
      if (!isQuiet(e)) showError(failureText(e));
    });
  };
  input.addEventListener("keydown", (e) => e.stopPropagation()); // Enter submits; no notebook shortcut
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    send(input.value);
  });
  return { form, input, button, message, showError, send };
}
