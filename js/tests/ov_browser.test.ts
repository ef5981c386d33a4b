import { describe, expect, it } from "vitest";
import { AnswerCache, type Payload } from "../src/ov_browser/answers";
import { formatScore } from "../src/kit/format";
import {
  eigenCard,
  eigenKeys,
  formatComplex,
  formatMagnitude,
  largestMagnitude,
  LOG_DECADES,
  nearest,
  niceCeil,
  project,
  radialScale,
} from "../src/ov_browser/spectrum_geometry";
import { formatValue, parseEntry } from "../src/ov_browser/token_maps";
import { applyDefaults, choicesLeft, mapStatus, newMapState, pickerText, putFirst, questionOf, resetList } from "../src/ov_browser/token_lists";
import { hintText, kChoices, pillText, rowsMax, STATIC_NOTE } from "../src/ov_browser/token_map_text";

describe("spectrum geometry", () => {
  it("rounds the plot's edge up to 1, 2 or 5 times a power of ten", () => {
    expect(niceCeil(0.9)).toBe(1);
    expect(niceCeil(1)).toBe(1);
    expect(niceCeil(1.01)).toBe(1.2);
    expect(niceCeil(3)).toBe(3);
    expect(niceCeil(261)).toBe(300);
    expect(niceCeil(730)).toBe(800);
    expect(niceCeil(0.0042)).toBeCloseTo(0.005, 12);
    expect(niceCeil(0)).toBe(1);
  });

  it("keeps each eigenvalue's angle and scales its distance linearly", () => {
    const s = radialScale("linear", 4.6); // edge at 5
    expect(s.outer).toBe(5);
    const [x, y] = project(-3, 4, s); // |λ| = 5: on the edge, up and to the left
    expect(x).toBeCloseTo(-0.6, 12);
    expect(y).toBeCloseTo(0.8, 12);
    expect(project(0, 0, s)).toEqual([0, 0]);
    expect(s.rings.map((r) => r.value)).toEqual([1, 2.5, 5]); // unit circle, half, edge
    expect(s.rings.find((r) => r.value === 1)?.r).toBeCloseTo(0.2, 12);
    expect(radialScale("linear", 500).rings.map((r) => r.value)).toEqual([250, 500]); // unit circle too small to see
  });

  it("spreads magnitudes over four decades on the log scale", () => {
    const s = radialScale("log", 730); // top decade 1000, floor 0.1
    expect(s.outer).toBe(1000);
    expect(s.floor).toBeCloseTo(1000 / 10 ** LOG_DECADES, 12);
    expect(s.radius(1000)).toBeCloseTo(1, 12);
    expect(s.radius(10)).toBeCloseTo(0.5, 12);
    expect(s.radius(0.01)).toBe(0); // below the floor: centre
    expect(s.rings.map((r) => r.label)).toEqual(["|λ| = 1", "|λ| = 10", "|λ| = 100", "|λ| = 1000"]);
    const [x, y] = project(0, -10, s);
    expect(x).toBeCloseTo(0, 12);
    expect(y).toBeCloseTo(-0.5, 12);
  });

  it("finds the hovered point and the largest magnitude", () => {
    const xy = [10, 10, 50, 50, 52, 49];
    expect(nearest(xy, 51, 50, 5)).toBe(1);
    expect(nearest(xy, 100, 100, 5)).toBe(-1);
    expect(largestMagnitude([3, 4, -1, 0, 0, -6])).toBe(6);
  });

  it("writes complex numbers and magnitudes for people", () => {
    expect(formatComplex(1.5, -2)).toBe("1.5 − 2i");
    expect(formatComplex(-0.25, 0)).toBe("−0.25");
    expect(formatComplex(12345, 0.5)).toBe("12300 + 0.5i");
    expect(formatComplex(123456, -1e-7)).toBe("1.2e5 − 1e-7i");
    expect(formatMagnitude(2e-5)).toBe("2e-5");
    expect(formatMagnitude(120000)).toBe("1.2e5");
  });
});

describe("token-map answers", () => {
  const payload = (layer: number, ids: number[][], values: number[][], given: number[]): Payload => ({
    mode: "ov",
    layer,
    head: 2,
    k: 2,
    given,
    given_strs: given.map((g) => `g${g}`),
    top_strs: ids.map((row) => row.map((i) => `t${i}`)),
    top_ids: { dtype: "int32", shape: [ids.length, 2], buffer: new Int32Array(ids.flat()) },
    top_values: { dtype: "float32", shape: [ids.length, 2], buffer: new Float32Array(values.flat()) },
  });

  it("keeps rows per head and token and says which are missing", () => {
    const cache = new AnswerCache();
    cache.add(payload(1, [[5, 6], [7, 8]], [[2, 1], [0.5, -1]], [10, 11]));
    const q = { mode: "ov" as const, layer: 1, head: 2, k: 2 };
    expect(cache.missing(q, [11, 12, 10, 12])).toEqual([12]);
    expect(cache.rows(q, [10, 12])).toBeNull();
    const rows = cache.rows(q, [11, 10])!;
    expect(rows.map((r) => r.given)).toEqual([{ id: 11, text: "g11" }, { id: 10, text: "g10" }]);
    expect(rows[0]!.top).toEqual([{ id: 7, text: "t7" }, { id: 8, text: "t8" }]);
    expect(Array.from(rows[0]!.values)).toEqual([0.5, -1]);
    expect(cache.missing({ ...q, layer: 0 }, [10])).toEqual([10]); // another head
    expect(cache.missing({ ...q, k: 5 }, [10])).toEqual([10]); // another k
    expect(cache.missing({ ...q, mode: "qk" }, [10])).toEqual([10]); // another question
  });

  it("forgets the oldest rows beyond its capacity", () => {
    const cache = new AnswerCache(2);
    cache.add(payload(0, [[1, 2], [3, 4], [5, 6]], [[0, 0], [0, 0], [0, 0]], [1, 2, 3]));
    expect(cache.size).toBe(2);
    expect(cache.missing({ mode: "ov", layer: 0, head: 2, k: 2 }, [1, 2, 3])).toEqual([1]);
  });
});

describe("typed tokens and numbers", () => {
  it("reads #id as an id and keeps every space of a token string", () => {
    expect(parseEntry("#262")).toBe(262);
    expect(parseEntry(" the")).toBe(" the");
    expect(parseEntry("#x")).toBe("#x");
    expect(parseEntry("  ")).toBe("  ");
  });

  it("formats scores and logits with a real minus sign", () => {
    expect(formatScore(-0.4376)).toBe("−0.44");
    expect(formatScore(0.966)).toBe("0.97");
    expect(formatScore(-0.001)).toBe("0.00");
    expect(formatScore(NaN)).toBe("—");
    expect(formatValue(-3.14159)).toBe("−3.14");
    expect(formatValue(123.4)).toBe("123");
    expect(formatValue(12.34)).toBe("12.3");
    expect(formatValue(0.00314)).toBe("3.1e−3");
    expect(formatValue(-0.0000271)).toBe("−2.7e−5");
    expect(formatValue(0)).toBe("0");
  });
});

describe("OVBrowser state", async () => {
  const { headNumbers, headPairs, largestMagnitude, percent } = await import("../src/ov_browser/state");
  const { decode } = await import("../src/kit/decode");
  const f32 = (shape: number[], values: number[]) =>
    decode({ dtype: "float32", shape, buffer: new DataView(Float32Array.from(values).buffer) });

  it("picks one head's eigenvalue pairs out of every head's", () => {
    // [L=1, H=2, d_head=2, 2]: head 1's pairs are the last four numbers
    const eigen = f32([1, 2, 2, 2], [1, 0, 0, 1, 3, 4, -6, 8]);
    expect(Array.from(headPairs(eigen, 0, 1)!)).toEqual([3, 4, -6, 8]);
    expect(headPairs(null, 0, 0)).toBeNull();
    expect(largestMagnitude([3, 4, -6, 8])).toBe(10);
    expect(largestMagnitude([])).toBe(0);
  });

  it("says the three numbers, or … while the spectra are computed", () => {
    const copying = f32([1, 2], [0.5, -0.25]);
    const positive = f32([1, 2], [0.8, 0.1]);
    const pairs = Float32Array.from([3, 4]);
    expect(headNumbers(copying, positive, pairs, 0, 1).map((n) => n.value)).toEqual(["−0.25", "10%", expect.any(String)]);
    expect(headNumbers(copying, positive, null, 0, 1).map((n) => n.value)).toEqual(["…", "…", "…"]);
    expect(percent(0.426)).toBe("43%");
  });
});

describe("token-map state (what the panel derives)", () => {
  const t = (id: number, text = `t${id}`) => ({ id, text });
  const defaults = { kind: "text" as const, choices: [t(1), t(2), t(3)], tokens: [t(1)], targets: [t(5)] };

  it("starts the lists from the defaults, keeping a target picked elsewhere in front", () => {
    const s = newMapState();
    putFirst(s, "ov_sources", t(9));
    applyDefaults(s, defaults);
    expect([s.lists.ov, s.lists.qk, s.lists.ov_sources].map((l) => l.map((x) => x.id))).toEqual([[1], [1], [9, 5]]);
    putFirst(s, "ov_sources", t(5));
    expect(s.lists.ov_sources.map((x) => x.id)).toEqual([5, 9]);
    applyDefaults(s, defaults); // the picked target is a default target now: not twice
    expect(s.lists.ov_sources.map((x) => x.id)).toEqual([5]);
    expect(questionOf(s)).toEqual({ mode: "ov", layer: 0, head: 0, k: 10 });
  });
  it("resets the open tab, offers the choices not on its list, and says why nothing is drawn", () => {
    const s = newMapState();
    applyDefaults(s, defaults);
    s.lists.ov.push(t(3));
    s.failures.ov = { message: "no", entry: "x", pieces: [] };
    expect(choicesLeft(s).map((x) => x.id)).toEqual([2]);
    expect(pickerText("text", 1)).toBe("Pick more (from your text, 1)");
    expect(pickerText("frequent", 4)).toBe("Pick more (frequent tokens, 4)");
    resetList(s);
    expect([s.lists.ov.map((x) => x.id), s.failures.ov]).toEqual([[1], null]);
    s.mode = "ov_sources";
    s.lists.ov_sources = [];
    resetList(s);
    expect(s.lists.ov_sources.map((x) => x.id)).toEqual([5]);
    expect(mapStatus(s, 0, true).state).toBe("empty");
    expect(mapStatus(s, 2, true)).toEqual({ state: "ready", text: "" });
    expect(mapStatus(s, 2, false)).toEqual({ state: "loading", text: "Asking Python…" });
    s.isStatic = true;
    s.layer = 1;
    s.head = 3;
    expect(mapStatus(s, 2, false).text).toBe("This file holds no token map for layer 1 head 3 with these tokens; it needs a running Python kernel.");
  });
  it("writes the hint, the k menu, the colour scale's top and each pill's text", () => {
    expect(hintText(true, "text")).toBe(STATIC_NOTE);
    expect(hintText(false, "text")).toMatch(/^Starting tokens: the tokens of your text\./);
    expect(hintText(false, "frequent")).toMatch(/^Starting tokens: frequent whole words/);
    expect([kChoices(10), kChoices(7)]).toEqual([[5, 10, 20, 50], [5, 7, 10, 20, 50]]);
    const row = { given: t(4, " cat"), top: [t(7, " dog"), t(8)], values: Float32Array.from([2.5, -1]) };
    expect([rowsMax([row]), rowsMax([{ ...row, values: Float32Array.from([-1, -2]) }]), rowsMax([])]).toEqual([2.5, 1, 1]);
    const ov = pillText("ov", row, 0);
    expect(ov.label).toBe('destination " dog", logit added 2.50');
    expect(ov.rows).toEqual([["token id", "7"], ["logit added", "2.50"], ["rank", "1 of 2"], ["source", " cat"]]);
    expect(ov.note).toBe("click: which sources make this head write it?");
    expect(pillText("ov_sources", row, 1).rows[3]).toEqual(["target", " cat"]);
    const qk = pillText("qk", row, 1);
    expect([qk.label, qk.note, qk.rows[3]]).toEqual(['key "t8", score −1.00', undefined, ["query", " cat"]]);
  });
});

describe("the spectrum's hover card and keys", () => {
  it("says |λ|, angle, rank and what the real part means; steps by key within range", () => {
    const card = eigenCard(-3, 4, 0, 2, "linear", 0);
    expect(card.title).toBe(`λ = ${formatComplex(-3, 4)}`);
    expect(card.rows).toEqual([["|λ|", formatMagnitude(5)], ["angle", "126.9°"], ["rank by |λ|", "1 of 2"]]);
    expect(card.note).toBe("negative real part: suppresses what the head attends to");
    expect(eigenCard(0, -1, 1, 2, "linear", 0).rows[1]).toEqual(["angle", "−90.0°"]);
    expect(eigenCard(1e-6, 0, 1, 2, "log", 1e-3).note).toBe(`below the plot's floor (${formatMagnitude(1e-3)}): drawn at the centre`);
    expect(eigenCard(2, 0, 1, 2, "log", 1e-3).note).toBe("positive real part: copies what the head attends to");
    expect(eigenKeys(0, 3)).toEqual({ ArrowRight: 1, ArrowDown: 1, ArrowLeft: 0, ArrowUp: 0, Home: 0, End: 2 });
    expect(eigenKeys(2, 3).ArrowRight).toBe(2);
  });
});
