// @vitest-environment happy-dom
/**
 * Views rendered against a mock widget model (no JupyterLab): what they draw from their
 * traits, what they send back, what they ask the kernel through the channel, and that they
 * leave no listener behind when removed. The Playwright suite (tests/browser/) stays for what
 * only a real front end shows.
 */
import { describe, expect, it } from "vitest";
import tokenView from "../src/token_view";
import ovBrowser from "../src/ov_browser";
import { HEADER_HEIGHT, ROW_HEIGHT } from "../src/kit/rect_grid_layout";
import { MockModel, mount, settle, stubCanvas, wire, withSelection } from "./mock_model";
import { AE, IS, LL, attentionState, causal, copying, patternHandler, inductionState, lensPage, lensState, pageHandler, ovState, query, spectra } from "./view_fixtures";

stubCanvas();

const listeners = (model: MockModel) => [...model.listeners.values()].reduce((n, set) => n + set.size, 0);

describe("TokenView", () => {
  const state = () => ({
    text: "a b a",
    tokens: ["<bos>", "a", " b", " a"],
    token_ids: wire("int32", [4], [0, 5, 6, 5]),
    probs: wire("float32", [4], [NaN, 0.25, 0.5, 0.75]),
    error: "",
    model_name: "tiny",
    _static: false,
  });

  it("draws every token with its probability, and sends an edited text", async () => {
    const model = new MockModel(state());
    const { el, unmount } = await mount(tokenView, model);
    const root = el.querySelector(".cw-token-view") as HTMLElement;
    expect(root.dataset.tokenCount).toBe("4");
    const spans = [...el.querySelectorAll<HTMLElement>("[data-index]")];
    expect(spans.map((s) => s.textContent)).toEqual(["<bos>", "a", "␣b", "␣a"].map((t) => expect.stringContaining(t.replace("␣", ""))));
    expect(spans.map((s) => s.dataset.prob ?? null)).toEqual([null, "0.25", "0.5", "0.75"]);
    expect(spans.map((s) => s.dataset.tokenId)).toEqual(["0", "5", "6", "5"]);
    const box = el.querySelector("textarea") as HTMLTextAreaElement;
    box.value = "b b";
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.get("text")).toBe("b b");
    expect(model.saved).toHaveLength(1);
    model.set("error", "text is empty");
    await settle();
    expect(el.querySelector<HTMLElement>(".cw-error")!.hidden).toBe(false);
    expect(el.querySelector(".cw-error")!.textContent).toContain("text is empty");
    await unmount();
    expect(listeners(model)).toBe(0);
  });

  it("from values (cw.colored_tokens): no text box, no ids, the values on a diverging scale", async () => {
    const model = new MockModel({
      ...state(), tokens: ["a", " b", " c", " d"], token_ids: wire("int32", [0], []),
      probs: wire("float32", [4], [-2, 0, 1, 4]), model_name: "from arrays", _model_free: true, _domain: wire("float32", [2], [-2, 4]),
    });
    const { el, unmount } = await mount(tokenView, model);
    expect(el.querySelector("textarea")).toBeNull();
    expect(el.querySelector<HTMLElement>(".cw-error")!.hidden).toBe(true); // no "internal error" for the missing ids
    const spans = [...el.querySelectorAll<HTMLElement>("[data-index]")];
    expect(spans.map((s) => s.dataset.value)).toEqual(["-2", "0", "1", "4"]);
    expect(spans.map((s) => s.dataset.tokenId ?? null)).toEqual([null, null, null, null]);
    expect(el.querySelector(".cw-legend-title")!.textContent).toBe("value");
    expect([...el.querySelectorAll(".cw-legend-ticks span")].map((t) => t.textContent)).toEqual(["-4", "-2", "0", "2", "4"]);
    expect(spans[0]!.style.backgroundColor).not.toBe(spans[3]!.style.backgroundColor); // low and high colours differ
    await unmount();
    expect(listeners(model)).toBe(0);
  });

  it("inserts token text as text, never as HTML", async () => {
    const model = new MockModel({ ...state(), tokens: ["<bos>", "<img src=x onerror=alert(1)>", " b", " a"] });
    const { el, unmount } = await mount(tokenView, model);
    expect(el.querySelector("img")).toBeNull();
    expect(el.textContent).toContain("<img·src=x·onerror=alert(1)>"); // spaces shown as ·
    await unmount();
  });
});

describe("OVBrowser", () => {
  const state = ovState;

  it("asks for the spectra once, draws the copying map, and follows the selection", async () => {
    const model = new MockModel(state(), {
      spectrum: () => {
        for (const [k, v] of Object.entries(spectra())) model.set(k, v);
        return {};
      },
      query,
    });
    const selection = withSelection(model, { layer: 1, head: 2 });
    const { el, unmount } = await mount(ovBrowser, model);
    await settle();
    expect(model.sent.filter((m) => m.name === "spectrum")).toHaveLength(1);
    const cells = [...el.querySelectorAll<HTMLElement>(".cw-ov-cell")];
    expect(cells.map((c) => Number(c.dataset.score))).toEqual(copying.map((c) => Math.fround(c)));
    expect(el.querySelector(".cw-ov-cell[aria-pressed='true']")!.getAttribute("aria-label")).toBe("layer 1 head 2");
    const spectrum = el.querySelector<HTMLElement>(".cw-ov-spectrum")!;
    expect([spectrum.dataset.layer, spectrum.dataset.head]).toEqual(["1", "2"]);
    // a click writes the shared selection; the view follows it
    cells[1]!.click();
    expect([selection.get("layer"), selection.get("head")]).toEqual([0, 1]);
    expect(selection.saved).toHaveLength(1);
    await settle();
    expect([spectrum.dataset.layer, spectrum.dataset.head]).toEqual(["0", "1"]);
    // the token map of the selected head was asked through the channel and drawn
    const asked = model.sent.filter((m) => m.name === "query").map((m) => m.payload as Record<string, unknown>);
    expect(asked.at(-1)).toMatchObject({ layer: 0, head: 1, k: 3, tokens: [7] });
    expect(el.textContent).toContain(" a".trim());
    await unmount();
    expect(listeners(model)).toBe(0);
    expect(listeners(selection)).toBe(0);
  });

  it("shows the kernel's error when the spectra cannot be computed", async () => {
    const model = new MockModel(state(), {
      spectrum: () => {
        throw new Error("NotImplementedError: no spectra in float16");
      },
    });
    withSelection(model);
    const { el, unmount } = await mount(ovBrowser, model);
    await settle();
    const banner = el.querySelector<HTMLElement>(".cw-error")!;
    expect(banner.hidden).toBe(false);
    expect(banner.textContent).toContain("NotImplementedError: no spectra in float16");
    await unmount();
  });

  it("names the typed entry the kernel refused", async () => {
    const model = new MockModel({ ...spectra(), ...state(), ...spectra() }, {
      query: (p) => {
        if ((p.tokens as unknown[]).includes("The quick")) {
          throw Object.assign(new Error("'The quick' is not a single token"), { detail: { entry: "The quick", pieces: [{ id: 1, text: "The" }, { id: 2, text: " quick" }] } });
        }
        return query(p);
      },
    });
    withSelection(model);
    const { el, unmount } = await mount(ovBrowser, model);
    const input = el.querySelector<HTMLInputElement>(".cw-ov-input")!;
    input.value = "The quick";
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    input.closest("form")?.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    await settle();
    expect(el.textContent).toContain("'The quick' is not a single token");
    await unmount();
  });
});

describe("AttentionExplorer", async () => {
  const { default: attentionExplorer } = await import("../src/attention_explorer");
  const { S } = AE;
  const state = attentionState;

  it("asks the kernel for a head it lacks, draws it in full, and shows why when refused", async () => {
    const model = new MockModel(state(), {
      pattern: (p) => {
        if (p.head === 1 && p.layer === 1) throw new Error("head 1 is out of range; this model has heads 0..0");
        return { layer: p.layer, head: p.head, run: p.run, pattern: wire("float32", [S, S], causal(0.2)) };
      },
    });
    const selection = withSelection(model, { layer: 0, head: 0 });
    const { el, unmount } = await mount(attentionExplorer, model);
    const head = el.querySelector<HTMLElement>(".cw-ae-head")!;
    expect([head.dataset.layer, head.dataset.head, head.dataset.resolution]).toEqual(["0", "0", "full"]);
    expect(model.sent).toHaveLength(0); // the bank had it
    selection.set("head", 1);
    await settle();
    expect(model.sent.map((m) => [m.name, (m.payload as { head: number }).head])).toEqual([["pattern", 1]]);
    expect([head.dataset.head, head.dataset.resolution]).toEqual(["1", "full"]);
    selection.set("layer", 1);
    await settle();
    expect(head.dataset.resolution).toBe("preview"); // drawn from the thumbnail meanwhile
    expect(el.textContent).toContain("head 1 is out of range; this model has heads 0..0");
    await unmount();
    expect(listeners(model)).toBe(0);
    expect(listeners(selection)).toBe(0);
  });

  it("draws a selected pair's two patterns side by side, both weights on hover, and one again when cleared", async () => {
    const model = new MockModel(state(), {
      pattern: (p) => ({ layer: p.layer, head: p.head, run: p.run, pattern: wire("float32", [S, S], causal(0.2)) }),
    });
    const selection = withSelection(model, { layer: 1, head: 1, pair: [0, 0, 1, 1] });
    const { el, unmount } = await mount(attentionExplorer, model);
    await settle();
    const root = el.querySelector<HTMLElement>(".cw-attention-explorer")!;
    const head = el.querySelector<HTMLElement>(".cw-ae-head")!;
    expect(el.querySelectorAll(".cw-heatmap")).toHaveLength(2);
    const pair = el.querySelector<HTMLElement>(".cw-ae-pair")!;
    expect(root.dataset.pair).toBe("0 0 1 1");
    expect(root.classList.contains("cw-ae-paired")).toBe(true);
    expect(pair.nextElementSibling).toBe(head); // the writer left of the reader
    expect([pair.dataset.layer, pair.dataset.head, pair.dataset.resolution]).toEqual(["0", "0", "full"]); // from the bank
    expect([head.dataset.layer, head.dataset.head, head.dataset.resolution]).toEqual(["1", "1", "full"]); // asked for
    expect(pair.querySelector(".cw-panel-title, h3, [class*=title]")!.textContent).toContain("Layer 0 · Head 0 · writes");
    expect(head.textContent).toContain("Layer 1 · Head 1 · reads");
    expect(pair.textContent).toContain("L0H0 → L1H1");
    // the grid rings the writer beside the selected reader
    expect(el.querySelector('.cw-head-grid-cell[data-layer="0"][data-head="0"]')!.getAttribute("data-second")).toBe("true");
    expect(el.querySelector('.cw-head-grid-cell[data-layer="1"][data-head="1"]')!.getAttribute("aria-pressed")).toBe("true");
    // another head (the kernel's Selection clears the pair with it): one pattern again
    selection.set("pair", []);
    selection.set("head", 0);
    await settle();
    expect(root.dataset.pair).toBe("");
    expect(el.querySelector(".cw-ae-pair")).toBeNull(); // removed: one heatmap again
    expect(el.querySelectorAll(".cw-heatmap")).toHaveLength(1);
    expect(el.querySelector('.cw-head-grid-cell[data-second="true"]')).toBeNull();
    await unmount();
    expect(listeners(model)).toBe(0);
    expect(listeners(selection)).toBe(0);
  });

  it("from arrays (cw.attention_heads): no text box or ablation panel, the reason shown, heads still fetched", async () => {
    const model = new MockModel({ ...state(), ablated: [], ablation_mode: "zero", model_name: "from arrays", _model_free: "Made from arrays: no model." }, { pattern: patternHandler(S) });
    const selection = withSelection(model, { layer: 0, head: 0 });
    const { el, unmount } = await mount(attentionExplorer, model);
    expect(el.querySelector("textarea")).toBeNull();
    expect(el.querySelector(".cw-ablation")).toBeNull();
    expect(el.querySelector(".cw-ae-model-free")!.textContent).toBe("Made from arrays: no model.");
    selection.set("head", 1);
    await settle();
    expect(model.sent.map((m) => m.name)).toEqual(["pattern"]);
    expect(el.querySelector<HTMLElement>(".cw-ae-head")!.dataset.resolution).toBe("full");
    const saved = model.saved.length;
    el.querySelector<HTMLElement>(".cw-attention-explorer")!.dispatchEvent(new KeyboardEvent("keydown", { key: "a", bubbles: true }));
    expect(model.saved.length).toBe(saved); // no A key without the panel: nothing sent
    expect(model.get("ablated")).toEqual([]);
    await unmount();
    expect(listeners(model)).toBe(0);
  });
});

describe("LogitLens", async () => {
  const { default: logitLens } = await import("../src/logit_lens");
  const { P } = LL;
  const state = lensState;
  const page = lensPage;

  it("asks for the next page and the attribution through the channel, and shows a kernel error", async () => {
    const model = new MockModel(state(), {
      page: (p) => ({ run: p.run, page: p.page, lens: page(p.page as number) }),
      attribution: () => {
        throw new Error("NotImplementedError: the final-norm probe cannot meet 1e-4 in float16");
      },
    });
    const selection = withSelection(model, { position: 3, lens_layer: 1 });
    const { el, unmount } = await mount(logitLens, model);
    await settle(5);
    const names = model.sent.map((m) => m.name);
    expect(names).toContain("page");
    expect(names).toContain("attribution");
    const pageAsk = model.sent.find((m) => m.name === "page")!.payload as Record<string, unknown>;
    expect(pageAsk).toMatchObject({ run: 1, page: 0, lens: true });
    const root = el.querySelector<HTMLElement>(".cw-logit-lens")!;
    expect(root.dataset.readyCount).toBe(String(P)); // page 0 arrived: every position ready
    const who = el.querySelector<HTMLElement>(".cw-ll-who")!;
    expect(who.dataset.state).toBe("error");
    expect(who.textContent).toContain("NotImplementedError: the final-norm probe cannot meet 1e-4 in float16");
    expect(model.sent.filter((m) => m.name === "attribution")).toHaveLength(1); // not asked again and again
    await unmount();
    expect(listeners(model)).toBe(0);
    expect(listeners(selection)).toBe(0);
  });
});

describe("LogitLens's readouts grid (the kit's rectangular grid)", async () => {
  const { default: logitLens } = await import("../src/logit_lens");
  const { P, R } = LL;

  it("moves the selection by the grid keys over the whole text, and picks a cell's page position", async () => {
    const model = new MockModel(lensState(), { page: pageHandler, attribution: () => ({}) });
    const selection = withSelection(model, { position: 3, lens_layer: 1 });
    const { el, unmount } = await mount(logitLens, model);
    await settle(5);
    const scroller = el.querySelector<HTMLElement>(".cw-ll-grid .cw-rect-grid-scroll")!;
    const press = async (key: string, ctrlKey = false) => {
      scroller.dispatchEvent(new KeyboardEvent("keydown", { key, ctrlKey, bubbles: true, cancelable: true }));
      await settle();
      return [selection.get("lens_layer"), selection.get("position")];
    };
    expect(await press("ArrowLeft")).toEqual([1, 2]); // off the page shown (positions 2-3): still one step
    expect(await press("ArrowLeft")).toEqual([1, 1]);
    expect(await press("Home", true)).toEqual([0, 0]); // the grid's first cell
    expect(await press("ArrowUp")).toEqual([0, 0]); // stops at the edge
    expect(await press("End")).toEqual([0, P - 1]); // the readout's last position
    expect(await press("Home", true)).toEqual([0, 0]);
    expect(await press("End", true)).toEqual([R - 1, P - 1]); // the output's last position
    const grid = el.querySelector<HTMLElement>(".cw-ll-grid")!; // now on the page of positions 2-3
    const colW = Number(grid.dataset.colWidth);
    el.querySelector<HTMLElement>(".cw-ll-grid-plot")!.dispatchEvent(
      new MouseEvent("click", { clientX: 1.5 * colW, clientY: HEADER_HEIGHT + 0.5 * ROW_HEIGHT, bubbles: true }),
    );
    await settle();
    expect([selection.get("lens_layer"), selection.get("position")]).toEqual([0, 3]); // the page's second column
    await unmount();
  });
});

describe("InductionScores", async () => {
  const { default: inductionScores } = await import("../src/induction_scores");
  const { S } = IS;
  const state = inductionState;

  it("sends the typed experiment as a run request, and fetches another head's pattern", async () => {
    const runs: Record<string, unknown>[] = [];
    const model = new MockModel(state(), {
      run: (p) => {
        runs.push(p);
        return {};
      },
      pattern: (p) => ({ layer: p.layer, head: p.head, run: p.run, pattern: wire("float32", [S, S], Array(S * S).fill(0.2)) }),
    });
    const selection = withSelection(model, { layer: 1, head: 0 });
    const { el, unmount } = await mount(inductionScores, model);
    const cells = [...el.querySelectorAll<HTMLElement>(".cw-head-grid-cell")];
    expect(cells.map((c) => Number(c.dataset.score))).toEqual([0.1, 0.2, 0.9, 0.3].map(Math.fround));
    const head = el.querySelector<HTMLElement>(".cw-is-head")!;
    expect([head.dataset.layer, head.dataset.head, head.dataset.resolution]).toEqual(["1", "0", "full"]);
    const [half] = [...el.querySelectorAll<HTMLInputElement>(".cw-is-number")];
    half!.value = "abc"; // what the user typed goes to Python as typed; Python names the bad value
    el.querySelector("form")!.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    await settle();
    expect(runs).toEqual([{ mode: "random", half: "abc", seed: "0", batch: "1" }]);
    cells[1]!.click(); // layer 0 head 1: not in the bank, asked through the channel
    await settle();
    expect(model.sent.filter((m) => m.name === "pattern").at(-1)!.payload).toEqual({ layer: 0, head: 1, run: 2 });
    expect([head.dataset.layer, head.dataset.head, head.dataset.resolution]).toEqual(["0", "1", "full"]);
    await unmount();
    expect(listeners(model)).toBe(0);
    expect(listeners(selection)).toBe(0);
  });
});

describe("PatchingExplorer", async () => {
  const { default: patchingExplorer } = await import("../src/patching_explorer");
  const L = 2, H = 2, S = 4;
  const heads = [0.1, -0.2, 0.9, 0.3];
  const state = () => ({
    clean: "a b c", corrupted: "a x c", metric: "logit_diff", grid: "heads", method: "attribution",
    model_name: "tiny", n_layers: L, n_heads: H, grids: ["resid_pre", "attn_out", "heads", "heads_by_pos"],
    clean_tokens: ["<bos>", "a", " b", " c"], corrupted_tokens: ["<bos>", "a", " x", " c"], differing: [2],
    target_str: " d", distractor_str: " e", read_position: 3, clean_value: 2.5, corrupted_value: -1,
    approx: {
      resid_pre: wire("float32", [L, S], [0, 0, 1, 0, 0, 0, 0.5, 0.5]),
      attn_out: wire("float32", [L, S], Array(L * S).fill(0.1)),
      heads: wire("float32", [L, H], heads),
      heads_by_pos: wire("float32", [L, H, S], Array(L * H * S).fill(0.05)),
    },
    exact: {}, run_id: 3, busy: "", error: "", _static: false,
  });

  it("draws the estimates, moves the selection on a click, and computes the exact grid in chunks", async () => {
    const asked: Record<string, unknown>[] = [];
    let model: MockModel;
    model = new MockModel(state(), {
      exact: (p) => {
        asked.push(p);
        const done = asked.length;
        if (done === 2) model.set("exact", { heads: wire("float32", [L, H], [0.2, -0.1, 0.8, 0.4]) });
        return { grid: p.grid, run: p.run, done, total: 2 };
      },
    });
    const selection = withSelection(model, { layer: 0, head: 0 });
    const { el, unmount } = await mount(patchingExplorer, model);
    const cells = () => [...el.querySelectorAll<HTMLElement>(".cw-pe-cell")];
    expect(cells().map((c) => Number(c.dataset.value))).toEqual(heads.map(Math.fround));
    expect(cells().map((c) => c.getAttribute("aria-label"))).toEqual(["layer 0 head 0", "layer 0 head 1", "layer 1 head 0", "layer 1 head 1"]);
    // position 2 of both prompts is marked, and its column in a by-position grid
    expect([...el.querySelectorAll<HTMLElement>(".cw-token[data-differs]")].map((t) => t.dataset.index)).toEqual(["2", "2"]);
    cells()[2]!.click();
    await settle();
    expect([selection.get("layer"), selection.get("head")]).toEqual([1, 0]);
    expect(cells()[2]!.getAttribute("aria-pressed")).toBe("true");
    const root = el.querySelector<HTMLElement>(".cw-patching-explorer")!;
    expect(el.querySelector<HTMLElement>(".cw-pe-scatter")!.hidden).toBe(true);
    el.querySelector<HTMLButtonElement>(".cw-pe-compute")!.click();
    await settle(6);
    expect(asked).toEqual([{ grid: "heads", run: 3 }, { grid: "heads", run: 3 }]);
    expect(root.dataset.exactReady).toBe("true");
    expect(el.querySelector<HTMLElement>(".cw-pe-scatter")!.hidden).toBe(false);
    expect(el.querySelectorAll(".cw-pe-dot").length).toBe(4);
    el.querySelector<HTMLButtonElement>('.cw-pe-method [data-value="exact"]')!.click();
    await settle();
    expect(model.get("method")).toBe("exact");
    expect(root.dataset.shown).toBe("exact");
    expect(cells().map((c) => Number(c.dataset.value))).toEqual([0.2, -0.1, 0.8, 0.4].map(Math.fround));
    // the residual tab: a click selects the lens readout and the position
    el.querySelector<HTMLButtonElement>('.cw-tab[data-value="resid_pre"]')!.click();
    await settle();
    expect(root.dataset.grid).toBe("resid_pre");
    expect(root.dataset.shown).toBe("attribution"); // no exact residual grid yet: the estimate
    cells()[6]!.click();
    await settle();
    expect([selection.get("lens_layer"), selection.get("position")]).toEqual([1, 2]);
    await unmount();
    expect(listeners(model)).toBe(0);
    expect(listeners(selection)).toBe(0);
  });

  it("stops asking for chunks when cancelled", async () => {
    const model = new MockModel(state(), { exact: (p) => ({ grid: p.grid, run: p.run, done: 1, total: 16 }) });
    model.auto = false;
    withSelection(model);
    const { el, unmount } = await mount(patchingExplorer, model);
    el.querySelector<HTMLButtonElement>(".cw-pe-compute")!.click();
    await settle();
    const progress = el.querySelector<HTMLElement>(".cw-pe-progress")!;
    expect(progress.hidden).toBe(false);
    model.release();
    await settle();
    expect(progress.getAttribute("aria-valuenow")).toBe("1");
    expect(model.held.length).toBe(1); // the next chunk asked for
    el.querySelector<HTMLButtonElement>(".cw-pe-cancel")!.click();
    await settle();
    model.release(); // its answer comes, and no more are asked for
    await settle();
    expect(model.sent.filter((m) => m.name === "exact").length).toBe(2);
    expect(progress.hidden).toBe(true);
    expect(el.querySelector<HTMLElement>(".cw-pe-compute")!.hidden).toBe(false);
    await unmount();
  });
});

describe("PathExplorer", async () => {
  const { default: pathExplorer } = await import("../src/path_explorer");
  const terms = [
    { label: "L0H0 → L1H1", kind: "pair", value: 2, top: [[" *", 3]], pair: [0, 0, 1, 1] },
    { label: "L1H1", kind: "head", value: -1, top: [[" x", 1]], layer: 1, head: 1 },
    { label: "direct", kind: "direct", value: 0.5, top: [] },
  ];
  const expansion = (p: Record<string, unknown>) => ({
    run: p.run, mode: p.mode, position: p.position, target: 7, target_str: " *", token: " w", next: " *",
    logit: 1.5, model_logit: 1.5, terms, reading: `reading of ${String(p.mode)} at ${String(p.position)}`,
  });
  const state = () => ({
    text: "a w * a w", target: null, mode: "frozen", model_name: "tiny", n_layers: 2, n_heads: 2, attn_only: true,
    tokens: ["<bos>", "a", " w", " *", " a", " w"], _expansions: [], target_error: "", run_id: 1, busy: "", error: "", _static: false,
  });

  it("asks for the selected position, draws the waterfall, and a pair's click selects both heads", async () => {
    const asked: Record<string, unknown>[] = [];
    const model = new MockModel(state(), { expand: (p) => (asked.push(p), expansion(p)) });
    const selection = withSelection(model, { position: 4 });
    const { el, unmount } = await mount(pathExplorer, model);
    await settle(5);
    expect(asked).toEqual([{ run: 1, position: 4, mode: "frozen", target: null }]);
    const bars = [...el.querySelectorAll<HTMLElement>(".cw-px-bar")];
    expect(bars.map((b) => [b.dataset.kind, Number(b.dataset.value)])).toEqual([["pair", 2], ["head", -1], ["direct", 0.5], ["total", 1.5]]);
    expect(el.querySelector(".cw-px-reading")!.textContent).toBe("reading of frozen at 4");
    bars[0]!.click();
    expect([selection.get("layer"), selection.get("head"), selection.get("pair")]).toEqual([1, 1, [0, 0, 1, 1]]);
    await settle();
    expect(bars[0]!.getAttribute("aria-pressed")).toBe("true");
    expect(bars[1]!.getAttribute("aria-pressed")).toBe("false"); // its second head alone is not the pair
    bars[1]!.click(); // that head alone: the pair is cleared
    expect([selection.get("layer"), selection.get("head"), selection.get("pair")]).toEqual([1, 1, []]);
    await settle();
    expect(bars.map((b) => b.getAttribute("aria-pressed")).slice(0, 2)).toEqual(["false", "true"]);
    (el.querySelector<HTMLElement>('.cw-token[data-index="2"]')!).click();
    await settle(5);
    expect(asked.at(-1)).toMatchObject({ position: 2 });
    expect(el.querySelector<HTMLElement>(".cw-path-explorer")!.dataset.position).toBe("2");
    [...el.querySelectorAll<HTMLButtonElement>(".cw-toggle-group button")].find((b) => b.textContent === "weights only")!.click();
    expect(model.get("mode")).toBe("weights");
    await settle(5);
    expect(asked.at(-1)).toMatchObject({ position: 2, mode: "weights" });
    await unmount();
    expect(listeners(model)).toBe(0);
    expect(listeners(selection)).toBe(0);
  });

  it("keeps the last drawing and says why for a position this text does not have", async () => {
    const model = new MockModel(state(), { expand: (p) => expansion(p) });
    const selection = withSelection(model, { position: 3 });
    const { el, unmount } = await mount(pathExplorer, model);
    await settle(5);
    selection.set("position", 40);
    selection.emit("change:position");
    await settle(5);
    expect(el.querySelector(".cw-error")!.textContent).toContain("position 40 is out of range; this text has 6 tokens, so positions 0..5");
    expect(el.querySelector<HTMLElement>(".cw-path-explorer")!.dataset.position).toBe("3");
    expect(el.querySelectorAll(".cw-px-bar")).toHaveLength(4);
    await unmount();
  });
});
