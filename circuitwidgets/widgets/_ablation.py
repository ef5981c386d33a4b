"""Switching heads off inside a view: the ``ablated`` set, its mode, and the before/after answer.

AttentionExplorer and LogitLens share this: any set of heads can be ablated (``"zero"`` or
``"mean"`` over the text's positions, :func:`circuitwidgets.analysis.ablate`), and the view
shows, side by side, the target's probability, rank and the top predictions at its position
with and without them. The browser toggles a head (the A key, or the panel's button) by setting
``ablated``, which goes through the same validator as a Python assignment or the constructor,
and asks for the numbers through the request channel (``invoke("ablate", ...)``). Each view
keeps one :class:`~circuitwidgets.analysis.Ablator` per text, so after the first ablation each
one costs a single forward pass (unembedding only the position read).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import traitlets

from ..analysis import Ablation, Ablator
from ..analysis.heads import ABLATION_MODES  # how a view switches a head off (resample needs a second text)
from ..checks import check_choice
from ..model import ModelAdapter
from ._channel import handles
from ._transport import to_wire
from .selection import LinkedView

__all__ = ["ABLATION_MODES", "ABLATION_TOP_K", "HeadAblation", "check_heads"]

#: Top predictions listed before and after.
ABLATION_TOP_K = 5


def check_heads(adapter: ModelAdapter, heads: Any) -> list[tuple[int, int]]:
    """``heads`` as a list of ``(layer, head)`` pairs, each checked against the model, each once
    (in the order given); a clear error naming the entry that is not a pair or out of range.

    >>> check_heads(ModelAdapter(model), [[1, 3], (0, 1), (1, 3)])
    [(1, 3), (0, 1)]
    """
    if isinstance(heads, (str, bytes)) or not isinstance(heads, Sequence):
        raise TypeError(f"ablated must be a list of (layer, head) pairs, got {type(heads).__name__} {heads!r:.60}")
    out: list[tuple[int, int]] = []
    for i, pair in enumerate(heads):
        where = f"ablated {list(heads)!r:.60} is refused: ablated[{i}] = {pair!r:.40}"
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise TypeError(f"{where} is not a (layer, head) pair")
        try:
            layer = adapter.check_layer(pair[0])
            head = adapter.check_head(pair[1])
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{where}: {exc}") from None
        if (layer, head) not in out:
            out.append((layer, head))
    return out


class HeadAblation(LinkedView):
    """A linked view in which heads can be ablated (see the module docs). A subclass lists
    ``ablated`` and ``ablation_mode`` in ``_settable``, and says where the prediction is read:
    ``_ablation_text`` (the text on screen), ``_ablation_position()`` and
    ``_ablation_target(position)`` (``None``: :func:`~circuitwidgets.analysis.ablate`'s default)."""

    ablated = traitlets.List(
        help="The ablated heads, [(layer, head), ...]; [] for none. Checked against the model."
    ).tag(sync=True)
    ablation_mode = traitlets.Unicode(
        "zero", help="How an ablated head is switched off: 'zero' or 'mean' (over the text's positions)."
    ).tag(sync=True)

    @traitlets.validate("ablated")
    def _valid_ablated(self, proposal):
        return self._trait_check(check_heads, self._adapter, proposal["value"])

    @traitlets.validate("ablation_mode")
    def _valid_ablation_mode(self, proposal):
        return self._trait_check(check_choice, proposal["value"], "ablation_mode", ABLATION_MODES)

    # ---- public -------------------------------------------------------------------------------

    def toggle_ablation(self, layer: int | None = None, head: int | None = None) -> list[tuple[int, int]]:
        """Ablate head ``layer.head`` (default: the selected one), or bring it back if it is
        ablated; what the A key does in the view. Returns the new :attr:`ablated`.

        >>> w = cw.AttentionExplorer(model, "a b c d a b c", layer=1, head=3)
        >>> w.toggle_ablation()
        [(1, 3)]
        >>> w.toggle_ablation(1, 3)
        []
        """
        layer, head = self._head_or_selected(layer, head)
        if layer is None or head is None:
            raise ValueError("no head is selected; pass toggle_ablation(layer, head)")
        pair = (layer, head)
        self.ablated = [p for p in self.ablated if p != pair] if pair in self.ablated else [*self.ablated, pair]
        return list(self.ablated)

    def ablation(
        self, position: int | None = None, target: str | int | None = None, *, k: int = ABLATION_TOP_K
    ) -> Ablation:
        """The prediction at ``position`` (default: the view's) with :attr:`ablated` switched off
        as :attr:`ablation_mode` says, against the model's own: what the ablation panel shows.
        ``target`` defaults to the view's target there. ``ValueError`` when nothing is ablated.

        >>> w = cw.AttentionExplorer(model, "a b c d a b c", ablated=[(1, 3)])
        >>> abl = w.ablation()                 # at the last position: " d" comes next
        >>> abl.target_strs, bool(abl.probs_after[0] < abl.probs_before[0])
        ([' d'], True)
        """
        if not self.ablated:
            raise ValueError("no head is ablated; set ablated=[(layer, head), ...] or press A in the view")
        position = self._ablation_position() if position is None else position
        if target is None:
            target = self._ablation_target(position)
        return self._ablator().ablate(list(self.ablated), self.ablation_mode, positions=[position], target=target, k=k)

    # ---- what a view says ----------------------------------------------------------------------

    @property
    def _ablation_text(self) -> str:
        raise NotImplementedError

    def _ablation_position(self) -> int:
        raise NotImplementedError

    def _ablation_target(self, position: int) -> Optional[int]:
        return None

    def _ablator(self) -> Ablator:
        """One Ablator per text on screen (its clean run is kept)."""
        key = getattr(self, "run_id")
        held = getattr(self, "_held_ablator", None)
        if held is None or held[0] != key:
            held = (key, Ablator(self._adapter, self._ablation_text))
            self._held_ablator = held
        return held[1]

    # ---- the browser asks ----------------------------------------------------------------------

    @handles("ablate")
    def _ablation_request(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``{"run", "heads", "mode", "position", "target"}`` → the prediction there before and
        after (see :func:`ablation_answer`). The heads and mode go through the traits' checks."""
        heads, mode = self._validated(ablated=payload["heads"], ablation_mode=payload["mode"])
        position = payload.get("position")
        position = self._ablation_position() if position is None else int(position)
        target = payload.get("target")
        target = self._ablation_target(position) if target is None else int(target)
        if not heads:
            raise ValueError("no head is ablated")
        abl = self._ablator().ablate(heads, mode, positions=[position], target=target, k=ABLATION_TOP_K)
        return ablation_answer(payload.get("run"), heads, abl)


def ablation_answer(run: Any, heads: list[tuple[int, int]], abl: Ablation) -> dict[str, Any]:
    """What the ablation panel draws from one position's :class:`Ablation`: the heads and mode,
    the target, its probability, logit and rank before and after, and both top lists."""
    return {
        "run": run,
        "heads": [list(pair) for pair in heads],
        "mode": abl.mode,
        "position": int(abl.positions[0]),
        "target": int(abl.targets[0]),
        "target_str": abl.target_strs[0],
        "before": {"prob": float(abl.probs_before[0]), "logit": float(abl.logits_before[0]), "rank": int(abl.ranks_before[0])},
        "after": {"prob": float(abl.probs_after[0]), "logit": float(abl.logits_after[0]), "rank": int(abl.ranks_after[0])},
        "top_ids_before": to_wire(abl.top_ids_before[0], dtype="int32"),
        "top_probs_before": to_wire(abl.top_probs_before[0]),
        "top_ids_after": to_wire(abl.top_ids_after[0], dtype="int32"),
        "top_probs_after": to_wire(abl.top_probs_after[0]),
        "vocab": {str(i): text for i, text in abl.token_strs.items()},
    }
