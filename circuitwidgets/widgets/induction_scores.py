"""InductionScores: which heads are induction, previous-token and duplicate-token heads.

The experiment (see :mod:`circuitwidgets.analysis.heads`): run the model on
``BOS, t_1 .. t_half, t_1 .. t_half`` -- ``half`` random tokens said twice -- in ``batch``
sequences drawn with ``seed``. In the second copy every token has been seen before, so:

* a **previous-token** head attends from query ``i`` to key ``i - 1`` (the diagonal just
  below the main one);
* a **duplicate-token** head attends to the earlier copy of the same token, key ``i - half``;
* an **induction** head attends to the token that came *after* that earlier copy, key
  ``i - half + 1``: a stripe ``half - 1`` cells below the diagonal, running over the queries
  of the second copy (``i = half + 1 .. 2*half``, keys ``2 .. half + 1``).

A head's score is its attention on those keys averaged over every second-copy query of every
sequence (0..1; a perfect head scores 1). All three kinds come from one forward pass
(:func:`circuitwidgets.analysis.all_head_scores`).

Two panels:

* **Head scores** -- a layers x heads grid per kind (tabs), coloured on a fixed 0..1 scale,
  values on hover and in every cell, the top heads listed. Each cell is a button named
  ``layer L head H``; arrow keys move the selection.
* **The selected head** -- its attention on the first sequence of the batch (tokens on both
  axes), with the cells each score counts bracketed: the induction stripe, the
  previous-token diagonal, and the duplicate-token stripe when that tab is open.

A second mode scores the heads on your own text (:func:`~circuitwidgets.analysis.text_head_scores`):
only the positions whose token already occurred earlier count for induction and
duplicate-token scores, so a text without repeats gets a message instead of scores.

The selected head is the shared :class:`~circuitwidgets.Selection`: clicking a head here
moves an :class:`~circuitwidgets.AttentionExplorer` (or any linked view) and back, in the
browser, also in a static HTML export.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import traitlets

from ..analysis import KINDS, HeadScores, ablated_head_scores, all_head_scores, all_text_head_scores, patterns_on_demand
from ..checks import check_choice, check_int
from ..analysis.heads import DEFAULT_BATCH, check_half, check_seed, max_half
from ._attention_store import pattern_answer
from ._base import INTERRUPTED
from ._channel import AnswersRequests, handles
from ._payloads import AblatedScores, KindScores, PatternBank, ScoresShown, TargetRuns, TopHeads
from ._transport import Encoded, to_wire
from .attention_explorer import AUTO_EXPORT_BYTES
from .selection import LinkedView, Selection

__all__ = ["InductionScores", "MAX_BATCH", "TOP_K", "diagonal_runs"]

#: The most sequences one run of the widget averages over (memory grows with it:
#: ``batch x n_layers x n_heads x (1 + 2*half)^2`` attention weights during the run).
MAX_BATCH = 64
#: How many top heads the view lists per kind.
TOP_K = 5
#: The order of the tabs.
TAB_ORDER = ("induction", "previous_token", "duplicate_token")
MODES = ("random", "text")
#: ``ablation``: the scores as measured ("off"), or with the selected head switched off.
ABLATION = ("off", "zero", "mean")


def diagonal_runs(mask: torch.Tensor) -> list[list[int]]:
    """The True cells of a square ``BoolTensor[S, S]`` as maximal runs along diagonals.

    Returns ``[[row, col, length], ...]``: cells ``(row + t, col + t)`` for ``t < length``,
    sorted by ``row - col`` (the diagonal), then by row. The induction targets of
    ``BOS, t_1..t_half, t_1..t_half`` are one run, ``[half + 1, 2, half]``.

    >>> m = torch.zeros(5, 5, dtype=torch.bool); m[2, 0] = m[3, 1] = m[4, 3] = True
    >>> diagonal_runs(m)
    [[4, 3, 1], [2, 0, 2]]
    """
    rows, cols = mask.nonzero(as_tuple=True)
    if rows.numel() == 0:
        return []
    offset = rows - cols
    order = torch.argsort(offset * (mask.shape[0] + 1) + rows)
    rows, offset = rows[order], offset[order]
    starts = torch.ones_like(rows, dtype=torch.bool)
    starts[1:] = (offset[1:] != offset[:-1]) | (rows[1:] != rows[:-1] + 1)
    index = starts.nonzero(as_tuple=True)[0]
    lengths = torch.diff(torch.cat([index, torch.tensor([rows.numel()])]))
    return [[int(rows[i]), int(rows[i] - offset[i]), int(n)] for i, n in zip(index, lengths)]


def _check_batch(batch: int) -> int:
    return check_int(batch, "batch", 1, MAX_BATCH)


def _whole_number(name: str, value: Any) -> int:
    """A number typed in the browser (int, integral float or digit string) as an int."""
    if isinstance(value, bool):
        raise ValueError(f"{name} {value!r} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ValueError(f"{name} {value!r} is not a whole number")


class InductionScores(AnswersRequests, LinkedView):
    """Induction, previous-token and duplicate-token scores of every head of ``model``.

    Parameters
    ----------
    model:
        {MODELS} whose tokenizer has a BOS token.
    half, seed, batch:
        The experiment: ``batch`` sequences of ``half`` random tokens said twice, drawn with
        ``seed``. ``half`` defaults to 50 (or the most that fits: ``1 + 2*half <= n_ctx``),
        ``batch`` to 4 (at most :data:`MAX_BATCH`), ``seed`` to 0 (at most 2**32 - 1).
    text:
        Score the heads on this text instead (``mode="text"``). A text in which no token
        repeats raises ``ValueError`` here.
    tokens:
        Token ids instead of ``text`` (e.g. ``tokens=[0, 17, 5]``), for a model without a
        tokenizer; the text box then shows them as ``"#0 #17 #5"``
        (:meth:`~circuitwidgets.ModelAdapter.view_text`).
    kind:
        The tab shown first: ``"induction"`` (default), ``"previous_token"`` or
        ``"duplicate_token"``.
    selection:
        A :class:`~circuitwidgets.Selection` to share with other views (default: a new one).
    layer, head:
        The head to show first (default: the selection's, else the open tab's top head).
    ablation:
        ``"off"`` (default), or ``"zero"``/``"mean"``: show the scores with the selected head off.

    Traits
    ------
    half, seed, batch : int
        Setting one re-runs the experiment (a progress line shows meanwhile); a bad value
        raises ``TraitError`` naming it and its range. To change several with one run, use
        :meth:`run`.
    mode : "random" or "text"
        Which experiment is shown; ``text`` is the user's text.
    text : str
        Setting it in text mode re-scores; a text without repeats (or too long) shows an
        inline message and the last good view stays.
    kind : str
        The open tab.
    ablation : "off", "zero" or "mean"
        With ``"zero"`` or ``"mean"`` the grid shows every head's score with the selected head
        switched off (its output zeroed, or replaced by its mean over each sequence), on the same
        sequences, and each cell's hover card the score as measured: a later head whose score
        falls reads what the ablated head wrote (K-composition, causally). Follows the
        selection; :meth:`ablated_scores` has the numbers.
    layer, head : int
        The selected head, kept equal to ``selection.layer`` / ``selection.head``.
    error : str
        Why the last input is not shown ('' when it is).
    tokens, model_name, n_layers, n_heads, max_half, max_batch, run_id, busy
        Read-only: the display strings of the sequence shown, the model's sizes, the largest
        ``half`` and ``batch`` allowed, a counter bumped for every run, the progress line.

    Examples
    --------
    >>> w = cw.InductionScores(model)            # in a notebook, `w` on its own draws it
    >>> [(l, h) for l, h, _ in w.top_heads("induction", k=2)]
    [(1, 3), (1, 0)]
    >>> w.run(half=20, batch=8)                  # several settings, one re-run
    >>> w.score_text("def f(x): return x; def f(x): return x")   # your own text
    >>> w.mode
    'text'
    """

    _bundle = "induction_scores"
    _linked = ("layer", "head")
    _settable = ("half", "seed", "batch", "mode", "text", "kind", "ablation")

    # ---- Python-side selection (mirrored into `selection`) ----------------------------------
    layer = traitlets.Int(0, help="The selected layer.")
    head = traitlets.Int(0, help="The selected head.")

    # ---- the experiment (synced: the browser shows and edits them) ---------------------------
    half = traitlets.Int(help="Random tokens per half: sequences are BOS + 2*half tokens.").tag(sync=True)
    seed = traitlets.Int(0, help="Seed of the random tokens.").tag(sync=True)
    batch = traitlets.Int(DEFAULT_BATCH, help="Sequences averaged over.").tag(sync=True)
    mode = traitlets.Enum(MODES, "random", help="'random': repeated random tokens; 'text': your text.").tag(sync=True)
    text = traitlets.Unicode("", help="The text scored in text mode.").tag(sync=True)
    kind = traitlets.Enum(TAB_ORDER, "induction", help="The open tab.").tag(sync=True)
    ablation = traitlets.Unicode(
        "off", help="'off', or 'zero'/'mean': the grid shows every head's score with the selected head switched off."
    ).tag(sync=True)

    # ---- what is drawn (synced) ------------------------------------------------------------
    model_name = traitlets.Unicode().tag(sync=True)
    n_layers = traitlets.Int().tag(sync=True)
    n_heads = traitlets.Int().tag(sync=True)
    max_half = traitlets.Int().tag(sync=True)
    max_batch = traitlets.Int(MAX_BATCH).tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode(), help="Display strings of the sequence shown.").tag(sync=True)
    #: Every head's score of each kind (a KindScores).
    _scores = Encoded(KindScores).tag(sync=True)
    #: With ``ablation`` on: the scores with the selected head switched off (an AblatedScores; else None).
    _ablated = Encoded(AblatedScores).tag(sync=True)
    #: The heads listed beside the grid, best first (TOP_K of them per kind; a TopHeads).
    _top = Encoded(TopHeads).tag(sync=True)
    #: The cells each score counts on the sequence shown (a TargetRuns).
    _targets = Encoded(TargetRuns).tag(sync=True)
    #: What the drawn data is (a ScoresShown: mode, seq, and the experiment or the queries).
    _shown = Encoded(ScoresShown).tag(sync=True)
    #: Full patterns the browser has without asking (a PatternBank; js/src/kit/head_patterns.ts).
    _bank = Encoded(PatternBank).tag(sync=True)
    run_id = traitlets.Int(0).tag(sync=True)
    busy = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        model: Any,
        *,
        half: Optional[int] = None,
        seed: int = 0,
        batch: int = DEFAULT_BATCH,
        text: Optional[str] = None,
        tokens: Any = None,
        kind: str = "induction",
        selection: Selection | None = None,
        layer: int | None = None,
        head: int | None = None,
        ablation: str = "off",
        **kwargs: Any,
    ):
        self._prepare(model, kwargs, selection=selection)
        text = self._adapter.view_text(text, tokens, required=False)
        self._ready = False
        self._ablated_result: dict[str, HeadScores] | None = None
        (ablation,) = self._validated(ablation=ablation)
        half = check_half(self._adapter, None) if half is None else half  # the default half
        half, seed, batch, kind = self._validated(half=half, seed=seed, batch=batch, kind=kind)  # as assignments would
        mode = "random" if text is None else "text"
        result = self._compute(mode, half, seed, batch, text or "")  # bad input raises here
        super().__init__(
            half=half, seed=seed, batch=batch, mode=mode, text=text or "", kind=kind,
            model_name=self._adapter.name,
            n_layers=self._adapter.n_layers,
            n_heads=self._adapter.n_heads,
            max_half=max_half(self._adapter),
            ablation=ablation,
            **kwargs,
        )
        self._result = result
        if layer is None and head is None and self.selection.layer is None and self.selection.head is None:
            layer, head, _ = self.top_heads(kind, 1)[0]  # nothing selected yet: the best head
        self._start_linking(layer=layer, head=head)
        self._show(result)
        self._ready = True
        self._answer_requests()

    # ---- public -------------------------------------------------------------------------------

    @property
    def result(self) -> dict[str, HeadScores]:
        """The analysis results on screen, by kind (scores, tokens, targets, patterns).

        Examples
        --------
        >>> w = cw.InductionScores(model)
        >>> sorted(w.result)
        ['duplicate_token', 'induction', 'previous_token']
        """
        return dict(self._result)

    def scores(self, kind: Optional[str] = None) -> torch.Tensor:
        """``float32 [n_layers, n_heads]``: the scores drawn in ``kind``'s grid (default: the
        open tab).

        Examples
        --------
        >>> w = cw.InductionScores(model)
        >>> (w.scores("previous_token")[0, 1] > 0.8).item()    # head 0.1 reads the previous token
        True
        """
        return self._result[self._kind(kind)].scores

    def ablated_scores(self, kind: Optional[str] = None) -> torch.Tensor:
        """``float32 [n_layers, n_heads]``: ``kind``'s scores (default: the open tab) with the
        selected head switched off as :attr:`ablation` says, on the same sequences: what the
        grid shows while ``ablation`` is on (:func:`~circuitwidgets.analysis.ablated_head_scores`).
        ``ValueError`` while ``ablation`` is ``"off"``.

        Examples
        --------
        >>> w = cw.InductionScores(model, layer=0, head=1, ablation="zero")   # the previous-token head off
        >>> bool(w.ablated_scores("induction")[1, 3] < 0.1 < w.scores("induction")[1, 3])
        True
        """
        if self._ablated_result is None:
            raise ValueError("ablation is 'off'; set ablation='zero' or 'mean' to score the heads with the selected one off")
        return self._ablated_result[self._kind(kind)].scores

    def top_heads(self, kind: Optional[str] = None, k: int = TOP_K) -> list[tuple[int, int, float]]:
        """The ``k`` best heads for ``kind`` (default: the open tab) as ``(layer, head, score)``,
        best first, as listed in the view.

        Examples
        --------
        >>> layer, head, score = cw.InductionScores(model).top_heads("induction", k=1)[0]
        >>> layer, head, round(score, 1)
        (1, 3, 0.9)
        """
        scores = self.scores(kind)
        k = check_int(k, "k", 1, scores.numel())
        values, flat = torch.sort(scores.flatten(), descending=True, stable=True)
        n_heads = scores.shape[1]
        return [(int(i) // n_heads, int(i) % n_heads, float(v)) for v, i in zip(values[:k], flat[:k])]

    def pattern(self, layer: Optional[int] = None, head: Optional[int] = None) -> torch.Tensor:
        """``float32 [seq, seq]``: a head's attention (default: the selected head) on the
        sequence shown (the first of the batch), as computed.

        Examples
        --------
        >>> w = cw.InductionScores(model, half=10, batch=1)
        >>> w.pattern(1, 3).shape                    # BOS + 2 x 10 random tokens
        torch.Size([21, 21])
        """
        layer, head = self._head_or_selected(layer, head)
        return self._patterns[layer, head]


    def run(self, *, half: Optional[int] = None, seed: Optional[int] = None, batch: Optional[int] = None) -> None:
        """Re-run the repeated-random-tokens experiment with any of ``half``, ``seed`` and
        ``batch`` changed (one run for all of them) and show it (``mode`` becomes
        ``"random"``). Bad values raise ``ValueError``/``TypeError`` before anything runs.

        Examples
        --------
        >>> w = cw.InductionScores(model)
        >>> w.run(seed=1, half=30)
        >>> w.seed, w.half
        (1, 30)
        """
        half = self.half if half is None else check_half(self._adapter, half)
        seed = self.seed if seed is None else check_seed(seed)
        batch = self.batch if batch is None else _check_batch(batch)
        self._update(dict(mode="random", half=half, seed=seed, batch=batch), raise_errors=True)

    def score_text(self, text: str) -> None:
        """Score the heads on ``text`` and show it (``mode`` becomes ``"text"``). Raises
        ``ValueError`` for a text that is empty, too long, or has no repeated token.

        Examples
        --------
        >>> w = cw.InductionScores(model)
        >>> w.score_text("x = 1; y = 2; x = 1; y = 2")
        >>> w.mode, w.scores("previous_token").shape
        ('text', torch.Size([2, 4]))
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        self._update(dict(mode="text", text=text), raise_errors=True)

    # ---- validation ------------------------------------------------------------------------------

    def _kind(self, kind: Optional[str]) -> str:
        if kind is None:
            return self.kind
        if kind not in KINDS:
            raise ValueError(f"kind {kind!r} is not one of {list(TAB_ORDER)}")
        return kind


    @traitlets.validate("ablation")
    def _valid_ablation(self, proposal):
        return self._trait_check(check_choice, proposal["value"], "ablation", ABLATION)

    @traitlets.validate("half")
    def _valid_half(self, proposal):
        return self._trait_check(check_half, self._adapter, proposal["value"])

    @traitlets.validate("seed")
    def _valid_seed(self, proposal):
        return self._trait_check(check_seed, proposal["value"])

    @traitlets.validate("batch")
    def _valid_batch(self, proposal):
        return self._trait_check(_check_batch, proposal["value"])

    # ---- computing and showing ---------------------------------------------------------------

    def _compute(self, mode: str, half: int, seed: int, batch: int, text: str) -> dict[str, HeadScores]:
        """All three kinds of scores from one forward pass."""
        if mode == "random":
            return all_head_scores(self._adapter, half=half, batch=batch, seed=seed)
        att = patterns_on_demand(self._adapter, text)  # memory linear in the text's length
        try:
            return all_text_head_scores(self._adapter, att)
        except ValueError as exc:  # text_head_scores: no position to score on
            raise ValueError(
                f"No token repeats in this text ({att.seq_len} tokens), so there is nothing to "
                "score induction or duplicate-token heads on. Use a text in which some words "
                "occur twice (say a sentence twice), or go back to random tokens."
            ) from exc

    def _busy_line(self, settings: dict[str, Any]) -> str:
        if settings["mode"] == "random":
            n = 1 + 2 * settings["half"]
            return f"Running {settings['batch']} sequences of {n} tokens (seed {settings['seed']})…"
        return "Running the model on your text…"

    def _update(self, changes: dict[str, Any], *, raise_errors: bool = False) -> None:
        """Compute with ``changes`` applied to the current settings; on success set the traits
        and show the result, on a ``ValueError`` raise it or (for edits made through traits
        and the browser) show it inline and keep the last good view."""
        settings = dict(mode=self.mode, half=self.half, seed=self.seed, batch=self.batch, text=self.text)
        settings.update(changes)
        try:
            with self._busy(self._busy_line(settings)):
                result = self._compute(**settings)
        except ValueError as exc:
            if raise_errors:
                raise
            self._set(error=str(exc))
            return
        except KeyboardInterrupt:
            self._interrupted(changes)
            raise
        self._assign_computed(changes)  # the traits describe what is now drawn: no second run
        self._show(result, settings)

    def _interrupted(self, changes: dict[str, Any]) -> None:
        """After an interrupted run: a number or mode goes back to what is drawn (so setting it
        again runs again); a new text is kept, as the user typed it."""
        if "text" in changes:
            self._set(error=INTERRUPTED)
            return
        drawn = {name: self._shown_settings.get(name) for name in changes}
        self._ready = False
        try:
            for name, value in drawn.items():
                if value is not None:
                    setattr(self, name, value)
        finally:
            self._ready = True
        said = ", ".join(f"{name} is back to {value!r}" for name, value in drawn.items())
        self._set(error=f"Interrupted: the view still shows the previous result, and {said}.")

    @traitlets.observe("half", "seed", "batch", "mode", "text")
    def _setting_changed(self, change: dict[str, Any]) -> None:
        if not self._ready:
            return
        if change["name"] == "text" and self.mode != "text":
            return  # kept for when text mode is chosen
        self._update({change["name"]: change["new"]})

    def _show(self, result: dict[str, HeadScores], settings: dict[str, Any] | None = None) -> None:
        settings = settings or dict(mode=self.mode, half=self.half, seed=self.seed, batch=self.batch, text=self.text)
        first = result[KINDS[0]]
        self._result = result
        self._shown_settings = dict(settings)  # what is drawn (an interrupted run goes back to it)
        self._patterns = first.patterns  # [n_layers, n_heads, seq, seq]: a tensor, or on a text OnDemandPatterns
        seq = len(first.str_tokens)
        if settings["mode"] == "random":
            shown = ScoresShown("random", seq, half=settings["half"], seed=settings["seed"], batch=settings["batch"])
        else:
            # How many positions each kind could be scored on (the queries averaged over).
            shown = ScoresShown("text", seq, queries={kind: int(result[kind].queries.sum()) for kind in KINDS})
        top = min(TOP_K, self.n_layers * self.n_heads)
        with self.hold_sync():
            self._set(run_id=self.run_id + 1, tokens=list(first.str_tokens))
            self._set(
                _scores=KindScores({kind: result[kind].scores for kind in KINDS}),
                _top=TopHeads({kind: [(l, h) for l, h, _ in self.top_heads(kind, top)] for kind in KINDS}),
                _targets=TargetRuns({kind: [tuple(r) for r in diagonal_runs(result[kind].targets[0])] for kind in KINDS}),
                _shown=shown,
                _bank=self._bank_of([(self.layer, self.head)]),
                error="",
            )
        self._show_ablation()

    @traitlets.observe("ablation", "layer", "head")
    def _ablation_changed(self, _change: dict[str, Any]) -> None:
        if self._ready:
            self._show_ablation()

    def _show_ablation(self) -> None:
        """With ``ablation`` on, every head's scores with the selected head off (one pass)."""
        if self.ablation == "off":
            self._ablated_result = None
            self._set(_ablated=None)
            return
        layer, head = self.layer, self.head
        with self._busy(f"Scoring every head with L{layer}H{head} switched off…"):
            self._ablated_result = ablated_head_scores(self._adapter, self._result, (layer, head), self.ablation)
        scores = KindScores({kind: s.scores for kind, s in self._ablated_result.items()})
        self._set(_ablated=AblatedScores(layer, head, self.ablation, self.run_id, scores))

    def _head_pattern(self, layer: int, head: int) -> torch.Tensor:
        return self._patterns[layer, head]

    # ---- the browser asks ----------------------------------------------------------------------

    @handles("pattern")
    def _pattern_request(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``{"layer", "head", "run"}`` → the head's float16 pattern (as AttentionExplorer's)."""
        return pattern_answer(self._adapter, self.run_id, payload, self._head_pattern)

    @handles("run")
    def _run_request(self, content: dict[str, Any]) -> dict[str, Any]:
        """``{"mode": "random", "half", "seed", "batch"}`` or ``{"mode": "text", "text"}``:
        what the user typed, checked here; a bad value shows inline (the browser keeps what
        was typed)."""
        try:
            if content.get("mode") == "text":
                text = content.get("text")
                if not isinstance(text, str):
                    raise ValueError("text must be a string")
                changes: dict[str, Any] = dict(mode="text", text=text)
            else:
                half = check_half(self._adapter, _whole_number("half", content.get("half")))
                seed = check_seed(_whole_number("seed", content.get("seed")))
                batch = _check_batch(_whole_number("batch", content.get("batch")))
                changes = dict(mode="random", half=half, seed=seed, batch=batch)
        except (ValueError, TypeError) as exc:
            self._set(error=str(exc))
            return {}
        self._update(changes)
        return {}

    # ---- static export -------------------------------------------------------------------------

    def _static_state(self, options: dict[str, Any]) -> dict[str, Any]:
        """Every head's pattern when that is at most ``AUTO_EXPORT_BYTES`` (or when the export
        asks for every head with ``options["every_head"]``, as CircuitExplorer's
        ``full_resolution`` does), else the selected head and the listed top heads of every kind."""
        n_layers, n_heads, seq, _ = self._patterns.shape
        every = bool(options.get("every_head", False))
        if every or n_layers * n_heads * seq * seq * 2 <= AUTO_EXPORT_BYTES:
            heads = [(l, h) for l in range(n_layers) for h in range(n_heads)]
        else:
            heads = [(self.layer, self.head)] + [tuple(p) for kind in KINDS for p in self._top[kind]]
        return {"_bank": self._bank_of(heads)}
