/**
 * The text box a view offers for changing its input text: Enter runs, Shift+Enter adds a
 * line, and the box grows with its content (up to a few lines, then scrolls).
 *
 * In a static export there is no kernel to run the model, so the box turns read-only and says
 * why ({@link TextInput.setReadOnly}).
 *
 *     const input = createTextInput(parent, { label: "Text", onSubmit: (t) => { ... } });
 *     input.setValue(model.get("text"));
 */
import "./control.css";
import "./text_input.css";

export interface TextInputOptions {
  label: string;
  onSubmit: (value: string) => void;
}

export interface TextInput {
  readonly element: HTMLElement;
  readonly textarea: HTMLTextAreaElement;
  setValue(value: string): void;
  /** `note` makes the box read-only and shows why; `null` makes it editable again. */
  setReadOnly(note: string | null): void;
}

const MAX_ROWS = 6;

export function createTextInput(parent: HTMLElement, options: TextInputOptions): TextInput {
  const element = document.createElement("div");
  element.className = "cw-input";

  const textarea = document.createElement("textarea");
  textarea.className = "cw-control cw-input-text";
  textarea.rows = 1;
  textarea.spellcheck = false;
  textarea.setAttribute("aria-label", options.label);
  // Keep JupyterLab's notebook shortcuts (a, b, d d, Shift+Enter ...) out of the text box.
  textarea.setAttribute("data-lm-suppress-shortcuts", "true");

  const button = document.createElement("button");
  button.type = "button";
  button.className = "cw-input-run";
  button.textContent = "Run";
  button.title = "Run the model on this text (Enter; Shift+Enter for a new line)";

  const note = document.createElement("div");
  note.className = "cw-input-note";
  note.hidden = true;

  element.append(textarea, button, note);
  parent.append(element);

  const fit = () => {
    const lines = textarea.value.split("\n").length;
    textarea.rows = Math.min(MAX_ROWS, Math.max(1, lines));
  };
  const submit = () => {
    if (!textarea.readOnly) options.onSubmit(textarea.value);
  };
  textarea.addEventListener("input", fit);
  textarea.addEventListener("keydown", (e) => {
    e.stopPropagation();
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  button.addEventListener("click", submit);

  return {
    element,
    textarea,
    setValue(value) {
      if (textarea.value !== value) textarea.value = value;
      fit();
    },
    setReadOnly(message) {
      textarea.readOnly = message !== null;
      button.hidden = message !== null;
      note.hidden = message === null;
      note.textContent = message ?? "";
    },
  };
}
