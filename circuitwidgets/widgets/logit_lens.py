"""LogitLens: what the model would predict if it stopped after each layer, and who wrote it.

Four linked panels:

* **Layer slider** — a readout of the residual stream, from the embeddings (``lens_layer``
  0) through each layer to the model's output (``lens_layer = n_layers``). At that readout
  every position shows its top-1 next-token guess and its probability, marked ✓ where it is
  the token that actually comes next; hover a position for its top-k list, click it to select
  it. Arrow keys, Home and End move the slider.
* **Grid** — readouts down, positions across: each cell the top-1 token at that readout,
  shaded by its probability, or by the target token's probability or rank, or by the KL
  divergence to the final distribution. The slider's readout and the selected position are
  outlined; clicking a cell sets both.
* **Target** — a token whose probability and rank at the selected position are drawn across
  readouts. By default each position's target is the model's own final prediction there;
  type a token to follow that one instead (at every position: the grid's target shading
  follows it too).
* **Who wrote it** — each attention head's, MLP's and the embeddings' *direct* contribution
  to the target's logit at the selected position (:func:`~circuitwidgets.analysis.logit_attribution`),
  as a sorted bar list. Hover a head for the tokens its own output promotes (its output
  through ``W_O`` and the unembedding, VISIT-style); click it to select it in the shared
  :class:`~circuitwidgets.Selection`, so a linked AttentionExplorer shows its pattern.

The model runs once per text (:func:`~circuitwidgets.analysis.run_text`); the lens and the
attributions are read from that one pass. The lens is computed a **page** of positions at a
time (``page_size``, 32 by default): an exact top-k needs the whole unembedding at every
readout and position, 13 x 512 x 768 x 50257 multiply-adds for GPT-2 small on 512 tokens --
tens of seconds on a laptop CPU, against a fraction of a second for one page. So the widget
computes the selected position's page with the forward pass and draws it; the view shows one
page of positions at a time (the row of guesses and the grid's columns), asks the kernel for
the page it is moved to (a ``"page"`` request, ``_channel.py``; columns not computed yet are
drawn as pending) and, once idle, for the pages on either side. What crosses to the browser is bounded by
top-k, never positions x vocabulary: per page, the top ``k`` tokens and probabilities of
every (readout, position), the target's probability, rank and the KL per (readout,
position); and one position's attribution, asked for when it is selected. A picked target is
computed a page at a time the same way. A static export computes every page first (the full
cost above, once) so that it can page offline.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
import traitlets

from .. import analysis
from ..analysis import Attribution, LogitLensResult, TextRun
from ..checks import check_int, check_position
from ._ablation import HeadAblation
from ._channel import LRU, AnswersRequests, Stale, handles
from ._payloads import AttributionState, LensPage, LensPages, Readout, TargetPage, TargetPages, id_dtype
from ._transport import Encoded
from .selection import Selection

__all__ = ["LogitLens", "page_positions", "readout_names", "MAX_K"]

#: Top tokens kept per head for the "what does this head write" hover card.
HEAD_TOP_K = 8
#: Attributions the kernel keeps per widget (position x target), most recent last.
_ATTRIBUTION_CACHE = 16
#: Positions per page: what the view shows at once, and what the kernel computes at once.
PAGE_SIZE = 32
#: Pages of a picked target the kernel keeps (the lens's own pages are all kept).
_TARGET_PAGE_CACHE = 64
#: The most top tokens a position's hover card lists: 50 lines fit a laptop screen (about
#: 850 CSS pixels); the analysis itself (:func:`~circuitwidgets.analysis.logit_lens`) takes any k.
MAX_K = 50


def readout_names(n_layers: int) -> list[Readout]:
    """Short and long names of the ``n_layers + 1`` readouts, in ``lens_layer`` order.

    ``lens_layer`` 0 reads the embeddings; ``r`` in ``1..n_layers`` the residual stream after
    layer ``r - 1`` (TransformerLens's ``f"{r}_pre"``; the last is ``"final_post"``, the
    model's output).

    >>> [n.short for n in readout_names(2)]
    ['embed', '+L0', '+L1']
    >>> readout_names(2)[2].long
    'after layer 1: the final output'
    """
    names = [Readout("embed", "the embeddings, before layer 0")]
    for layer in range(n_layers):
        final = layer == n_layers - 1
        names.append(Readout(f"+L{layer}", f"after layer {layer}" + (": the final output" if final else "")))
    return names


def page_positions(page: int, page_size: int, seq_len: int) -> range:
    """The positions on page ``page``: ``page * page_size`` up to the next page or the end.

    >>> page_positions(15, 32, 512), page_positions(1, 32, 40)
    (range(480, 512), range(32, 40))
    """
    return range(page * page_size, min((page + 1) * page_size, seq_len))


class LogitLens(AnswersRequests, HeadAblation):
    """The logit lens of ``model`` on ``text``: layer slider, grid, target chart, attribution.

    Parameters
    ----------
    model:
        {MODELS}.
    text:
        The text. Empty, or longer than the model's context: ``ValueError`` here; set later
        through :attr:`text`, the problem shows inside the widget and the last good view stays.
    tokens:
        Token ids instead of ``text`` (e.g. ``tokens=[0, 17, 5]``), for a model without a
        tokenizer; the text box then shows them as ``"#0 #17 #5"``
        (:meth:`~circuitwidgets.ModelAdapter.view_text`).
    k:
        How many top tokens each position's hover card lists (1..50, :data:`MAX_K`; default 10).
    page_size:
        Positions shown (and computed) at once (at least 1, default 32; more than the text's
        tokens is one page): the row of guesses and the grid show one page; the kernel
        computes the lens a page at a time (see the module docs).
    selection:
        A :class:`~circuitwidgets.Selection` to share with other views (default: a new one).
    lens_layer, position, target:
        What to show first (defaults: the final readout, the last position, the model's own
        prediction).
    ablated, ablation_mode:
        Heads to switch off first (``[(layer, head), ...]``) and how (``"zero"`` or ``"mean"``).

    Traits
    ------
    text : str
        Setting it re-runs the model.
    lens_layer : int
        The readout: 0 = embeddings, ``r`` = after layer ``r - 1``, ``n_layers`` = the final
        output. Kept equal to ``selection.lens_layer``.
    position : int
        The selected position (its column, chart and attribution); ``selection.position``.
        The view shows the page that holds it.
    layer, head : int or None
        The head selected in the shared selection (clicking a head's bar sets them).
    target : str, int or None
        The target token: a string that is exactly one token, or an id; ``None`` for the
        model's final prediction at each position. Checked: ``" Maryland"`` raises naming it.
    k, page_size : int
        As the arguments; setting one recomputes the page on screen (with a new ``run_id``,
        so the browser never mixes the old pages with the new). Out of range: ``TraitError``
        naming the value and the range, and nothing changes.
    ablated : list of (layer, head)
        The heads switched off (A in the view toggles the selected head; :meth:`toggle_ablation`):
        the ablation panel shows the target's probability and rank and the top predictions at
        the selected position with and without them (:meth:`ablation` has the numbers). Checked
        against the model, naming the bad entry and the valid range.
    ablation_mode : str
        ``"zero"`` or ``"mean"`` (each ablated head's output replaced by its mean over the text).
    error : str
        Why the current ``text`` is not shown ('' when it is).
    target_error : str
        Why the last target typed in the view was refused ('' when it was not).
    tokens, lens, readouts, model_name, n_layers, n_heads, d_vocab, run_id, busy
        Read-only: the tokens' display strings; the pages of the lens computed so far (a
        ``LensPages`` of tensors); the readouts' names; the model's sizes; a counter bumped
        for every new text, ``k`` or ``page_size``; the progress line.

    Examples
    --------
    >>> w = cw.LogitLens(model, "a b c d a b c")   # in a notebook, `w` on its own draws it
    >>> w.lens_layer = 1                  # the readout slider moves
    >>> w.position = 7                    # the second " c" (BOS is 0): what comes next?
    >>> w.target_id == model.to_single_token(" d")
    True
    >>> labels, values = w.attribution().components()   # the numbers behind the bars
    >>> labels[:3]
    ['embed', 'pos_embed', 'L0H0']
    """

    _bundle = "logit_lens"
    _linked = ("lens_layer", "position", "layer", "head")
    _settable = ("text", "target", "k", "page_size", "ablated", "ablation_mode")

    # ---- Python-side selection (mirrored into `selection`) ----------------------------------
    lens_layer = traitlets.Int(0, help="The readout: 0 = embeddings ... n_layers = final.")
    position = traitlets.Int(0, help="The selected position in the text.")
    layer = traitlets.Int(None, allow_none=True, help="The selected head's layer, or None.")
    head = traitlets.Int(None, allow_none=True, help="The selected head, or None.")
    target = traitlets.Union(
        [traitlets.Int(), traitlets.Unicode()], allow_none=True, default_value=None,
        help="The target token (one-token string or id), or None for the final prediction.",
    )

    # ---- synced to the browser ---------------------------------------------------------------
    text = traitlets.Unicode(help="The input text; setting it re-runs the model.").tag(sync=True)
    model_name = traitlets.Unicode().tag(sync=True)
    n_layers = traitlets.Int().tag(sync=True)
    n_heads = traitlets.Int().tag(sync=True)
    d_vocab = traitlets.Int().tag(sync=True)
    k = traitlets.Int(10).tag(sync=True)
    page_size = traitlets.Int(PAGE_SIZE).tag(sync=True)
    #: A Readout (short and long name) per readout (see readout_names).
    readouts = Encoded(Readout, many=True).tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode(), help="Display strings of the tokens.").tag(sync=True)
    #: The text's tokens and the pages of the lens computed with it (see _lens_payload).
    lens = Encoded(LensPages).tag(sync=True)
    #: A picked target's probability and rank on the pages computed with it, or None.
    _target = Encoded(TargetPages).tag(sync=True)
    #: An attribution the browser has without asking: only in static exports (see
    #: _static_state); a live view asks for the one it shows.
    _attribution = Encoded(AttributionState).tag(sync=True)
    target_error = traitlets.Unicode("").tag(sync=True)
    run_id = traitlets.Int(0).tag(sync=True)
    busy = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        model: Any,
        text: str | None = None,
        *,
        tokens: Any = None,
        k: int = 10,
        page_size: int = PAGE_SIZE,
        selection: Selection | None = None,
        lens_layer: int | None = None,
        position: int | None = None,
        target: str | int | None = None,
        ablated: Sequence[tuple[int, int]] = (),
        ablation_mode: str = "zero",
        **kwargs: Any,
    ):
        self._prepare(model, kwargs, selection=selection)
        text = self._adapter.view_text(text, tokens)
        kwargs.update(ablated=list(ablated), ablation_mode=ablation_mode)  # checked by the traits
        self._validated(k=k, page_size=page_size)  # as an assignment would
        self._attributions: LRU[tuple[int, int, int], Attribution] = LRU(_ATTRIBUTION_CACHE)
        self._pages: dict[int, LogitLensResult] = {}
        self._target_pages: LRU[tuple[int, int], LogitLensResult] = LRU(_TARGET_PAGE_CACHE)
        self._run = self._forward(text)  # bad text raises here
        super().__init__(
            model_name=self._adapter.name,
            n_layers=self._adapter.n_layers,
            n_heads=self._adapter.n_heads,
            d_vocab=self._adapter.d_vocab,
            k=k,
            page_size=page_size,
            readouts=readout_names(self._adapter.n_layers),
            lens_layer=self._adapter.n_layers if lens_layer is None else lens_layer,
            position=self._run.seq_len - 1 if position is None else position,
            **kwargs,
        )
        self.target = target
        self._start_linking()
        self._show()
        self.observe(self._on_target, names="target")
        self.observe(self._on_paging, names=["k", "page_size"])
        self._answer_requests()

    # ---- public -------------------------------------------------------------------------------

    @property
    def run(self) -> TextRun:
        """The forward pass of the text on screen (shared by the lens and the attributions).

        Examples
        --------
        >>> w = cw.LogitLens(model, "a b c d a b c")
        >>> w.run.str_tokens[-2:]
        [' b', ' c']
        """
        return self._run

    @property
    def lens_result(self) -> LogitLensResult:
        """The whole logit lens of the text: top-k and each position's final prediction as
        target, at every position. Computes the pages not computed yet (the full cost of the
        lens, once); the view itself only needs the pages it shows.

        Examples
        --------
        >>> lens = cw.LogitLens(model, "a b c d a b c").lens_result
        >>> lens.labels, lens.top_ids.shape         # [readouts, positions, k]
        (['0_pre', '1_pre', 'final_post'], torch.Size([3, 8, 10]))
        """
        return analysis.join_lens([self._page(i) for i in range(self._n_pages)])

    @property
    def computed_positions(self) -> list[int]:
        """The positions whose lens the kernel has computed so far, in order.

        Examples
        --------
        >>> w = cw.LogitLens(model, "a b c d a b c", page_size=4)
        >>> w.computed_positions                    # the page of the last position
        [4, 5, 6, 7]
        """
        return sorted(p for i in self._pages for p in self._page_range(i))

    @property
    def target_id(self) -> int:
        """The target token id at the selected position (the final prediction by default).

        Examples
        --------
        >>> w = cw.LogitLens(model, "a b c d a b c")
        >>> model.to_string(w.target_id)      # the final prediction at the last position
        ' d'
        """
        return self._target_at(self.position)

    def attribution(self, position: int | None = None, target: str | int | None = None) -> Attribution:
        """Who wrote the target's logit at ``position`` (defaults: what the view shows).

        ``target`` None means the view's target: the picked one, else the model's final
        prediction at ``position``. The same pass as the lens; the last few are kept.

        Examples
        --------
        >>> w = cw.LogitLens(model, "a b c d a b c")
        >>> attr = w.attribution(target=" d")
        >>> attr.target_str, attr.position
        (' d', 7)
        """
        position = self.position if position is None else check_position(position, self._run.seq_len)
        target_id = self._target_at(position) if target is None else self._adapter.to_single_token(target)
        key = (self.run_id, position, target_id)
        if key not in self._attributions:
            self._attributions[key] = analysis.logit_attribution(
                self._adapter, self._run, position, target_id, k=HEAD_TOP_K
            )
        return self._attributions[key]

    # ---- ablation: at the selected position, of the view's target -----------------------------

    @property
    def _ablation_text(self) -> str:
        return self._run.text

    def _ablation_position(self) -> int:
        return self.position

    def _ablation_target(self, position: int) -> Optional[int]:
        return self._target_at(position)

    # ---- validation ------------------------------------------------------------------------------

    @traitlets.validate("lens_layer")
    def _valid_lens_layer(self, proposal):
        return self._trait_check(
            lambda v: check_int(v, "lens_layer", 0, self._adapter.n_layers), proposal["value"]
        )

    @traitlets.validate("position")
    def _valid_position(self, proposal):
        return self._check_index("position", proposal["value"], self._run.seq_len)

    @traitlets.validate("k")
    def _valid_k(self, proposal):
        return self._trait_check(self._check_k, proposal["value"], MAX_K)

    @traitlets.validate("page_size")
    def _valid_page_size(self, proposal):
        return self._trait_check(lambda v: check_int(v, "page_size", 1), proposal["value"])

    @traitlets.validate("target")
    def _valid_target(self, proposal):
        self._trait_check(self._adapter.to_single_token, proposal["value"])  # (None is not validated)
        return proposal["value"]

    @property
    def _target_id(self) -> Optional[int]:
        """The picked target's id, or None for each position's final prediction."""
        return None if self.target is None else self._adapter.to_single_token(self.target)

    def _target_at(self, position: int) -> int:
        """The target at ``position``: the picked one, else the final prediction there."""
        if self._target_id is not None:
            return self._target_id
        page = position // self.page_size
        return int(self._page(page).targets[position - self._page_range(page).start])

    # ---- computing: one forward pass, then the lens a page at a time --------------------------

    def _forward(self, text: str) -> TextRun:
        """The one forward pass, keeping what the lens and the attributions read."""
        return analysis.run_text(self._adapter, text, needs=("logit_lens", "attribution"))

    @property
    def _n_pages(self) -> int:
        return -(-self._run.seq_len // self.page_size)

    def _page_range(self, page: int) -> range:
        return page_positions(page, self.page_size, self._run.seq_len)

    def _page(self, page: int) -> LogitLensResult:
        """The lens on page ``page`` (computed once per run), each position's final
        prediction as its target."""
        if page not in self._pages:
            self._pages[page] = analysis.logit_lens(
                self._adapter, self._run, k=self.k, default_target="final", positions=self._page_range(page)
            )
        return self._pages[page]

    def _target_page(self, page: int, target: int) -> LogitLensResult:
        """The picked ``target``'s probability and rank on page ``page`` (the last few kept)."""
        key = (page, target)
        if key not in self._target_pages:
            self._target_pages[key] = analysis.logit_lens(
                self._adapter, self._run, k=1, target=target, positions=self._page_range(page)
            )
        return self._target_pages[key]

    # ---- payloads -------------------------------------------------------------------------------

    def _lens_payload(self, pages: list[int]) -> LensPages:
        """The text (its token ids and display strings) and the lens on ``pages``."""
        return LensPages(
            run=self.run_id,
            token_ids=self._run.tokens,
            ids=id_dtype(self._adapter.d_vocab),
            pages=[self._lens_page_payload(page) for page in pages],
            vocab=dict(zip(self._run.tokens.tolist(), self._run.str_tokens)),
        )

    def _lens_page_payload(self, page: int) -> LensPage:
        """One page of the lens (``R = n_layers + 1`` readouts, its ``n`` positions)."""
        return LensPage(page=page, start=self._page_range(page).start, lens=self._page(page), ids=id_dtype(self._adapter.d_vocab))

    def _target_payload(self, pages: list[int]) -> Optional[TargetPages]:
        """A picked target's id and string, and its probability and rank on ``pages``;
        None when no target is picked."""
        target = self._target_id
        if target is None:
            return None
        return TargetPages(
            run=self.run_id,
            id=target,
            text=self._adapter.token_str(target),
            pages=[self._target_page_payload(page, target) for page in pages],
        )

    def _target_page_payload(self, page: int, target: int) -> TargetPage:
        """``target``'s probability and rank ``[R, n]`` on one page."""
        picked = self._target_page(page, target)
        start = self._page_range(page).start
        return TargetPage(page=page, start=start, id=target, probs=picked.target_probs, ranks=picked.target_ranks)

    def _attribution_payload(self, position: int, target: Optional[int]) -> AttributionState:
        """One position's attribution, as the "Who wrote it" panel draws it."""
        attr = self.attribution(position, target)
        return AttributionState(run=self.run_id, position=position, attribution=attr, ids=id_dtype(self._adapter.d_vocab))

    # ---- showing --------------------------------------------------------------------------------

    def _show(self) -> None:
        """Send the current run with the selected position's page (the view asks for more)."""
        shown = [self.position // self.page_size]
        self._attributions.clear()
        with self.hold_sync():
            self._set(run_id=self.run_id + 1, text=self._run.text, tokens=list(self._run.str_tokens))
            self._set(lens=self._lens_payload(shown), _target=self._target_payload(shown), _attribution=None, error="")

    @traitlets.observe("text")
    def _text_changed(self, change: dict[str, Any]) -> None:
        if change["new"] == self._run.text:
            self._set(error="")  # back to the text already drawn
            return
        with self._busy("Running the model…"):
            run = self._attempt(lambda: self._forward(change["new"]))
        if run is None:
            return
        self._run = run
        self._pages.clear()
        self._target_pages.clear()
        last = self._run.seq_len - 1
        with self.selection.hold_sync():
            if self.position > last:
                self.position = last  # the old position is past the end of the new text
        self._show()

    def _on_target(self, _change: dict[str, Any]) -> None:
        with self._busy("Computing the target at every readout…"):
            self._set(_target=self._target_payload([self.position // self.page_size]), target_error="")

    def _on_paging(self, _change: dict[str, Any]) -> None:
        """A new ``k`` or ``page_size``: the pages computed so far no longer fit it, so they go
        and the page on screen is computed again, under a new run id."""
        with self._busy("Computing the lens…"):
            self._pages.clear()
            self._target_pages.clear()
            self._show()

    # ---- the browser asks ----------------------------------------------------------------------

    def _check_run(self, payload: dict[str, Any]) -> None:
        if payload.get("run") != self.run_id:
            raise Stale("about a text that has since been replaced")  # the view asks again

    @handles("page")
    def _page_answer(self, content: dict[str, Any]) -> dict[str, Any]:
        """``{"run", "page", "lens": bool, "target": id | None}`` → that page of the lens
        and/or of the picked target."""
        self._check_run(content)
        page = check_int(content["page"], "page", 0, self._n_pages - 1)
        answer: dict[str, Any] = {"run": self.run_id, "page": page}
        if content.get("lens"):
            answer["lens"] = self._lens_page_payload(page)
        target = content.get("target")
        if target is not None:
            answer["target"] = self._target_page_payload(page, self._adapter.to_single_token(int(target)))
        return answer

    @handles("attribution")
    def _attribution_answer(self, content: dict[str, Any]) -> dict[str, Any]:
        """``{"run", "position", "target"}`` → that position's attribution."""
        self._check_run(content)
        position = check_position(int(content["position"]), self._run.seq_len)
        target = content.get("target")
        return self._attribution_payload(position, None if target is None else int(target))

    @handles("target")
    def _target_from_view(self, content: dict[str, Any]) -> dict[str, Any]:
        """``{"text"}`` → set (or, for "", clear) the target, or say why not (in
        ``target_error``, which the view shows beside the box)."""
        self._set_target_from_view(content.get("text"))
        return {}

    def _set_target_from_view(self, text: Any) -> None:
        if not isinstance(text, str) or text == "":
            self.target = None
            self._set(target_error="")
            return
        try:
            self.target = text
        except traitlets.TraitError as exc:
            self._set(target_error=str(exc))

    # ---- static export -------------------------------------------------------------------------

    def _page_state(self) -> dict[str, Any]:
        """The attribution of the position on screen, if the page does not hold it (a live
        view asks for it; a converted notebook cannot)."""
        held = self._attribution
        if held is not None and (held.run, held.position) == (self.run_id, self.position):
            return {}
        return {"_attribution": self._attribution_payload(self.position, self._target_id)}

    def _static_state(self, options: dict[str, Any]) -> dict[str, Any]:
        """An export pages offline, so it holds every page of the lens (and of a picked
        target), computed here if the view has not needed them yet -- the whole lens's cost,
        once -- and the attribution of the position on screen."""
        pages = list(range(self._n_pages))
        return {
            "lens": self._lens_payload(pages),
            "_target": self._target_payload(pages),
            "_attribution": self._attribution_payload(self.position, self._target_id),
        }
