"""AttentionExplorer: every attention head of a model on one text, fast on long texts.

Three linked panels:

* **Overview** — one thumbnail per head (layers x heads), labelled ``layer.head``, coloured
  and optionally sorted by a head score: entropy and BOS share on this text, and the
  previous-token, induction and duplicate-token scores of the repeated-random-tokens
  experiment (:func:`circuitwidgets.analysis.all_head_scores`). Click a head, or move with
  the arrow keys, to select it; each head is a button named ``layer L head H``.
* **Head view** — the selected head's pattern as a heatmap (queries down, keys across) with
  token labels, zoom and pan; hover a cell for query, key and weight; click to lock a query.
* **Token view** — the text as tokens; the hovered (or locked) query colours every token by
  the attention it pays them, or, with the direction toggle, by the attention each later
  token pays the hovered one.

The selection (layer, head, locked query and key) is a shared
:class:`~circuitwidgets.Selection`: pass the same one to several views and they follow each
other, also in a static HTML export. When it holds a pair of heads (``pair``: an edge of the
composition graph, a two-head path), the head view shows the writing head's pattern beside the
reading head's, on the same colour scale, until another head is selected.

What crosses to the browser: the thumbnails (uint8, at most ``40 x 40`` per head), the
scores, and the full pattern (float16) only of the head being shown; the browser asks for
other heads' patterns when they are selected and keeps a few. Bytes therefore scale with what
is on screen, not with heads x tokens². Error bounds: see ``_attention_store``.

On a text longer than :data:`~._pattern_blocks.LONG_TEXT_TOKENS` tokens no whole pattern
crosses: zoomed out, the heatmap shows the head's pooled thumbnail, and zooming in (Ctrl/⌘ +
wheel, + / −, or Shift + drag a box) asks for the region on screen as a block at up to full
resolution (``"block"`` requests, see ``_pattern_blocks``); a hovered cell's weight always
comes from a full-resolution block or row. The token strip draws only the tokens in sight,
with a minimap beside it, and a new text shows a progress bar, layer by layer
(:attr:`busy_fraction`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Sequence, Union

import torch
import traitlets

from ..analysis.array_patterns import ArrayPatterns
from ..analysis.heads import all_head_scores
from ._ablation import HeadAblation
from ._array_source import NO_MODEL, ArrayHeads, refuse_new_text
from ._attention_store import AttentionStore, pattern_answer
from ._base import InvalidValue
from ._channel import AnswersRequests, handles
from ._pattern_blocks import LONG_TEXT_TOKENS, block_answer
from ._payloads import HeadScore, PatternBank
from ._transport import BinaryArray, Encoded, to_wire
from .selection import PairTrait, Selection

__all__ = ["AttentionExplorer", "AUTO_EXPORT_BYTES"]

#: ``save_html(heads="auto")`` embeds every head's full pattern while that takes at most this
#: many bytes (float16), else only the selected head.
AUTO_EXPORT_BYTES = 8 * 2**20

#: How each head score is described in the view (key, label, help).
_SCORE_TEXT = {
    "entropy": ("entropy", "Mean entropy of each query's attention on this text (nats): low = focused."),
    "bos_share": ("BOS share", "Mean attention paid to the first token on this text: high = resting on BOS."),
    "previous_token": ("previous-token", "Attention to the token just before, on repeated random tokens (0–1)."),
    "induction": ("induction", "Attention to the token after the earlier copy, on repeated random tokens (0–1)."),
    "duplicate_token": ("duplicate-token", "Attention to the earlier copy of the same token, on repeated random tokens (0–1)."),
}

HeadsToExport = Union[Literal["auto", "selected", "all"], Sequence[tuple[int, int]]]


class AttentionExplorer(AnswersRequests, HeadAblation):
    """All attention heads of ``model`` on ``text``: overview, head heatmap, token view.

    Parameters
    ----------
    model:
        {MODELS}; or, for patterns from anywhere, the
        :class:`~circuitwidgets.analysis.ArrayPatterns` that :func:`circuitwidgets.attention_heads`
        makes (the view is then *model-free*: no text box, ablation or repeated-random-tokens
        scores; ``text``, ``tokens`` and ``ablated`` are refused, saying why).
    text:
        The text. Empty, or longer than the model's context: ``ValueError`` here; set later
        through :attr:`text`, the problem shows inside the widget and the last good view stays.
    tokens:
        Token ids instead of ``text`` (e.g. ``tokens=[0, 17, 5]``), for a model without a
        tokenizer; the text box then shows them as ``"#0 #17 #5"``
        (:meth:`~circuitwidgets.ModelAdapter.view_text`).
    selection:
        A :class:`~circuitwidgets.Selection` to share with other views (default: a new one).
    layer, head:
        The head to show first (default: the selection's, else 0, 0).
    ablated, ablation_mode:
        Heads to switch off first (``[(layer, head), ...]``) and how (``"zero"`` or ``"mean"``).

    Traits
    ------
    text : str
        Setting it re-runs the model (with a progress line in the view).
    layer, head : int
        The selected head; checked against the model ("head 12 is out of range; this model
        has heads 0..11"); kept equal to ``selection.layer``/``selection.head``.
    query, key : int or None
        A locked query / key position (None: none), checked against the text.
    pair : list of int
        ``[]`` or ``[writer layer, writer head, reader layer, reader head]``: two heads shown
        side by side (the reader is ``layer``/``head``); kept equal to ``selection.pair``.
    selection : Selection
        The shared selection.
    ablated : list of (layer, head)
        The heads switched off (A in the view toggles the selected one; :meth:`toggle_ablation`);
        the ablation panel shows the prediction at the locked query (else the last position)
        with and without them, side by side (:meth:`ablation` has the numbers). Checked:
        ``[(5, 0)]`` on a 2-layer model raises naming ``ablated[0]`` and the layers there are.
    ablation_mode : str
        ``"zero"`` or ``"mean"`` (each ablated head's output replaced by its mean over the text).
    error : str
        Why the current ``text`` is not shown ('' when it is).
    tokens, thumbnails, head_scores, model_name, n_layers, n_heads, run_id, busy, busy_fraction
        What the view draws, read-only: the tokens' display strings; every head's overview
        thumbnail (float ``[n_layers, n_heads, T, T]``, sent as bytes); the head scores (a
        list of ``HeadScore``: key, label, help, values ``[n_layers, n_heads]``); the model's
        sizes; a counter bumped for every new text; the progress line, and how much of the
        forward pass is done (0..1, the layers done; None when idle or not known).

    Examples
    --------
    >>> w = cw.AttentionExplorer(model, "When Mary and John went to the store, John gave")
    >>> w.layer, w.head = 1, 3              # the view moves; in a notebook `w` draws it
    >>> w.pattern().shape                   # the drawn pattern: [query, key], BOS first
    torch.Size([25, 25])
    >>> w.pair = [0, 1, 1, 3]               # two heads side by side: L0H1's and L1H3's patterns
    >>> w.layer, w.head, w.selection.pair
    (1, 3, [0, 1, 1, 3])
    >>> w.save_html("attention.html")       # offline copy; heads="all" embeds every head
    PosixPath('attention.html')
    """

    _bundle = "attention_explorer"
    _linked = ("layer", "head", "query", "key", "pair")
    _settable = ("text", "ablated", "ablation_mode")

    # ---- Python-side selection (mirrored into `selection`) ----------------------------------
    layer = traitlets.Int(0, help="The selected layer.")
    head = traitlets.Int(0, help="The selected head.")
    query = traitlets.Int(None, allow_none=True, help="Locked query position, or None.")
    key = traitlets.Int(None, allow_none=True, help="Locked key position, or None.")
    pair = PairTrait([], help="[] or [writer layer, writer head, reader layer, reader head].")

    # ---- synced to the browser ---------------------------------------------------------------
    text = traitlets.Unicode(help="The input text; setting it re-runs the model.").tag(sync=True)
    model_name = traitlets.Unicode().tag(sync=True)
    n_layers = traitlets.Int().tag(sync=True)
    n_heads = traitlets.Int().tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode(), help="Display strings of the tokens.").tag(sync=True)
    #: float [n_layers, n_heads, T, T] in [0, 1] (see _attention_store.thumbnail), sent as uint8.
    thumbnails = BinaryArray(quantized=True).tag(sync=True)
    #: One HeadScore per score (values float32 [n_layers, n_heads]).
    head_scores = Encoded(HeadScore, many=True).tag(sync=True)
    #: Full patterns the browser has without asking (a PatternBank). Live: the head selected
    #: when the text ran; in a static export: what save_html(heads=...) chose.
    _bank = Encoded(PatternBank).tag(sync=True)
    #: Bumped for every new text, so the browser never mixes patterns of two texts.
    run_id = traitlets.Int(0).tag(sync=True)
    #: '' when idle, else what the kernel is computing (shown as a progress line).
    busy = traitlets.Unicode("").tag(sync=True)
    #: The share of the layers done while a new text runs (the progress bar), None otherwise.
    busy_fraction = traitlets.Float(None, allow_none=True).tag(sync=True)
    #: Texts longer than this get blocks on demand instead of whole patterns (_pattern_blocks).
    _long_text_tokens = traitlets.Int().tag(sync=True)
    #: '' with a model; made from arrays, why there is no text box, ablation or model-run
    #: score (the view shows it in their place).
    _model_free = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        model: Any,
        text: str | None = None,
        *,
        tokens: Any = None,
        selection: Selection | None = None,
        layer: int | None = None,
        head: int | None = None,
        ablated: Sequence[tuple[int, int]] = (),
        ablation_mode: str = "zero",
        **kwargs: Any,
    ):
        self._store: AttentionStore = self._first_store(model, text, tokens, selection, kwargs)  # bad text raises here
        kwargs.update(ablated=list(ablated), ablation_mode=ablation_mode)  # checked by the traits
        super().__init__(
            model_name=self._adapter.name,
            n_layers=self._adapter.n_layers,
            n_heads=self._adapter.n_heads,
            _long_text_tokens=LONG_TEXT_TOKENS,
            _model_free=NO_MODEL if isinstance(model, ArrayPatterns) else "",
            **kwargs,
        )
        self._start_linking(layer=layer, head=head)
        self._show(self._store)
        self._answer_requests()

    # ---- public -------------------------------------------------------------------------------

    @property
    def store(self) -> AttentionStore:
        """Everything computed for the text on screen (patterns on demand, thumbnails, scores).

        Examples
        --------
        >>> w = cw.AttentionExplorer(model, "a b c a b c")
        >>> w.store.patterns.shape, w.store.reason      # '' : rebuilt from queries and keys
        ((2, 4, 7, 7), '')
        """
        return self._store

    def pattern(self, layer: int | None = None, head: int | None = None) -> torch.Tensor:
        """The float32 pattern ``[seq, seq]`` of a head (default: the selected one), as drawn
        (from float16: see the module docs of ``_attention_store`` for the error).

        Examples
        --------
        >>> w = cw.AttentionExplorer(model, "a b c a b c")
        >>> p = w.pattern(0, 1)                 # layer 0, head 1: the previous-token head
        >>> p[3].argmax().item()                # query 3 attends to key 2
        2
        """
        layer, head = self._head_or_selected(layer, head)
        return self._store.pattern(layer, head).to(torch.float32)


    def save_html(self, path: str | Path, *, title: str | None = None, heads: HeadsToExport = "auto") -> Path:
        """Write this view as one offline HTML file (see :func:`circuitwidgets.save_html`).

        ``heads`` chooses which heads' full patterns go into the file: ``"selected"`` (the
        one on screen, and a selected pair's writer beside it), ``"all"`` (every head: ``n_layers x n_heads x seq² x 2`` bytes before
        base64), a list of ``(layer, head)`` pairs, or ``"auto"`` (all while that is at most
        :data:`AUTO_EXPORT_BYTES`, else the selected one). Other heads still switch in the
        file, drawn from their thumbnail and marked as a preview.

        Examples
        --------
        >>> w = cw.AttentionExplorer(model, "a b c a b c")
        >>> w.save_html("attention.html", title="a b c, twice")
        PosixPath('attention.html')
        """
        from ._export import write_html

        self._heads_to_export(heads)  # a bad choice raises here, before anything is written
        return write_html(self, path, title=title, options={"heads": heads})

    # ---- ablation: the prediction at the locked query, else at the last position --------------

    @property
    def _ablation_text(self) -> str:
        return self._store.text

    def _ablation_position(self) -> int:
        return self._store.seq_len - 1 if self.query is None else self.query

    # ---- validation ------------------------------------------------------------------------------

    @traitlets.validate("text")
    def _valid_text(self, proposal):
        return refuse_new_text(bool(self._model_free), proposal["value"], self._store.text, "cw.attention_heads")

    @traitlets.validate("ablated")
    def _valid_ablated(self, proposal):
        if self._model_free and proposal["value"]:
            raise InvalidValue(f"ablated {proposal['value']!r:.40} is refused: this view was made from arrays, "
                               "with no model to run without a head")
        return super()._valid_ablated(proposal)

    @traitlets.validate("query", "key")
    def _valid_position(self, proposal):
        return self._check_index(proposal["trait"].name, proposal["value"], self._store.seq_len)

    # ---- computing and showing ---------------------------------------------------------------

    def _first_store(
        self, model: Any, text: str | None, tokens: Any, selection: Selection | None, kwargs: dict[str, Any]
    ) -> AttentionStore:
        """The first text's store; sets ``self._adapter`` and the repeated-random-tokens scores.
        From a model: its run on ``text``. From arrays (:class:`ArrayPatterns`): the arrays'
        sizes stand in for the adapter (:class:`~._array_source.ArrayHeads`) and no score
        needs a model."""
        if not isinstance(model, ArrayPatterns):
            self._prepare(model, kwargs, selection=selection)
            store = AttentionStore.build(self._adapter, self._adapter.view_text(text, tokens))
            self._model_scores = self._repeated_token_scores()
            return store
        self._check_keywords(kwargs)
        if text is not None or tokens is not None:
            raise TypeError("text and tokens come with the arrays (cw.attention_heads(attention, tokens)); pass neither")
        if selection is not None:
            kwargs["selection"] = selection
        self._adapter = ArrayHeads(*model.shape[:2])
        self._model_scores = {}
        return AttentionStore.of(model)

    def _repeated_token_scores(self) -> dict[str, torch.Tensor]:
        """Previous-token, induction and duplicate-token scores of every head (once per
        widget); none when the model cannot run the experiment (e.g. it has no BOS token)."""
        try:
            return {kind: s.scores for kind, s in all_head_scores(self._adapter).items()}
        except ValueError:
            return {}

    def _score_list(self, store: AttentionStore) -> list[HeadScore]:
        values = {"entropy": store.entropy, "bos_share": store.bos_share, **self._model_scores}
        return [
            HeadScore(key=key, label=label, help=help, values=values[key])
            for key, (label, help) in _SCORE_TEXT.items()
            if key in values
        ]

    def _head_pattern(self, layer: int, head: int) -> torch.Tensor:
        return self._store.pattern(layer, head)

    def _show(self, store: AttentionStore) -> None:
        self._store = store
        with self.hold_sync():
            self._set(run_id=self.run_id + 1, text=store.text, tokens=list(store.str_tokens))
            self._set(
                thumbnails=store.thumbnails,
                head_scores=self._score_list(store),
                _bank=self._bank_of([] if self._long_text else self._shown_heads()),
                error="",
            )
        # Locked positions past the end of a shorter text no longer exist.
        with self.selection.hold_sync():
            for name in ("query", "key"):
                value = getattr(self, name)
                if value is not None and value >= store.seq_len:
                    setattr(self, name, None)

    @traitlets.observe("text")
    def _text_changed(self, change: dict[str, Any]) -> None:
        if change["new"] == self._store.text:
            self._set(error="")  # back to the text already drawn
            return
        n_layers = self._adapter.n_layers
        def progress(layer: int) -> None:  # sent at once: the comm is not held during the build
            self.set_trait("busy_fraction", (layer + 1) / n_layers)
            show(f"Running the model: layer {layer + 1} of {n_layers} done")

        with self._busy("Running the model…") as show:
            self.set_trait("busy_fraction", 0.0)
            try:
                store = self._attempt(lambda: AttentionStore.build(self._adapter, change["new"], progress))
            finally:
                self.set_trait("busy_fraction", None)
        if store is not None:
            self._show(store)

    # ---- the browser asks for a head -----------------------------------------------------------

    @handles("pattern")
    def _pattern_request(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``{"layer", "head", "run"}`` → ``{"layer", "head", "run", "pattern"}``: the head's
        float16 pattern."""
        if self._long_text:
            raise ValueError(
                f"this text has {self._store.seq_len} tokens; whole patterns are sent up to {self._long_text_tokens} "
                "tokens (ask for blocks: the 'block' request)"
            )
        return pattern_answer(self._adapter, self.run_id, payload, self._head_pattern)

    @handles("block")
    def _block_request(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A block of a head's pattern, pooled to at most ``side`` cells a side (see
        ``_pattern_blocks``)."""
        return block_answer(self._adapter, self.run_id, payload, self._store.patterns)

    @property
    def _long_text(self) -> bool:
        return self._store.seq_len > self._long_text_tokens

    # ---- static export -------------------------------------------------------------------------

    def _shown_heads(self) -> list[tuple[int, int]]:
        """The heads the head view draws: the selected one, and the pair's writer if a pair is
        selected."""
        writer = [(self.pair[0], self.pair[1])] if self.pair else []
        return [(self.layer, self.head)] + writer

    def _heads_to_export(self, heads: HeadsToExport) -> list[tuple[int, int]]:
        every = [(l, h) for l in range(self._adapter.n_layers) for h in range(self._adapter.n_heads)]
        selected = self._shown_heads()
        if heads == "auto":
            seq = self._store.seq_len
            if len(every) * seq * seq * 2 <= AUTO_EXPORT_BYTES:
                return every
            return [] if self._long_text else selected
        if heads == "all":
            return every
        if heads == "selected":
            return selected
        if isinstance(heads, str):
            raise ValueError(f"heads {heads!r} is not one of 'auto', 'selected', 'all' or a list of (layer, head)")
        pairs = []
        for pair in heads:
            layer, head = pair
            pairs.append((self._adapter.check_layer(layer), self._adapter.check_head(head)))
        if not pairs:
            raise ValueError("heads is an empty list; name at least one (layer, head)")
        return selected + pairs

    def _static_state(self, options: dict[str, Any]) -> dict[str, Any]:
        """The full patterns of the heads ``options["heads"]`` names (default ``"auto"``)."""
        return {"_bank": self._bank_of(self._heads_to_export(options.get("heads", "auto")))}
