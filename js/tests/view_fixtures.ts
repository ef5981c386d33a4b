/**
 * The traits and kernel handlers of a tiny model's views, for tests that render views against
 * `MockModel` (views.test.ts, one view at a time; circuit_explorer.test.ts, all four linked).
 */
import type { Handler } from "./mock_model";
import { wire } from "./mock_model";

/** AttentionExplorer on 2 layers x 2 heads, 3 tokens; head 0.0 is in the bank. */
export const AE = { L: 2, H: 2, S: 3 };
export const causal = (scale: number) => [1, 0, 0, 0.5, 0.5, 0, scale, 0.3, 0.7 - scale + 0.3].map((v) => Math.max(0, v));
export const attentionState = () => ({
  text: "a b", tokens: ["<bos>", "a", " b"], model_name: "tiny", n_layers: AE.L, n_heads: AE.H, run_id: 4,
  thumbnails: wire("uint8", [AE.L, AE.H, AE.S, AE.S], Array.from({ length: AE.L * AE.H * AE.S * AE.S }, (_, i) => (i * 7) % 256)),
  head_scores: [{ key: "entropy", label: "entropy", help: "", values: wire("float32", [AE.L, AE.H], [0.1, 0.2, 0.3, 0.4]) }],
  _bank: { run: 4, heads: [[0, 0]], patterns: wire("float32", [1, AE.S, AE.S], causal(0)) },
  busy: "", error: "", _static: false,
});
export const patternHandler = (size: number): Handler => (p) =>
  ({ layer: p.layer, head: p.head, run: p.run, pattern: wire("float32", [size, size], Array(size * size).fill(1 / size)) });

/** OVBrowser on 2 layers x 3 heads, d_head 2; the spectra arrive when asked for. */
export const OV = { L: 2, H: 3, D: 2 };
export const copying = [0.9, -0.5, 0.1, 0.2, -0.9, 0.4];
export const spectra = () => ({
  copying: wire("float32", [OV.L, OV.H], copying),
  positive_mass: wire("float32", [OV.L, OV.H], copying.map((c) => (c + 1) / 2)),
  eigenvalues: wire("float32", [OV.L, OV.H, OV.D, 2], Array.from({ length: OV.L * OV.H * OV.D * 2 }, (_, i) => (i % 4) - 1.5)),
});
export const ovState = () => ({
  model_name: "tiny", n_layers: OV.L, n_heads: OV.H, d_head: OV.D, d_vocab: 50, circuit: "full", k: 3, text: "",
  defaults: { kind: "frequent", choices: [{ id: 7, text: " the" }], tokens: [{ id: 7, text: " the" }], targets: [{ id: 7, text: " the" }] },
  copying: null, positive_mass: null, eigenvalues: null, busy: "", error: "", _answers: [], _static: false,
});
export const query: Handler = (p) => ({
  mode: p.mode, layer: p.layer, head: p.head, k: p.k, given: [7], given_strs: [" the"],
  top_strs: [[" a", " b", " c"]], top_ids: wire("int32", [1, 3], [1, 2, 3]), top_values: wire("float32", [1, 3], [3, 2, 1]),
});

/** LogitLens on 2 readouts x 4 positions, pages of 2, top 2; page 1 came with the lens. */
export const LL = { R: 2, P: 4, K: 2, PAGE: 2 };
const vocab = { ids: wire("int32", [3], [1, 2, 3]), strs: [" x", " y", " z"] };
export const lensPage = (n: number) => ({
  page: n, start: n * LL.PAGE,
  top_ids: wire("int32", [LL.R, LL.PAGE, LL.K], Array.from({ length: LL.R * LL.PAGE * LL.K }, (_, i) => 1 + (i % 3))),
  top_probs: wire("float32", [LL.R, LL.PAGE, LL.K], Array.from({ length: LL.R * LL.PAGE * LL.K }, (_, i) => (i % 2 ? 0.2 : 0.6))),
  final_ids: wire("int32", [LL.PAGE], [2, 3]),
  target_probs: wire("float32", [LL.R, LL.PAGE], [0.1, 0.2, 0.5, 0.6]),
  target_ranks: wire("int32", [LL.R, LL.PAGE], [3, 2, 1, 1]),
  kl: wire("float32", [LL.R, LL.PAGE], [1.5, 1.0, 0, 0]),
  vocab,
});
export const lensState = () => ({
  text: "a b c", tokens: ["<bos>", "a", " b", " c"], model_name: "tiny", n_layers: 1, n_heads: 2, d_vocab: 4,
  readouts: [{ short: "emb", long: "embeddings" }, { short: "out", long: "output" }],
  lens: { run: 1, token_ids: wire("int32", [LL.P], [0, 1, 2, 3]), pages: [lensPage(1)], vocab },
  _target: null, _attribution: null, target_error: "", run_id: 1, busy: "", error: "",
  k: LL.K, page_size: LL.PAGE, _static: false,
});
export const pageHandler: Handler = (p) => ({ run: p.run, page: p.page, lens: lensPage(p.page as number) });

/** InductionScores on 2 layers x 2 heads, 5 tokens; head 1.0 is in the bank. */
export const IS = { L: 2, H: 2, S: 5 };
const scoreGrid = (values: number[]) => wire("float32", [IS.L, IS.H], values);
export const inductionState = () => ({
  half: 2, seed: 0, batch: 1, mode: "random", text: "", kind: "induction", model_name: "tiny",
  n_layers: IS.L, n_heads: IS.H, max_half: 10, max_batch: 8, tokens: ["<bos>", "a", "b", "a", "b"],
  _scores: { induction: scoreGrid([0.1, 0.2, 0.9, 0.3]), previous_token: scoreGrid([0.8, 0, 0, 0]), duplicate_token: scoreGrid([0, 0, 0, 0.5]) },
  _top: { induction: [[1, 0]], previous_token: [[0, 0]], duplicate_token: [[1, 1]] },
  _targets: { induction: [[3, 2, 2]], previous_token: [[1, 0, 4]], duplicate_token: [[3, 1, 2]] },
  _shown: { mode: "random", seq: IS.S, half: 2, seed: 0, batch: 1 },
  _bank: { run: 2, heads: [[1, 0]], patterns: wire("float32", [1, IS.S, IS.S], Array.from({ length: IS.S * IS.S }, (_, i) => (i % IS.S <= Math.floor(i / IS.S) ? 0.2 : 0))) },
  run_id: 2, busy: "", error: "", _static: false,
});
