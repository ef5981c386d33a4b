// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { invoke, RequestError } from "../src/kit/channel";
import { connectKernel, DISCONNECTED_CLASS, GONE_NOTE, kernelState, STATIC_NOTE } from "../src/kit/kernel";
import { createView } from "../src/kit/view";
import { MockModel } from "./mock_model";

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

function host(disconnected: boolean) {
  const outer = document.createElement("div");
  if (disconnected) outer.classList.add(DISCONNECTED_CLASS);
  const el = document.createElement("div");
  outer.append(el);
  document.body.append(outer);
  return { outer, el };
}

describe("connectKernel (a view whose kernel is gone stops sending and says so)", () => {
  it("keeps a live view as it is", () => {
    const model = new MockModel({ _static: false });
    const kernel = connectKernel(model as any, host(false).el, new AbortController().signal);
    expect(kernel.state).toBe("live");
    expect(kernel.note).toBe("");
    model.send({ kind: "x" });
    model.save_changes();
    expect(model.sent).toHaveLength(1);
    expect(model.saved).toHaveLength(1);
  });

  it("calls a page that never had a kernel static: `_static` set here, nothing sent or saved", () => {
    const model = new MockModel({ _static: false });
    const kernel = connectKernel(model as any, host(true).el, new AbortController().signal);
    expect(kernel.state).toBe("static");
    expect(kernel.note).toBe(STATIC_NOTE);
    expect(model.get("_static")).toBe(true);
    expect(() => model.send({ kind: "x" })).toThrow(/Static page/);
    model.save_changes(); // a click's save: silently kept in this page
    expect(model.sent).toHaveLength(0);
    expect(model.saved).toHaveLength(0);
  });

  it("leaves a save_html page's own words: no note when Python set `_static`", () => {
    const model = new MockModel({ _static: true });
    const kernel = connectKernel(model as any, host(true).el, new AbortController().signal);
    expect(kernel.state).toBe("static");
    expect(kernel.note).toBe("");
  });

  it("turns gone when the comm dies, rejecting a request still waiting", async () => {
    const model = new MockModel({ _static: false }, { slow: () => ({}) });
    model.auto = false;
    const { outer, el } = host(false);
    const changes: string[] = [];
    const kernel = connectKernel(model as any, el, new AbortController().signal, () => changes.push(kernel.state));
    const waiting = invoke(model as any, "slow", {}, { timeout: 0 }).catch((e) => e);
    outer.classList.add(DISCONNECTED_CLASS);
    model.emit("comm_live_update");
    await tick();
    expect(kernel.state).toBe("gone");
    expect(kernel.note).toBe(GONE_NOTE);
    expect(changes).toEqual(["gone"]);
    expect(await waiting).toMatchObject({ kind: "unsent" });
    expect(model.count("msg:custom")).toBe(0);
    const next = invoke(model as any, "slow", {});
    await expect(next).rejects.toBeInstanceOf(RequestError);
    expect(model.held).toHaveLength(1); // only the first was ever sent
  });

  it("turns gone when a send throws (a kernel that died without a restart)", () => {
    const model = new MockModel({ _static: false });
    model.send = () => {
      throw new Error("Cannot send on a closed comm");
    };
    const kernel = connectKernel(model as any, host(false).el, new AbortController().signal);
    expect(() => model.send({})).toThrow(/No kernel/);
    expect(kernel.state).toBe("gone");
    expect(kernelState(model)).toBe("gone");
  });
});

describe("createView without a kernel", () => {
  it("shows the note, marks the root and makes the text box read-only", async () => {
    const model = new MockModel({ _static: false, text: "a b", error: "" });
    const { outer, el } = host(false);
    const view = createView(model as any, el, new AbortController().signal, { title: "T", className: "cw-t", textInput: { label: "Text" } });
    const note = el.querySelector(".cw-kernel-note") as HTMLElement;
    expect(note.hidden).toBe(true);
    expect(view.root.dataset.kernel).toBe("live");
    outer.classList.add(DISCONNECTED_CLASS);
    model.emit("comm_live_update");
    await tick();
    expect(view.root.dataset.kernel).toBe("gone");
    expect(note.hidden).toBe(false);
    expect(note.textContent).toBe(GONE_NOTE);
    expect((el.querySelector("textarea") as HTMLTextAreaElement).readOnly).toBe(true);
    expect(el.querySelector(".cw-input-note")?.textContent).toMatch(/No kernel/);
  });
});

describe("a JupyterLab kernel restart (status, no comm_live_update)", () => {
  it("turns gone when the widget manager's kernel reports restarting", () => {
    const slots: ((sender: unknown, status: string) => void)[] = [];
    const model = new MockModel({ _static: false });
    (model as any).widget_manager = {
      kernel: { status: "idle", statusChanged: { connect: (s: any) => slots.push(s), disconnect: (s: any) => slots.splice(slots.indexOf(s), 1) } },
    };
    const controller = new AbortController();
    const kernel = connectKernel(model as any, host(false).el, controller.signal);
    for (const slot of slots) slot(null, "busy");
    expect(kernel.state).toBe("live");
    for (const slot of [...slots]) slot(null, "restarting");
    expect(kernel.state).toBe("gone");
    controller.abort();
    expect(slots).toHaveLength(0); // the view took its slot with it
  });
});

describe("createView on a page that never had a kernel", () => {
  it("starts static, with the note, without calling back before it returns", () => {
    const model = new MockModel({ _static: false, text: "a b", error: "" });
    const view = createView(model as any, host(true).el, new AbortController().signal, { title: "T", className: "cw-t", textInput: { label: "Text" } });
    expect(view.root.dataset.kernel).toBe("static");
    expect((view.root.querySelector(".cw-kernel-note") as HTMLElement).textContent).toBe(STATIC_NOTE);
  });
});
