/**
 * LogitLens's data, held in one place: the tokens, readouts, the decoded lens and target, the
 * vocabulary seen so far, the page shown. `createLensNow` builds the `LensNow` every panel reads
 * (shared.ts) and the three ways the data changes: a new lens from the model, a new target,
 * a page's answer.
 */
import type { SharedSelection } from "../kit/selection";
import type { Tooltip } from "../kit/tooltip";
import type { LookReader } from "../kit/lifecycle";
import { addLensPage, addTargetPage, addVocab, decodeLens, maxKl, pageOf, pageSpan, targetOf, type Lens, type Target } from "./data";
import type { PageAnswer } from "./pages";
import type { LensModel, LensNow, Readout } from "./shared";
import { indexOr } from "./state";
import type { WhoPanel } from "./who_panel";

export interface LensData extends LensNow {
  readonly vocab: Map<number, string>;
  /** The page shown. */
  page: number;
  pageSize(): number;
  /** Decode the model's lens (false: none yet), calling `onNewRun` first when it is a new run. */
  load(onNewRun: () => void): boolean;
  /** Take the model's target (and an attribution sent with it, into `who`). */
  loadTarget(who: Pick<WhoPanel, "remember">): void;
  /** Add a page's answer: "shown" if it is the page shown, "rescaled" if the KL scale grew. */
  addPage(answer: PageAnswer): "shown" | "rescaled" | "other" | "stale";
}

export function createLensNow(
  model: LensModel, root: HTMLElement, look: LookReader, selection: SharedSelection, tooltip: Tooltip, signal: AbortSignal,
): LensData {
  let tokens: string[] = [];
  let readouts: Readout[] = [];
  let lens: Lens | null = null;
  let target: Target | null = null;
  let klMax = 1;
  const vocab = new Map<number, string>();
  const pageSize = () => Math.max(1, model.get("page_size"));

  const data: LensData = {
    model, root, selection, tooltip, signal, vocab,
    page: 0,
    pageSize,
    lens: () => lens,
    target: () => target,
    tokens: () => tokens,
    readouts: () => readouts,
    lensLayer: () => indexOr(selection.get("lens_layer"), lens?.readouts ?? 1),
    position: () => indexOr(selection.get("position"), lens?.positions ?? 1),
    span: () => pageSpan(data.page, pageSize(), lens?.positions ?? 0),
    targetId: (p) => target?.idAt(p) ?? -1,
    ready: (p) => !!lens && lens.ready[p] === 1 && (target?.ready(p) ?? false),
    tokenStr: (id) => vocab.get(id) ?? `#${id}`,
    isStatic: () => model.get("_static"),
    palette: () => look.palette,
    probScale: () => look.scale,
    klMax: () => klMax,
    load(onNewRun) {
      const wire = model.get("lens");
      if (!wire) return false;
      tokens = model.get("tokens");
      readouts = model.get("readouts");
      if (lens?.run !== wire.run) onNewRun();
      lens = decodeLens(wire, readouts.length, model.get("k"));
      for (const sent of wire.pages) addVocab(vocab, sent.vocab);
      data.page = pageOf(data.position(), pageSize());
      addVocab(vocab, wire.vocab);
      klMax = maxKl(lens);
      return true;
    },
    loadTarget(who) {
      if (!lens) return;
      const picked = model.get("_target");
      target = targetOf(lens, picked);
      if (picked) vocab.set(picked.id, picked.str);
      const a = model.get("_attribution");
      if (a && a.run === lens.run) who.remember(a);
    },
    addPage(answer) {
      if (!lens || answer.run !== lens.run) return "stale";
      const before = klMax;
      if (answer.lens) {
        addVocab(vocab, answer.lens.vocab);
        addLensPage(lens, answer.lens);
        klMax = maxKl(lens);
      }
      if (answer.target && target) addTargetPage(target, answer.target, lens.positions);
      if (answer.page === data.page) return "shown";
      return klMax !== before ? "rescaled" : "other";
    },
  };
  return data;
}
