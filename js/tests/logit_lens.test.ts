import { describe, expect, it } from "vitest";
import { attachBuffers } from "../src/kit/decode";
import { stepAt, stepForKey } from "../src/kit/slider";
import { axisFraction } from "../src/logit_lens/chart";
import {
  addLensPage, addTargetPage, allReady, barsToShow, decodeLens, isHit, pageOf, pageSpan, shade, targetOf, topAt, writtenBy,
  type Bar, type LensWire,
} from "../src/logit_lens/data";
import { columnWidth } from "../src/kit/rect_grid_layout";
import {
  CARD_ROWS, barGeometry, cellCardRows, formatPercent, gridHelp, gridKeyTarget, guessCardNote, guessCardRows, guessKeyTarget, guessLabel, hitMark,
  hitSummary, indexOr, lastPage, legendFor, MODES, modeSpec, pageComplete, pageNeed, pagerText, pagesToAsk, readoutText, readyCount,
  signed, targetExplained, targetSeries,
} from "../src/logit_lens/state";
import { formatProbability, formatTick } from "../src/kit/format";

const wire = (dtype: string, shape: number[], values: number[]) => {
  const Ctor = { uint16: Uint16Array, int32: Int32Array, float32: Float32Array }[dtype as "uint16" | "int32" | "float32"];
  return { dtype, shape, buffer: new DataView(new Ctor(values).buffer) };
};

/** 2 readouts x 3 positions, k = 2; tokens 5 6 7; as one page of 3, or pages of 2 + 1. */
function lensPage(positions: number[]) {
  const all = {
    // readout 0: guesses 9, 7, 1; readout 1: guesses 6, 7, 8
    top_ids: [[[9, 1], [7, 2], [1, 3]], [[6, 9], [7, 1], [8, 2]]],
    top_probs: [[[0.5, 0.1], [0.4, 0.3], [0.2, 0.1]], [[0.9, 0.05], [0.6, 0.2], [0.7, 0.1]]],
    target_probs: [[0.01, 0.4, 0.02], [0.9, 0.6, 0.7]],
    target_ranks: [[40, 1, 12], [1, 1, 1]],
    kl: [[2, 1, 4], [0, 0, 0]],
  };
  const n = positions.length;
  const pick = (rows: number[][][]) => rows.flatMap((row) => positions.flatMap((p) => row[p] as number[]));
  const pick2 = (rows: number[][]) => rows.flatMap((row) => positions.map((p) => row[p] as number));
  return {
    page: positions[0] === 0 ? 0 : 1,
    start: positions[0] as number,
    top_ids: wire("uint16", [2, n, 2], pick(all.top_ids)),
    top_probs: wire("float32", [2, n, 2], pick(all.top_probs)),
    final_ids: wire("uint16", [n], positions.map((p) => [6, 7, 8][p] as number)),
    target_probs: wire("float32", [2, n], pick2(all.target_probs)),
    target_ranks: wire("int32", [2, n], pick2(all.target_ranks)),
    kl: wire("float32", [2, n], pick2(all.kl)),
    vocab: { ids: wire("int32", [0], []), strs: [] },
  };
}

function lensWire(pages: number[][] = [[0, 1, 2]]): LensWire {
  return { run: 1, token_ids: wire("uint16", [3], [5, 6, 7]), pages: pages.map(lensPage), vocab: { ids: wire("int32", [0], []), strs: [] } };
}

describe("logit lens data", () => {
  const lens = decodeLens(lensWire(), 2, 2);
  it("reads top-k and hit/miss against the actual next token", () => {
    expect([lens.readouts, lens.positions, lens.k]).toEqual([2, 3, 2]);
    expect(topAt(lens, 1, 0)).toEqual({ id: 6, prob: Math.fround(0.9) });
    expect(topAt(lens, 0, 1, 1).id).toBe(2);
    expect([isHit(lens, 0, 0), isHit(lens, 0, 1), isHit(lens, 0, 2)]).toEqual([false, true, null]);
    expect(isHit(lens, 1, 0)).toBe(true);
  });
  it("fills in a page at a time: pending positions, then the same numbers as all at once", () => {
    const partial = decodeLens(lensWire([[2]]), 2, 2);
    expect(Array.from(partial.ready)).toEqual([0, 0, 1]);
    expect(allReady(partial.ready, 0, 3)).toBe(false);
    const t = targetOf(partial, null);
    expect([t.ready(0), t.idAt(0), t.idAt(2), isHit(partial, 0, 0)]).toEqual([false, -1, 8, null]);
    addLensPage(partial, lensPage([0, 1]));
    expect(allReady(partial.ready, 0, 3)).toBe(true);
    for (const name of ["topIds", "topProbs", "finalIds", "targetProbs", "targetRanks", "kl"] as const) {
      expect(Array.from(partial[name])).toEqual(Array.from(lens[name]));
    }
    expect([pageOf(31, 32), pageOf(32, 32)]).toEqual([0, 1]);
    expect(pageSpan(15, 32, 500)).toEqual({ start: 480, end: 500 });
  });
  it("shades by top-1, target probability, log rank and KL", () => {
    const target = targetOf(lens, null);
    expect(target.picked).toBe(false);
    expect(target.idAt(2)).toBe(8);
    expect(shade(lens, target, "top", 0, 0, 100, 4)).toBeCloseTo(0.5);
    expect(shade(lens, target, "target_prob", 0, 1, 100, 4)).toBeCloseTo(0.4);
    expect(shade(lens, target, "target_rank", 0, 1, 100, 4)).toBe(1); // rank 1
    expect(shade(lens, target, "target_rank", 0, 0, 100, 4)).toBeCloseTo(1 - Math.log(40) / Math.log(100));
    expect(shade(lens, target, "kl", 0, 2, 100, 4)).toBe(1);
  });
  it("uses a picked target of the same run only, filled a page at a time", () => {
    const targetPage = (start: number, probs: number[], ranks: number[]) => ({
      page: start, start, id: 3, probs: wire("float32", [2, probs.length / 2], probs), ranks: wire("int32", [2, ranks.length / 2], ranks),
    });
    const picked = { run: 1, id: 3, str: "x", pages: [targetPage(0, [0, 0, 0.5, 0], [9, 9, 2, 9])] };
    const t = targetOf(lens, picked);
    expect([t.picked, t.idAt(0), t.prob(1, 0), t.rank(1, 0), t.ready(1), t.ready(2)]).toEqual([true, 3, 0.5, 2, true, false]);
    addTargetPage(t, { ...targetPage(2, [0.1, 0.25], [7, 3]), id: 4 }, 3); // another token's: ignored
    expect(t.ready(2)).toBe(false);
    addTargetPage(t, targetPage(2, [0.1, 0.25], [7, 3]), 3);
    expect([t.ready(2), t.prob(1, 2), t.rank(0, 2)]).toEqual([true, 0.25, 7]);
    expect(targetOf(lens, { ...picked, run: 0 }).picked).toBe(false);
  });
  it("lists the largest bars by size, then by value", () => {
    const bar = (label: string, value: number, layer = -1): Bar => ({ index: 0, kind: "head", label, layer, head: 0, value });
    const bars = [bar("a", 0.1), bar("b", -3), bar("c", 2), bar("d", -0.2)];
    expect(barsToShow(bars, 2).map((b) => b.label)).toEqual(["c", "b"]);
    expect(barsToShow(bars, null).map((b) => b.label)).toEqual(["c", "a", "d", "b"]);
    expect([writtenBy(bar("e", 1, 2), 2), writtenBy(bar("e", 1, 1), 2), writtenBy(bar("e", 1), 0)]).toEqual([false, true, true]);
  });
});

describe("slider steps", () => {
  it("maps pointer fractions and keys to steps, clamped", () => {
    expect([stepAt(0, 5), stepAt(0.3, 5), stepAt(0.9, 5), stepAt(2, 5), stepAt(0.5, 1)]).toEqual([0, 1, 4, 4, 0]);
    expect(stepForKey("ArrowRight", 4, 5)).toBe(4);
    expect(stepForKey("ArrowLeft", 0, 5)).toBe(0);
    expect([stepForKey("Home", 3, 5), stepForKey("End", 0, 5), stepForKey("PageUp", 0, 13)]).toEqual([0, 4, 3]);
    expect(stepForKey("a", 2, 5)).toBeNull();
  });
});

describe("charts, grid and buffers", () => {
  it("puts rank 1 at the top of a log axis and probability 1 at the top of a linear one", () => {
    expect(axisFraction("rank", 1, 1000)).toBe(0);
    expect(axisFraction("rank", 1000, 1000)).toBeCloseTo(1);
    expect(axisFraction("linear", 1, 0)).toBe(0);
    expect(axisFraction("linear", NaN, 0)).toBe(1);
  });
  it("sizes grid columns between 10 and 64 pixels", () => {
    expect([columnWidth(1000, 10), columnWidth(1000, 512), columnWidth(1000, 20)]).toEqual([64, 10, 50]);
  });
  it("puts custom message buffers back by index", () => {
    const buffers = [new DataView(new ArrayBuffer(4)), new DataView(new ArrayBuffer(8))];
    const msg = attachBuffers({ a: { dtype: "float32", shape: [1], buffer_index: 0 }, b: [{ buffer_index: 1 }] }, buffers) as Record<string, any>;
    expect(msg.a.buffer).toBe(buffers[0]);
    expect(msg.b[0].buffer).toBe(buffers[1]);
    expect(() => attachBuffers({ x: { buffer_index: 5 } }, buffers)).toThrow(/buffer_index 5/);
  });
});

describe("logit lens state (what the view derives)", () => {
  const lens = decodeLens(lensWire(), 2, 2);
  const str = (id: number) => `t${id}`;
  const readouts = [{ short: "emb", long: "embeddings" }, { short: "out", long: "the output" }];
  it("falls back to the last readout or position, and moves by keys within range", () => {
    expect([indexOr(null, 3), indexOr(5, 3), indexOr(1, 3)]).toEqual([2, 2, 1]);
    expect([guessKeyTarget("ArrowRight", 2, 3), guessKeyTarget("ArrowLeft", 0, 3), guessKeyTarget("End", 0, 3), guessKeyTarget("Home", 2, 3)]).toEqual([2, 0, 2, 0]);
    expect(guessKeyTarget("a", 1, 3)).toBeNull();
    expect(gridKeyTarget({ rows: 1, cols: -1 }, 1, 0, lens)).toEqual({ lens_layer: 1, position: 0 });
    expect(gridKeyTarget({ rows: -1, cols: 1 }, 1, 1, lens)).toEqual({ lens_layer: 0, position: 2 });
    expect([gridKeyTarget("home", 1, 2, lens), gridKeyTarget("end", 1, 0, lens)]).toEqual([{ position: 0 }, { position: 2 }]);
  });
  it("says which pages lack numbers, which to ask for first, and when a page is complete", () => {
    const partial = decodeLens(lensWire([[2]]), 2, 2);
    const t = targetOf(partial, null);
    expect([pageNeed(partial, t, 0, 2), pageNeed(partial, t, 1, 2)]).toEqual([{ lens: true, target: null }, null]);
    const picked = targetOf(lens, { run: 1, id: 3, str: "x", pages: [{ page: 0, start: 0, id: 3, probs: wire("float32", [2, 1], [0, 0.5]), ranks: wire("int32", [2, 1], [9, 2]) }] });
    expect([pageNeed(lens, picked, 0, 1), pageNeed(lens, picked, 1, 1)]).toEqual([null, { lens: false, target: 3 }]);
    expect([pagesToAsk(0, 3, 1), pagesToAsk(2, 3, 1), pagesToAsk(1, 3, 1), pagesToAsk(0, 3, 32)]).toEqual([[0, 1], [2, 1], [1, 2, 0], [0]]);
    expect([pageComplete(lens, null, 0, 3), pageComplete(lens, targetOf(lens, null), 0, 3), pageComplete(partial, t, 0, 3), pageComplete(partial, t, 2, 3)]).toEqual([false, true, false, true]);
    expect([lastPage(500, 32), readyCount(partial), readyCount(lens), readyCount(null)]).toEqual([15, 1, 3, 0]);
    expect(pagerText(480, 512, 512, false)).toBe("positions 480–511 of 512 · computing…");
    expect(pagerText(0, 32, 512, true)).toBe("positions 0–31 of 512");
  });
  it("summarises the hits, labels guesses and formats their probabilities", () => {
    expect(hitSummary(lens, 0)).toBe("At this readout the top guess is the real next token at 1 of 2 positions.");
    expect(hitSummary(lens, 1)).toBe("At this readout the top guess is the real next token at 2 of 2 positions.");
    expect(hitSummary(decodeLens(lensWire([[1]]), 2, 2), 0)).toBe("At this readout the top guess is the real next token at 1 of 1 computed positions.");
    expect(hitSummary(decodeLens(lensWire([[2]]), 2, 2), 0)).toBe("");
    expect([formatPercent(0.42), formatPercent(0.095), formatPercent(0.05), formatPercent(0.003), formatPercent(0.0001), formatPercent(NaN)]).toEqual(["42%", "10%", "5.0%", "0.3%", "<0.1%", "—"]);
    expect(guessLabel(2, " cat", " sat", 0.42, true)).toBe('position 2 " cat": guesses " sat" 42%, correct');
    expect(guessLabel(0, "a", "b", 0.5, null)).toBe('position 0 "a": guesses "b" 50%');
    expect([hitMark(true), hitMark(false), hitMark(null)]).toEqual(["✓", "✗", ""]);
    expect(readoutText(readouts, 1)).toBe("the output (readout 1 of 1)");
  });
  it("labels the legend of each shading and says which target is shaded", () => {
    const rank = legendFor("target_rank", 100, 4);
    expect([rank.title, rank.format(1), rank.format(0)]).toEqual(["rank of target", "1", "100"]);
    expect([legendFor("kl", 100, 4).format(0.5), legendFor("kl", 100, 20).format(0.5)]).toEqual(["2.00", "10"]);
    expect(legendFor("top", 100, 4).format).toBe(formatTick);
    expect(MODES.map((m) => m.mode)).toEqual(["top", "target_prob", "target_rank", "kl"]);
    expect(gridHelp("kl", null, str)).toBe(modeSpec("kl").help);
    expect(gridHelp("target_prob", targetOf(lens, null), str)).toMatch(/\. Target: the model's final prediction at each position\.$/);
    const picked = targetOf(lens, { run: 1, id: 3, str: "x", pages: [] });
    expect(targetExplained(picked, str)).toBe('Target: "t3" at every position.');
  });
  it("writes the hover cards, the target's series and the bars' geometry", () => {
    expect(guessCardRows(lens, 0, 0, str)).toEqual([["1. t9", formatProbability(Math.fround(0.5))], ["2. t1", formatProbability(Math.fround(0.1))]]);
    expect(guessCardNote(lens, readouts, ["a", "b", "c"], 0, 0)).toBe("embeddings · really next: b");
    // k = 50: the card lists CARD_ROWS guesses and one row for the other 30 together
    const k = 50;
    const wide = { ...lens, readouts: 1, positions: 1, k, topIds: Int32Array.from({ length: k }, (_, j) => j), topProbs: Float32Array.from({ length: k }, () => 0.01) };
    const card = guessCardRows(wide, 0, 0, str);
    expect(card).toHaveLength(CARD_ROWS + 1);
    expect(card[CARD_ROWS - 1]![0]).toBe(`${CARD_ROWS}. t${CARD_ROWS - 1}`);
    expect(card[CARD_ROWS]).toEqual([`… and ${k - CARD_ROWS} more (together)`, formatProbability((k - CARD_ROWS) * Math.fround(0.01))]);
    expect(guessCardNote(lens, readouts, ["a", "b", "c"], 1, 2)).toBe("the output · last position: nothing follows");
    const rows = cellCardRows(lens, targetOf(lens, null), readouts, 0, 1, str);
    expect(rows).toEqual([
      ["readout", "embeddings"],
      ["top-1", `t7  ${formatProbability(Math.fround(0.4))}`],
      ["target t7", `${formatProbability(Math.fround(0.4))} · rank 1`],
      ["KL to final", "1.000 nats"],
    ]);
    expect(targetSeries(lens, targetOf(lens, null), 0)).toEqual({ probs: [Math.fround(0.01), Math.fround(0.9)], ranks: [40, 1] });
    expect(barGeometry(-0.5, 1)).toEqual({ left: "25%", width: "25%", up: false });
    expect(barGeometry(1, 2)).toEqual({ left: "50%", width: "25%", up: true });
    expect([signed(1.5, 2), signed(-0.25, 2), signed(0, 1)]).toEqual(["+1.50", "-0.25", "+0.0"]);
  });
});
