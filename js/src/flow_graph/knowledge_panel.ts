/**
 * FlowGraph's knowledge neurons: a button that asks the kernel for them (Dai et al.'s
 * integrated gradients, `steps` passes a layer; the view's progress line shows how far it is)
 * and the ranked list that comes back, linked to the graph's neuron nodes both ways: hovering
 * a row highlights its node (and hovering the node its row), clicking a row pins the highlight
 * and scrolls the node into view. A neuron the graph does not draw says why (state.ts
 * `knowledgeStatus`).
 *
 * Rows are `<li class="cw-fg-kn-row" data-id="L3N17" data-status="drawn|hidden|pruned">`;
 * the list `.cw-fg-kn-list[data-count]`.
 */
import { createButton } from "../kit/button";
import { formatProbability } from "../kit/format";
import type { Knowledge, KnowledgeStatus } from "./state";

export interface KnowledgePanelOptions {
  /** The button: ask the kernel for the knowledge neurons. */
  onAsk: () => void;
  /** A row is hovered (`id`) or left (`null`). */
  onHover: (id: string | null) => void;
  /** A row is clicked (or Enter pressed on it). */
  onPick: (id: string) => void;
}

export interface KnowledgeContext {
  knowledge: Knowledge | null;
  /** Whether the model has MLP neurons and a kernel to ask. */
  canAsk: boolean;
  status: (id: string) => KnowledgeStatus;
  vocab: ReadonlyMap<number, string>;
}

export interface KnowledgePanel {
  readonly element: HTMLElement;
  draw(context: KnowledgeContext): void;
  /** Mark the row of neuron `id` (a hovered or pinned node), or none. */
  highlight(ids: ReadonlySet<string>): void;
}

const STATUS_TEXT: Record<KnowledgeStatus, string> = {
  drawn: "",
  hidden: "hidden (threshold or a collapsed layer)",
  pruned: "not in the graph (pruned)",
};

export function createKnowledgePanel(parent: HTMLElement, options: KnowledgePanelOptions, signal: AbortSignal): KnowledgePanel {
  const element = document.createElement("div");
  element.className = "cw-fg-knowledge";
  const bar = document.createElement("div");
  bar.className = "cw-fg-kn-bar";
  const button = createButton("Find knowledge neurons", "Rank the MLP neurons by integrated gradients for this prediction (one batched pass per layer and step)");
  button.classList.add("cw-fg-kn-ask");
  const summary = document.createElement("span");
  summary.className = "cw-fg-kn-summary";
  bar.append(button, summary);
  const list = document.createElement("ol");
  list.className = "cw-fg-kn-list";
  element.append(bar, list);
  parent.append(element);

  button.addEventListener("click", () => options.onAsk(), { signal });
  const rowOf = (t: EventTarget | null) => (t instanceof Element ? t.closest<HTMLElement>(".cw-fg-kn-row") : null);
  list.addEventListener("pointerover", (e) => {
    const row = rowOf(e.target);
    if (row) options.onHover(row.dataset.id ?? null);
  }, { signal });
  list.addEventListener("pointerleave", () => options.onHover(null), { signal });
  list.addEventListener("click", (e) => {
    const row = rowOf(e.target);
    if (row?.dataset.id) options.onPick(row.dataset.id);
  }, { signal });
  list.addEventListener("keydown", (e) => {
    const row = rowOf(e.target);
    if (!row?.dataset.id) return;
    if (e.key === "Enter" || e.key === " ") options.onPick(row.dataset.id);
    else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      const next = (e.key === "ArrowDown" ? row.nextElementSibling : row.previousElementSibling) as HTMLElement | null;
      next?.focus();
    } else return;
    e.preventDefault();
    e.stopPropagation();
  }, { signal });
  list.addEventListener("focusin", (e) => {
    const row = rowOf(e.target);
    if (row) options.onHover(row.dataset.id ?? null);
  }, { signal });

  function draw(ctx: KnowledgeContext) {
    button.hidden = !ctx.canAsk;
    const kn = ctx.knowledge;
    button.textContent = kn ? "Find them again" : "Find knowledge neurons";
    summary.textContent = kn
      ? `Knowledge neurons of ${JSON.stringify(kn.targetStr)} at position ${kn.position}: integrated gradients, ${kn.steps} steps a layer (attribution in probability)`
      : ctx.canAsk ? "Not computed yet: it costs one batched pass per layer." : "";
    list.dataset.count = String(kn?.rows.length ?? 0);
    list.replaceChildren(...(kn?.rows ?? []).map((r, i) => {
      const li = document.createElement("li");
      const status = ctx.status(r.id);
      li.className = "cw-fg-kn-row";
      li.tabIndex = i === 0 ? 0 : -1;
      Object.assign(li.dataset, { id: r.id, status, layer: String(r.layer), neuron: String(r.neuron) });
      const rank = document.createElement("span");
      rank.className = "cw-fg-kn-rank";
      rank.textContent = `${i + 1}.`;
      const name = document.createElement("span");
      name.className = "cw-fg-kn-name";
      name.textContent = r.id;
      const score = document.createElement("span");
      score.className = "cw-fg-kn-score";
      score.textContent = formatProbability(r.score);
      const tokens = document.createElement("span");
      tokens.className = "cw-fg-kn-tokens";
      tokens.textContent = r.top.map((id) => JSON.stringify(ctx.vocab.get(id) ?? `#${id}`)).join(" ");
      li.append(rank, name, score, tokens);
      if (status !== "drawn") {
        const note = document.createElement("span");
        note.className = "cw-fg-kn-note";
        note.textContent = STATUS_TEXT[status];
        li.append(note);
      }
      li.setAttribute("aria-label", `${i + 1}. ${r.id}, attribution ${score.textContent}${status === "drawn" ? "" : `, ${STATUS_TEXT[status]}`}`);
      return li;
    }));
  }

  function highlight(ids: ReadonlySet<string>) {
    for (const li of list.querySelectorAll<HTMLElement>(".cw-fg-kn-row")) li.classList.toggle("cw-fg-kn-linked", ids.has(li.dataset.id ?? ""));
  }

  return { element, draw, highlight };
}
