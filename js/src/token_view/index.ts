/**
 * TokenView: the text as the model's tokens, each coloured by the probability the model gave
 * it as the next token, P(token_i | tokens_<i). The first token has nothing before it to be
 * predicted from and is drawn in the neutral "no value" style.
 *
 * State (Python: circuitwidgets/widgets/token_view.py):
 *   text        the input text (editable here; the kernel re-runs the model)
 *   tokens      display strings, one per token
 *   token_ids   int32 [seq]           (binary, see kit/decode.ts)
 *   probs       float32 [seq], NaN where there is no prediction (binary)
 *   error       "" or why the last text could not be shown (the previous tokens stay drawn)
 *   model_name  for the header
 *   _static     true in a static HTML export (no kernel: the text is read-only)
 *   _model_free true when made from values (cw.colored_tokens): no text box, no ids, `probs`
 *               holds the values, coloured over `_domain` (float32 [low, high]; diverging if
 *               it spans 0)
 *
 * For tests and tools the DOM carries: `.cw-token-view[data-token-count]`, and on every token
 * `data-index`, `data-token-id` and (when it has one) `data-prob` (from values: `data-value`).
 */
import type { RenderProps } from "@anywidget/types";
import "./token_view.css";
import { sequential, type ColorScale } from "../kit/color_scale";
import { decode, valueAt, type NDArray, type WireArray } from "../kit/decode";
import { formatProbability, formatTick } from "../kit/format";
import { createLegend } from "../kit/legend";
import { createLook, startDrawing } from "../kit/lifecycle";
import { createTokenStrip, visibleToken } from "../kit/token_strip";
import { createView } from "../kit/view";
import { watch } from "../kit/watch";
import { withSignal } from "../kit/render";
import { formatValue, valueScale } from "./state";

interface TokenViewState {
  [key: string]: unknown;
  text: string;
  tokens: string[];
  token_ids: WireArray | null;
  probs: WireArray | null;
  error: string;
  model_name: string;
  _static: boolean;
  _model_free: boolean;
  _domain: WireArray | null;
}

/** Five ticks across a scale's domain. */
const ticksOf = (scale: ColorScale) => [0, 0.25, 0.5, 0.75, 1].map((u) => scale.domain[0] + u * (scale.domain[1] - scale.domain[0]));

const NO_PREDICTION = "first token: nothing before it to predict from";

function render({ model, el, signal }: RenderProps<TokenViewState>) {
  const fromValues = model.get("_model_free"); // fixed for the widget's life
  const domain = model.get("_domain");
  const [lo = 0, hi = 1] = domain ? Array.from(decode(domain).data, Number) : [];
  const { frame, banner, tooltip, showError } = createView(model, el, signal, {
    title: fromValues ? "Tokens" : "Next-token probability",
    className: "cw-token-view",
    textInput: fromValues ? undefined : { label: "Text" },
  });
  const strip = createTokenStrip(frame.body, {
    label: fromValues ? "Tokens, coloured by their values" : "Tokens, coloured by the probability the model gave each one",
    onInspect: (i, span) => tooltip.show(span, describe(i)),
    onLeave: () => tooltip.hide(),
  });
  const legend = createLegend(frame.body, {
    title: fromValues ? "value" : "P(token | tokens before it)",
    ticks: [0, 0.25, 0.5, 0.75, 1],
    format: formatTick,
    swatches: fromValues ? [] : [{ label: "no prediction (first token)", className: "cw-token-none" }],
  });

  let tokens: string[] = [];
  let ids: NDArray | null = null;
  let probs: NDArray | null = null;
  const look = createLook(frame.root, fromValues ? valueScale(lo, hi) : sequential); // read again once the view is in the page
  const label = fromValues ? "value" : "probability";
  const format = (v: number) => (fromValues ? formatValue(v) : formatProbability(v));

  function describe(i: number) {
    const p = probs ? valueAt(probs, i) : NaN;
    const rows: [string, string][] = [["position", String(i)]];
    if (!fromValues) rows.push(["token id", ids ? String(valueAt(ids, i)) : "—"]);
    rows.push([label, format(p)]);
    return { title: visibleToken(tokens[i] ?? ""), rows, note: Number.isFinite(p) ? undefined : NO_PREDICTION };
  }

  function paint() {
    strip.paint((i) => look.scale(probs ? valueAt(probs, i) : NaN));
    legend.setScale(look.scale, ticksOf(look.scale));
  }

  function drawData() {
    const nextTokens = model.get("tokens");
    const wireIds = model.get("token_ids");
    const wireProbs = model.get("probs");
    if (!wireIds || !wireProbs) return;
    const nextIds = decode(wireIds);
    const nextProbs = decode(wireProbs);
    const idCount = fromValues ? nextTokens.length : nextIds.data.length; // values come without ids
    if (idCount !== nextTokens.length || nextProbs.data.length !== nextTokens.length) {
      banner.set(
        `internal error: ${nextTokens.length} tokens but ${nextIds.data.length} ids and ` +
          `${nextProbs.data.length} probabilities`,
      );
      return;
    }
    tokens = nextTokens;
    ids = nextIds;
    probs = nextProbs;
    tooltip.hide();
    strip.setTokens(tokens, (i) => {
      const p = valueAt(nextProbs, i);
      const attrs: Record<string, string> = { "aria-label": `token ${i}: ${JSON.stringify(tokens[i])}, ${label} ${format(p)}` };
      if (!fromValues) attrs["data-token-id"] = String(valueAt(nextIds, i));
      if (Number.isFinite(p)) attrs[fromValues ? "data-value" : "data-prob"] = String(p);
      return attrs;
    });
    paint();
    showError(); // replaces an earlier "internal error" with the model's own error state
    frame.root.dataset.tokenCount = String(tokens.length);
    frame.setMeta([model.get("model_name"), `${tokens.length} tokens`]);
  }

  watch(model, ["tokens", "token_ids", "probs", "model_name"], drawData, signal);
  const recolour = () => {
    look.read();
    paint();
  };
  startDrawing(frame.root, signal, { recolour, draw: drawData });
}

export default { render: withSignal(render) };
