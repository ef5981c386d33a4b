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
 *
 * For tests and tools the DOM carries: `.cw-token-view[data-token-count]`, and on every token
 * `data-index`, `data-token-id` and (when it has one) `data-prob`.
 */
import type { RenderProps } from "@anywidget/types";
import "./token_view.css";
import { sequential } from "../kit/color_scale";
import { decode, valueAt, type NDArray, type WireArray } from "../kit/decode";
import { formatProbability, formatTick } from "../kit/format";
import { createLegend } from "../kit/legend";
import { createLook, startDrawing } from "../kit/lifecycle";
import { createTokenStrip, visibleToken } from "../kit/token_strip";
import { createView } from "../kit/view";
import { watch } from "../kit/watch";
import { withSignal } from "../kit/render";

interface TokenViewState {
  [key: string]: unknown;
  text: string;
  tokens: string[];
  token_ids: WireArray | null;
  probs: WireArray | null;
  error: string;
  model_name: string;
  _static: boolean;
}

const NO_PREDICTION = "first token: nothing before it to predict from";

function render({ model, el, signal }: RenderProps<TokenViewState>) {
  const { frame, banner, tooltip, showError } = createView(model, el, signal, {
    title: "Next-token probability",
    className: "cw-token-view",
    textInput: { label: "Text" },
  });
  const strip = createTokenStrip(frame.body, {
    label: "Tokens, coloured by the probability the model gave each one",
    onInspect: (i, span) => tooltip.show(span, describe(i)),
    onLeave: () => tooltip.hide(),
  });
  const legend = createLegend(frame.body, {
    title: "P(token | tokens before it)",
    ticks: [0, 0.25, 0.5, 0.75, 1],
    format: formatTick,
    swatches: [{ label: "no prediction (first token)", className: "cw-token-none" }],
  });

  let tokens: string[] = [];
  let ids: NDArray | null = null;
  let probs: NDArray | null = null;
  const look = createLook(frame.root, sequential); // read again once the view is in the page

  function describe(i: number) {
    const p = probs ? valueAt(probs, i) : NaN;
    return {
      title: visibleToken(tokens[i] ?? ""),
      rows: [
        ["position", String(i)],
        ["token id", ids ? String(valueAt(ids, i)) : "—"],
        ["probability", formatProbability(p)],
      ] as const,
      note: Number.isFinite(p) ? undefined : NO_PREDICTION,
    };
  }

  function paint() {
    strip.paint((i) => look.scale(probs ? valueAt(probs, i) : NaN));
    legend.setScale(look.scale);
  }

  function drawData() {
    const nextTokens = model.get("tokens");
    const wireIds = model.get("token_ids");
    const wireProbs = model.get("probs");
    if (!wireIds || !wireProbs) return;
    const nextIds = decode(wireIds);
    const nextProbs = decode(wireProbs);
    if (nextIds.data.length !== nextTokens.length || nextProbs.data.length !== nextTokens.length) {
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
      const attrs: Record<string, string> = {
        "data-token-id": String(valueAt(nextIds, i)),
        "aria-label": `token ${i}: ${JSON.stringify(tokens[i])}, probability ${formatProbability(p)}`,
      };
      if (Number.isFinite(p)) attrs["data-prob"] = String(p);
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
