// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { createAblationPanel } from "../src/kit/ablation_panel";
import { ablationKey, headPairs, isToggleKey, probChange, toggleHead } from "../src/kit/ablation_state";
import { MockModel, settle, wire } from "./mock_model";

describe("the ablated set (kit/ablation_state.ts)", () => {
  it("reads the synced trait as pairs and toggles a head in or out", () => {
    expect(headPairs([[1, 3], [0, "x"], "L1H3", [2]])).toEqual([[1, 3]]);
    expect(headPairs(null)).toEqual([]);
    expect(toggleHead([[1, 3]], 0, 1)).toEqual([[1, 3], [0, 1]]);
    expect(toggleHead([[1, 3], [0, 1]], 1, 3)).toEqual([[0, 1]]);
  });

  it("keys a request by everything its answer depends on", () => {
    const k = ablationKey(2, [[1, 3]], "zero", 7, null);
    expect(k).not.toBe(ablationKey(3, [[1, 3]], "zero", 7, null));
    expect(k).not.toBe(ablationKey(2, [[1, 3]], "mean", 7, null));
    expect(k).not.toBe(ablationKey(2, [[1, 3]], "zero", 6, null));
    expect(k).not.toBe(ablationKey(2, [[1, 3]], "zero", 7, 5));
    expect(k).not.toBe(ablationKey(2, [[1, 3], [0, 1]], "zero", 7, null));
  });

  it("toggles on A without modifiers, never while typing", () => {
    const key = (k: string, mods = {}) => ({ key: k, ctrlKey: false, metaKey: false, altKey: false, ...mods });
    expect(isToggleKey(key("a"), "DIV")).toBe(true);
    expect(isToggleKey(key("A"), "BUTTON")).toBe(true);
    expect(isToggleKey(key("a"), "TEXTAREA")).toBe(false);
    expect(isToggleKey(key("a", { ctrlKey: true }), "DIV")).toBe(false);
    expect(isToggleKey(key("b"), "DIV")).toBe(false);
  });

  it("writes a probability change with its sign", () => {
    const f = (p: number) => p.toFixed(2);
    expect(probChange(0.4, 0.1, f)).toBe("0.40 → 0.10 (−75%)");
    expect(probChange(0.1, 0.2, f)).toBe("0.10 → 0.20 (+100%)");
  });
});

describe("the ablation panel against a mock kernel", () => {
  function answer(payload: Record<string, unknown>) {
    const heads = payload.heads as number[][];
    const after = 0.5 / (1 + heads.length);
    return {
      run: payload.run, heads, mode: payload.mode, position: payload.position, target: 7, target_str: " d",
      before: { prob: 0.5, logit: 3, rank: 1 }, after: { prob: after, logit: 1, rank: 2 },
      top_ids_before: wire("int32", [2], [7, 8]), top_probs_before: wire("float32", [2], [0.5, 0.2]),
      top_ids_after: wire("int32", [2], [8, 7]), top_probs_after: wire("float32", [2], [0.3, after]),
      vocab: { "7": " d", "8": " <b>" },
    };
  }

  async function setUp(initial: Record<string, unknown> = {}) {
    const asked: Record<string, unknown>[] = [];
    const model = new MockModel(
      { ablated: [], ablation_mode: "zero", run_id: 1, _static: false, ...initial },
      { ablate: (p) => (asked.push(p), answer(p)) },
    );
    const root = document.createElement("div");
    document.body.append(root);
    const controller = new AbortController();
    const panel = createAblationPanel(root, {
      model: model as any, signal: controller.signal, root,
      selectedHead: () => ({ layer: 1, head: 3 }),
      position: () => 9,
      target: () => null,
      tokens: () => Array.from({ length: 12 }, (_, i) => ` t${i}`),
    });
    panel.refresh();
    await settle();
    return { model, panel, root, asked, controller };
  }

  it("toggles the selected head with A, asks the kernel and draws before | after", async () => {
    const { model, panel, root, asked } = await setUp();
    expect(panel.element.dataset.state).toBe("idle");
    expect(asked).toHaveLength(0);
    root.dispatchEvent(new KeyboardEvent("keydown", { key: "a", bubbles: true }));
    await settle();
    expect(model.get("ablated")).toEqual([[1, 3]]);
    expect(model.saved.length).toBeGreaterThan(0);
    expect(asked).toEqual([{ run: 1, heads: [[1, 3]], mode: "zero", position: 9, target: null }]);
    const el = panel.element;
    expect(el.dataset.state).toBe("ready");
    expect(el.dataset.probAfter).toBe("0.25");
    expect(el.dataset.rankAfter).toBe("2");
    expect(el.dataset.heads).toBe("L1H3");
    expect(el.dataset.latencyMs).toBeDefined();
    const sides = el.querySelectorAll(".cw-ablation-side");
    expect(sides).toHaveLength(2);
    expect(sides[1]!.textContent).toContain("L1H3 zeroed");
    expect(sides[1]!.querySelector("li")!.textContent).toContain("<b>"); // token text as text
    expect(el.querySelector(".cw-ablation-toggle")!.textContent).toBe("Restore L1H3");
    panel.refresh(); // nothing changed: no second request
    await settle();
    expect(asked).toHaveLength(1);
  });

  it("asks again when the mode changes, and goes idle when cleared", async () => {
    const { model, panel, asked } = await setUp({ ablated: [[0, 1]] });
    expect(asked).toHaveLength(1);
    model.set("ablation_mode", "mean");
    await settle();
    expect(asked[1]!.mode).toBe("mean");
    expect(panel.element.dataset.mode).toBe("mean");
    (panel.element.querySelector(".cw-ablation-chip") as HTMLButtonElement).click();
    await settle();
    expect(model.get("ablated")).toEqual([]);
    expect(panel.element.dataset.state).toBe("idle");
  });

  it("shows the kernel's refusal, and needs a kernel in a static export", async () => {
    const { model, panel } = await setUp({ ablated: [[1, 3]] });
    model.handlers.ablate = () => {
      throw new Error("ablated[0]: head 3 is out of range");
    };
    model.set("ablation_mode", "mean");
    await settle();
    expect(panel.element.dataset.state).toBe("error");
    expect(panel.element.textContent).toContain("head 3 is out of range");
    model.set("_static", true);
    await settle();
    expect(panel.element.dataset.state).toBe("static");
    expect((panel.element.querySelector(".cw-ablation-toggle") as HTMLButtonElement).disabled).toBe(true);
  });
});

describe("InductionScores' ablated scores (induction_scores/state.ts)", () => {
  it("decodes the scores of the run drawn, and drops another run's", async () => {
    const { readAblated, ablatedNote } = await import("../src/induction_scores/state");
    const scores = {
      induction: wire("float32", [2, 2], [0, 0.1, 0.2, 0.3]),
      previous_token: wire("float32", [2, 2], [1, 1, 1, 1]),
      duplicate_token: wire("float32", [2, 2], [0, 0, 0, 0]),
    };
    const wireAblated = { layer: 0, head: 1, mode: "zero" as const, run: 4, scores };
    expect(readAblated(wireAblated, 5)).toBeNull();
    expect(readAblated(null, 4)).toBeNull();
    const a = readAblated(wireAblated, 4)!;
    expect(Array.from(a.scores.get("induction")!.data as Float32Array)).toEqual([0, 0.1, 0.2, 0.3].map(Math.fround));
    expect(ablatedNote(a)).toContain("L0H1 switched off (its output zeroed)");
  });
});
