import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_TIMEOUT_MS, REQUEST, RequestError, invoke, isQuiet } from "../src/kit/channel";
import { LRU } from "../src/kit/lru";
import { MockModel, wire } from "./mock_model";

const stale = () => Object.assign(new Error("about a text that has since been replaced"), { name: "Stale" });

describe("invoke", () => {
  it("sends one named request and resolves with the answer, arrays decoded", async () => {
    const model = new MockModel({}, {
      pattern: (p) => ({ layer: p.layer, pattern: wire("float32", [2], [0.25, 0.75]) }),
    });
    const answer = await invoke<{ layer: number; pattern: { data: Float32Array; shape: number[] } }>(
      model as any, "pattern", { layer: 1 },
    );
    expect(answer.layer).toBe(1);
    expect(Array.from(answer.pattern.data)).toEqual([0.25, 0.75]);
    expect(answer.pattern.shape).toEqual([2]);
    expect(model.sent[0]).toMatchObject({ kind: REQUEST, name: "pattern", payload: { layer: 1 } });
    expect(model.count("msg:custom")).toBe(0); // its listener is gone once answered
  });

  it("gives every request its own id and matches answers by id, in any order", async () => {
    const model = new MockModel({}, { echo: (p) => ({ said: p.text }) });
    model.auto = false;
    const a = invoke<{ said: string }>(model as any, "echo", { text: "a" });
    const b = invoke<{ said: string }>(model as any, "echo", { text: "b" });
    const ids = model.sent.map((m) => m.id);
    expect(new Set(ids).size).toBe(2);
    model.held.reverse();
    model.release();
    expect((await a).said).toBe("a");
    expect((await b).said).toBe("b");
  });

  it("ignores answers to other requests and other custom messages", async () => {
    const model = new MockModel({}, { echo: (p) => ({ said: p.text }) });
    model.auto = false;
    const a = invoke<{ said: string }>(model as any, "echo", { text: "a" });
    model.emit("msg:custom", { kind: "cw-response", id: "someone-else", ok: true, response: { said: "no" } }, []);
    model.emit("msg:custom", { type: "pattern" }, []);
    model.release();
    expect((await a).said).toBe("a");
  });

  it("rejects with the kernel's error text and detail", async () => {
    const refuse = () => {
      throw Object.assign(new Error("'The quick' is not a single token"), { detail: { entry: "The quick" } });
    };
    const model = new MockModel({}, { query: refuse });
    const error = await invoke(model as any, "query", {}).catch((e) => e);
    expect(error).toBeInstanceOf(RequestError);
    expect(error.kind).toBe("refused");
    expect(error.message).toBe("'The quick' is not a single token");
    expect(error.detail).toEqual({ entry: "The quick" });
    expect(isQuiet(error)).toBe(false);
    expect(model.count("msg:custom")).toBe(0);
  });

  it("rejects quietly for an answer about an old input", async () => {
    const model = new MockModel({}, { page: () => { throw stale(); } });
    const error = await invoke(model as any, "page", {}).catch((e) => e);
    expect(error.kind).toBe("stale");
    expect(isQuiet(error)).toBe(true);
  });

  it("aborts: rejects quietly, removes its listener, and a late answer changes nothing", async () => {
    const model = new MockModel({}, { echo: () => ({}) });
    model.auto = false;
    const controller = new AbortController();
    const p = invoke(model as any, "echo", {}, { signal: controller.signal });
    expect(model.count("msg:custom")).toBe(1);
    controller.abort();
    const error = await p.catch((e) => e);
    expect(error.kind).toBe("aborted");
    expect(isQuiet(error)).toBe(true);
    expect(model.count("msg:custom")).toBe(0);
    model.release(); // nobody listening: no throw
  });

  it("does not send at all on an already aborted signal", async () => {
    const model = new MockModel({}, {});
    const controller = new AbortController();
    controller.abort();
    const error = await invoke(model as any, "echo", {}, { signal: controller.signal }).catch((e) => e);
    expect(error.kind).toBe("aborted");
    expect(model.sent).toEqual([]);
    expect(model.count("msg:custom")).toBe(0);
  });

  describe("timeouts", () => {
    beforeEach(() => vi.useFakeTimers());
    afterEach(() => vi.useRealTimers());

    it("rejects, saying how long it waited, when the kernel does not answer", async () => {
      const model = new MockModel({}, {});
      model.auto = false;
      const p = invoke(model as any, "page", {}, { timeout: 5000 }).catch((e) => e);
      vi.advanceTimersByTime(4999);
      expect(model.count("msg:custom")).toBe(1);
      vi.advanceTimersByTime(1);
      const error = await p;
      expect(error.kind).toBe("timeout");
      expect(error.message).toBe("The kernel did not answer (page) within 5 s.");
      expect(model.count("msg:custom")).toBe(0);
    });

    it("waits DEFAULT_TIMEOUT_MS by default, and for ever with timeout 0", async () => {
      const model = new MockModel({}, {});
      model.auto = false;
      let settled = 0;
      invoke(model as any, "a", {}).catch(() => settled++);
      invoke(model as any, "b", {}, { timeout: 0 }).catch(() => settled++);
      vi.advanceTimersByTime(DEFAULT_TIMEOUT_MS);
      await Promise.resolve();
      await Promise.resolve();
      expect(settled).toBe(1);
      expect(model.count("msg:custom")).toBe(1);
    });
  });

  it("rejects (not throws) when the message cannot be sent", async () => {
    const model = new MockModel({}, {});
    model.send = () => {
      throw new Error("Cannot send");
    };
    const error = await invoke(model as any, "a", {}).catch((e) => e);
    expect(error.kind).toBe("unsent");
    expect(error.message).toBe("Could not reach the kernel: Cannot send");
    expect(model.count("msg:custom")).toBe(0);
  });
});

describe("LRU", () => {
  it("keeps the most recently used entries; get counts as use, peek does not", () => {
    const cache = new LRU<string, number>(2);
    cache.set("a", 1).set("b", 2);
    expect(cache.get("a")).toBe(1);
    cache.set("c", 3);
    expect([...cache.keys()]).toEqual(["a", "c"]);
    expect(cache.peek("a")).toBe(1);
    cache.set("d", 4);
    expect([...cache.keys()]).toEqual(["c", "d"]);
    expect(cache.has("a")).toBe(false);
    expect(() => new LRU(0)).toThrow("capacity 0 must be a whole number of at least 1");
  });
});

describe("createHeadPatterns on the channel", async () => {
  const { createHeadPatterns } = await import("../src/kit/head_patterns");
  const pattern = (p: Record<string, unknown>) => {
    if (p.head === 9) throw new Error("head 9 is out of range; this model has heads 0..3");
    return { layer: p.layer, head: p.head, run: p.run, pattern: { ...wire("float32", [2, 2], [1, 0, 0.5, 0.5]), dtype: "float32" } };
  };

  it("asks once, keeps the answer, says why a head was refused, and stops listening on abort", async () => {
    const model = new MockModel({ run_id: 3 }, { pattern });
    const controller = new AbortController();
    const arrived: string[] = [];
    const patterns = createHeadPatterns(model as any, {
      run: () => model.get("run_id"),
      canFetch: () => true,
      onArrive: (l, h) => arrived.push(`${l}.${h}`),
      signal: controller.signal,
    });
    expect(patterns.get(1, 2)).toBeNull();
    expect(patterns.get(1, 2)).toBeNull(); // asked once only
    expect(model.sent).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 0));
    expect(arrived).toEqual(["1.2"]);
    expect(Array.from(patterns.get(1, 2)!.values)).toEqual([1, 0, 0.5, 0.5]);
    expect(patterns.get(1, 9)).toBeNull();
    await new Promise((r) => setTimeout(r, 0));
    expect(patterns.error(1, 9)).toBe("head 9 is out of range; this model has heads 0..3");
    expect(patterns.get(1, 9)).toBeNull();
    expect(model.sent).toHaveLength(2); // a refused head is not asked again in this run
    model.auto = false;
    patterns.get(0, 0);
    expect(model.count("msg:custom")).toBe(1);
    controller.abort();
    await new Promise((r) => setTimeout(r, 0));
    expect(model.count("msg:custom")).toBe(0);
  });
});
