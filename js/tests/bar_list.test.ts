// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { cardOnHover, createBar, createBarList } from "../src/kit/bar_list";
import { RequestError } from "../src/kit/channel";
import { formatSigned } from "../src/kit/format";
import { createTargetBox } from "../src/kit/target_box";
import type { Tooltip } from "../src/kit/tooltip";

const settle = () => new Promise((r) => setTimeout(r, 0));

describe("bar list", () => {
  it("builds a button bar with the view's names, its fill, zero line and value", () => {
    const list = createBarList(document.body, "cw-x-bars");
    const bar = createBar({
      name: "cw-x-bar", kind: "head", label: "L1H3", value: -0.5, valueText: formatSigned(-0.5),
      fill: { left: "25%", width: "25%", tone: "down" }, zero: "50%", button: true, ariaLabel: "layer 1 head 3",
    });
    list.append(bar);
    expect(list.getAttribute("role")).toBe("list");
    expect(bar.tagName).toBe("BUTTON");
    expect((bar as HTMLButtonElement).type).toBe("button");
    expect(bar.className).toBe("cw-bar cw-x-bar cw-x-bar-head");
    expect([bar.dataset.kind, bar.dataset.value, bar.getAttribute("aria-label")]).toEqual(["head", "-0.5", "layer 1 head 3"]);
    expect(bar.querySelector(".cw-x-bar-label")!.textContent).toBe("L1H3");
    const fill = bar.querySelector<HTMLElement>(".cw-bar-fill")!;
    expect([fill.classList.contains("cw-bar-down"), fill.style.left, fill.style.width]).toEqual([true, "25%", "25%"]);
    expect(bar.querySelector<HTMLElement>(".cw-bar-zero")!.style.left).toBe("50%");
    expect(bar.querySelector(".cw-bar-value")!.textContent).toBe("-0.50");
  });
  it("builds a plain row without a zero line, and shows a card on hover and focus", () => {
    const row = createBar({ name: "cw-x-bar", kind: "mlp", label: "L0 MLP", value: 1, valueText: "+1.00", fill: { left: "50%", width: "10%", tone: "up" }, button: false });
    expect([row.tagName, row.querySelector(".cw-bar-zero"), row.hasAttribute("aria-label")]).toEqual(["DIV", null, false]);
    const shown: string[] = [];
    const tooltip = { element: document.createElement("div"), show: (_a: Element, c: { title?: unknown }) => shown.push(String(c.title)), hide: () => shown.push("hidden") } as unknown as Tooltip;
    cardOnHover(row, tooltip, () => ({ title: "L0 MLP", rows: [] }));
    for (const kind of ["pointerenter", "pointerleave", "focus", "blur"]) row.dispatchEvent(new Event(kind));
    expect(shown).toEqual(["L0 MLP", "hidden", "L0 MLP", "hidden"]);
    expect([formatSigned(1.5), formatSigned(0, 1), formatSigned(-0.25, 3)]).toEqual(["+1.50", "+0.0", "-0.250"]);
  });
});

describe("target box", () => {
  const make = (isStatic: boolean, answer: () => Promise<unknown>) => {
    const asked: string[] = [];
    const box = createTargetBox({
      placeholder: "a token", button: ["Follow", "Follow it"], isStatic: () => isStatic,
      submit: (text) => (asked.push(text), answer()),
    });
    document.body.append(box.form, box.message);
    return { box, asked };
  };
  it("submits what is typed, and shows a failure until a refusal is cleared", async () => {
    const { box, asked } = make(false, () => Promise.reject(new Error("'ab' is 2 tokens")));
    expect([box.input.getAttribute("aria-label"), box.input.spellcheck, box.button.type, box.message.hidden]).toEqual(["Target token", false, "submit", true]);
    box.input.value = "ab";
    box.form.dispatchEvent(new Event("submit", { cancelable: true }));
    await settle();
    expect(asked).toEqual(["ab"]);
    expect([box.message.hidden, box.message.textContent, box.message.getAttribute("role")]).toEqual([false, "'ab' is 2 tokens", "alert"]);
    box.showError("");
    expect([box.message.hidden, box.message.textContent]).toEqual([true, ""]);
  });
  it("says nothing of an aborted request, asks nothing in a static export, keeps its keys", async () => {
    const quiet = make(false, () => Promise.reject(new RequestError("aborted", "aborted")));
    quiet.box.send("");
    await settle();
    expect([quiet.asked, quiet.box.message.hidden]).toEqual([[""], true]);
    const frozen = make(true, () => Promise.resolve());
    frozen.box.send("x");
    expect(frozen.asked).toEqual([]);
    let reached = false;
    document.body.addEventListener("keydown", () => (reached = true));
    frozen.box.input.dispatchEvent(new KeyboardEvent("keydown", { key: "a", bubbles: true }));
    expect(reached).toBe(false);
  });
});
