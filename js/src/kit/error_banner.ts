/**
 * The inline error every view shows for its `error` trait: a banner above the view's content,
 * so the last good drawing stays visible underneath while the user fixes the input.
 *
 *     const banner = createErrorBanner(parent);
 *     banner.set(model.get("error"));   // "" hides it
 */
import "./error_banner.css";

export interface ErrorBanner {
  readonly element: HTMLElement;
  /** Show `message` (plain text), or hide the banner for an empty message. */
  set(message: string): void;
}

export function createErrorBanner(parent: HTMLElement): ErrorBanner {
  const element = document.createElement("div");
  element.className = "cw-error";
  element.setAttribute("role", "alert");
  element.hidden = true;
  const icon = document.createElement("span");
  icon.className = "cw-error-icon";
  icon.setAttribute("aria-hidden", "true");
  icon.textContent = "!";
  const text = document.createElement("span");
  text.className = "cw-error-text";
  element.append(icon, text);
  parent.append(element);
  return {
    element,
    set(message) {
      text.textContent = message;
      element.hidden = message === "";
    },
  };
}
