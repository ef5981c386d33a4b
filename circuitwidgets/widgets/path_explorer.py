"""PathExplorer: one logit as a waterfall of paths through the heads, attention frozen.

The view of :func:`~circuitwidgets.analysis.path_expansion`. For the selected position and a
target token it draws every path term, largest first, as a waterfall that climbs from 0 to the
logit: the direct path (embeddings straight to the unembedding), each head, each named pair of
heads in different layers (a virtual head: V-composition through the frozen patterns), the
other pairs summed, the paths through more heads, each MLP's frozen output (models with MLPs:
named "L1 MLP (frozen)", nothing is expanded through an MLP) and the biases. The largest
:data:`BARS` are drawn one by one and the rest summed in one bar ("Show all" lists them). Hover
a bar for the tokens that path pushes up most at the position.

Two readings (``mode``):

* ``"frozen"`` -- the model's own attention patterns on this text, frozen: exact, the terms
  add up to the model's logit.
* ``"weights"`` -- weights only: every head attends evenly to the text so far
  (:func:`~circuitwidgets.analysis.path_expansion` with ``attention="uniform"``), so a term is
  that path's OV circuit alone, averaged over the prefix; the QK circuits play no part. The
  terms add up to that computation's logit, shown beside the model's.

The position is the shared selection's ``position``: clicking a token of the strip (or any
linked view moving the position) asks the kernel for that position's expansion through the
request channel (``"expand"``). Clicking a head's bar selects that head; clicking a pair's bar
selects the pair (the selection's ``pair``): both heads, the second (the one that reads the
first through its value) as the selected head, so every linked view marks both and a linked
AttentionExplorer draws the two patterns side by side.
"""

from __future__ import annotations

from typing import Any, Optional

import traitlets

from .. import analysis
from ..analysis import PathExpansion, TextRun
from ..checks import check_choice, check_position
from ._channel import LRU, AnswersRequests, Stale, handles
from ._path_terms import ATTENTION_OF, MODES
from ._payloads import ShownExpansion
from ._transport import Encoded
from .selection import LinkedView, PairTrait, Selection

__all__ = ["PathExplorer", "BARS", "MODES"]

#: Bars drawn one by one before "the rest" (the view's "Show all" lists every term).
BARS = 12
#: Head pairs named one by one (the others are summed by the analysis).
TOP_PAIRS = 20
#: Expansions the kernel keeps (position x target x mode), most recent last.
_CACHE = 32


class PathExplorer(AnswersRequests, LinkedView):
    """The logit at a position of ``text`` as a waterfall of paths (see the module docs).

    Parameters
    ----------
    model:
        {MODELS}.
    text:
        The text. Empty, or longer than the model's context: ``ValueError`` here; set later
        through :attr:`text`, the problem shows inside the view and the last good one stays.
    tokens:
        Token ids instead of ``text``, for a model without a tokenizer.
    position:
        The position whose next-token logit is expanded (default: the selection's, else the
        last position).
    target:
        A string that is exactly one token, or an id; ``None`` (default): the token that
        actually follows, or at the last position the model's top prediction.
    mode:
        ``"frozen"`` (default) or ``"weights"`` (see the module docs).
    selection:
        A :class:`~circuitwidgets.Selection` to share with other views (default: a new one).
    layer, head:
        A head to select first.

    Traits
    ------
    text : str
        Setting it re-runs the model (the position moves to the last one if it was past the end).
    position : int
        The expanded position, kept equal to ``selection.position``.
    target : str, int or None
        The token whose logit is expanded; a string that is not one token raises naming it.
    mode : "frozen" or "weights"
        The reading.
    layer, head : int or None
        The selected head (a head's bar, or a pair's second head, sets them).
    pair : list of int
        ``[]`` or the selected pair ``[writer layer, writer head, reader layer, reader head]``
        (a pair's bar sets it), kept equal to ``selection.pair``.
    error, target_error : str
        Why the last text / the last target typed in the view was refused ('' when it was not).
    tokens, model_name, n_layers, n_heads, attn_only, run_id, busy
        Read-only: the tokens' display strings; the model's sizes and whether it has MLPs; a
        counter bumped for every new text; the progress line.

    Examples
    --------
    >>> text = "def area(w, h): return w * h\\ndef area(w, h): return w * h"
    >>> w = cw.PathExplorer(model, text, position=23)   # the second " w": what comes next?
    >>> w.paths.target_str, w.paths.pair_labels()[0]
    (' *', 'L0H0 → L1H1')
    >>> w.mode = "weights"                    # the OV circuits alone, attention uniform
    >>> w.paths.attention
    'uniform'
    """

    _bundle = "path_explorer"
    _linked = ("position", "layer", "head", "pair")
    _settable = ("text", "target", "mode")

    position = traitlets.Int(0, help="The expanded position.")
    layer = traitlets.Int(None, allow_none=True, help="The selected head's layer, or None.")
    head = traitlets.Int(None, allow_none=True, help="The selected head, or None.")
    pair = PairTrait([], help="[] or the selected pair [writer layer, writer head, reader layer, reader head].")

    text = traitlets.Unicode(help="The input text; setting it re-runs the model.").tag(sync=True)
    target = traitlets.Union(
        [traitlets.Int(), traitlets.Unicode()], allow_none=True, default_value=None,
        help="The target token (one-token string or id), or None for the next token.",
    ).tag(sync=True)
    mode = traitlets.Enum(MODES, "frozen", help="'frozen': the model's patterns; 'weights': uniform attention.").tag(sync=True)
    model_name = traitlets.Unicode().tag(sync=True)
    n_layers = traitlets.Int().tag(sync=True)
    n_heads = traitlets.Int().tag(sync=True)
    attn_only = traitlets.Bool().tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode(), help="Display strings of the tokens.").tag(sync=True)
    #: The expansions a static export carries (both modes at the position shown); [] live.
    _expansions = Encoded(ShownExpansion, many=True).tag(sync=True)
    target_error = traitlets.Unicode("").tag(sync=True)
    run_id = traitlets.Int(0).tag(sync=True)
    busy = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        model: Any,
        text: str | None = None,
        *,
        tokens: Any = None,
        position: int | None = None,
        target: str | int | None = None,
        mode: str = "frozen",
        selection: Selection | None = None,
        layer: int | None = None,
        head: int | None = None,
        **kwargs: Any,
    ):
        self._prepare(model, kwargs, selection=selection)
        text = self._adapter.view_text(text, tokens)
        self._cache: LRU[tuple, PathExpansion] = LRU(_CACHE)
        self._run = self._forward(text)  # bad text raises here
        (mode,) = self._validated(mode=mode)
        super().__init__(
            text=self._run.text, mode=mode,
            model_name=self._adapter.name, n_layers=self._adapter.n_layers, n_heads=self._adapter.n_heads,
            attn_only=self._adapter.attn_only, tokens=list(self._run.str_tokens),
            position=self._run.seq_len - 1,
            **kwargs,
        )
        self.target = target
        self._start_linking(position=position, layer=layer, head=head)
        self._answer_requests()

    # ---- public -------------------------------------------------------------------------------

    @property
    def run(self) -> TextRun:
        """The forward pass of the text on screen (every expansion reads it).

        >>> cw.PathExplorer(model, "a b c a b").run.str_tokens[-2:]
        [' a', ' b']
        """
        return self._run

    @property
    def paths(self) -> PathExpansion:
        """The expansion drawn now: at :attr:`position`, for :attr:`target`, in :attr:`mode`.

        >>> w = cw.PathExplorer(model, "a b c a b c", position=5)
        >>> labels, values = w.paths.terms()
        >>> bool(abs(values.sum() - w.paths.logit) < 1e-3)
        True
        """
        return self.expansion()

    def expansion(self, position: int | None = None, target: str | int | None = None, mode: str | None = None) -> PathExpansion:
        """The order-2 expansion at ``position`` for ``target`` in ``mode`` (defaults: what the
        view shows), as the view draws it; the last few are kept.

        >>> w = cw.PathExplorer(model, "a b c a b c")
        >>> w.expansion(position=4, target=" c").target_str, w.expansion(mode="weights").attention
        (' c', 'uniform')
        """
        position = self.position if position is None else check_position(position, self._run.seq_len)
        mode = self.mode if mode is None else check_choice(mode, "mode", MODES)
        target_id = self._target_id if target is None else self._adapter.to_single_token(target)
        key = (self.run_id, position, target_id, mode)
        if key not in self._cache:
            self._cache[key] = analysis.path_expansion(
                self._adapter, self._run, position, target_id, order=2, top=TOP_PAIRS, attention=ATTENTION_OF[mode]
            )
        return self._cache[key]

    @property
    def _target_id(self) -> Optional[int]:
        """The picked target's id, or None for the token that follows (the top prediction at the end)."""
        return None if self.target is None else self._adapter.to_single_token(self.target)

    # ---- validation ------------------------------------------------------------------------------

    @traitlets.validate("position")
    def _valid_position(self, proposal):
        return self._check_index("position", proposal["value"], self._run.seq_len)

    @traitlets.validate("target")
    def _valid_target(self, proposal):
        if proposal["value"] is not None:
            self._trait_check(self._adapter.to_single_token, proposal["value"])
        return proposal["value"]

    # ---- computing -------------------------------------------------------------------------------

    def _forward(self, text: str) -> TextRun:
        return analysis.run_text(self._adapter, text, needs=("paths",))

    @traitlets.observe("text")
    def _text_changed(self, change: dict[str, Any]) -> None:
        if change["new"] == self._run.text:
            self._set(error="")
            return
        with self._busy("Running the model…"):
            run = self._attempt(lambda: self._forward(change["new"]))
        if run is None:
            return  # `error` says why; the last text's drawing stays
        self._run = run
        self._cache.clear()
        if self.position >= run.seq_len:  # into the new text first, so the view asks once
            with self.selection.hold_sync():
                self.position = run.seq_len - 1
        with self.hold_sync():
            self._set(run_id=self.run_id + 1, tokens=list(run.str_tokens), error="")

    def _payload(self, position: int, target: Any, mode: str) -> ShownExpansion:
        with self._busy(f"Expanding the logit at position {position}…"):
            return ShownExpansion(self.expansion(position, target, mode), mode, self.run_id)

    # ---- the browser asks ----------------------------------------------------------------------

    @handles("expand")
    def _expand_request(self, content: dict[str, Any]) -> dict[str, Any]:
        """``{"run", "position", "mode", "target"}`` → that expansion's terms and reading.
        A position outside the text or a target that is not one token is refused with a
        message naming it (the view keeps what it drew)."""
        if content.get("run") != self.run_id:
            raise Stale("about a text that has since been replaced")
        position = content.get("position")
        if isinstance(position, float) and position.is_integer():
            position = int(position)
        position = check_position(position, self._run.seq_len)
        if position != content.get("position"):
            raise ValueError(f"position {content.get('position')} is out of range; this text has "
                             f"{self._run.seq_len} tokens, so positions 0..{self._run.seq_len - 1}")
        mode = check_choice(content.get("mode"), "mode", MODES)
        return self._payload(position, content.get("target"), mode).encode()

    @handles("target")
    def _target_request(self, content: dict[str, Any]) -> dict[str, Any]:
        """``{"text"}`` → set (or, for "", clear) the target, or say why not in ``target_error``."""
        text = content.get("text")
        if not isinstance(text, str) or text == "":
            self.target = None
            self._set(target_error="")
            return {}
        try:
            self.target = text
            self._set(target_error="")
        except traitlets.TraitError as exc:
            self._set(target_error=str(exc))
        return {}

    # ---- static export -------------------------------------------------------------------------

    def _static_state(self, options: dict[str, Any]) -> dict[str, Any]:
        """An export has no kernel: it carries the position on screen in both readings."""
        return {"_expansions": [self._payload(self.position, self.target, mode) for mode in MODES]}
