"""Token-map questions for OVBrowser, answered by :mod:`circuitwidgets.analysis` and cached.

The browser asks three kinds of question about one head (the *modes*, named as
:class:`~circuitwidgets.analysis.TokenMap` names its ``kind``):

* ``"ov"`` — for each *source* token: which tokens does the head's full OV circuit promote
  when it attends to it? (:func:`~circuitwidgets.analysis.ov_token_map`)
* ``"ov_sources"`` — for each *target* token: which source tokens make the head write it?
  (:func:`~circuitwidgets.analysis.ov_sources_for`)
* ``"qk"`` — for each *query* token: which key tokens does the head prefer?
  (:func:`~circuitwidgets.analysis.qk_token_map`)

Each answer is a list of rows, one per given token, and rows are cached by
``(mode, layer, head, k, token)``: adding a token to a list computes one new row, and going
back to a head already seen costs nothing. The vocabulary-sized work (a product with
``W_U`` or ``W_E``) only ever happens here, in Python, never in the browser.

What a user types becomes a token id by :meth:`TokenQueries.resolve`: an int id, or a string
that is exactly one token (``" cat"`` with its leading space). Anything else raises
:class:`TokenQueryError`, whose message names the input and, for a string of several tokens,
lists its pieces so the view can offer them.

>>> q = TokenQueries(ModelAdapter(model))
>>> m = q.answer("ov", 1, 3, [q.resolve(" return")], k=5)  # a TokenMap, as analysis returns it
>>> m.top_strs[0][0]
' return'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..analysis import TokenMap, ov_sources_for, ov_token_map, qk_token_map
from ..model import ModelAdapter
from ._base import MAX_K
from ._channel import LRU
from ._transport import to_wire

__all__ = ["MODES", "MAX_K", "MAX_TOKENS", "TokenQueries", "TokenQueryError", "payload"]

#: The analysis function behind each mode.
_ANSWER: dict[str, Callable[..., TokenMap]] = {
    "ov": ov_token_map,
    "ov_sources": ov_sources_for,
    "qk": qk_token_map,
}
MODES = tuple(_ANSWER)
#: At most this many given tokens in one question (a list longer than that is a typo).
MAX_TOKENS = 64
#: Rows kept per widget (a row is k ids, k floats and k strings).
_CACHE_ROWS = 4096


class TokenQueryError(ValueError):
    """A typed token that is not exactly one token of the vocabulary.

    ``entry`` is what was typed; ``pieces`` the ``(id, display string)`` tokens a string
    splits into (empty when it is not a string of several tokens).
    """

    def __init__(self, message: str, entry: Any, pieces: list[tuple[int, str]] | None = None):
        super().__init__(message)
        self.entry = entry
        self.pieces = pieces or []

    @property
    def detail(self) -> dict[str, Any]:
        """What the view shows beside the message (sent along by the request channel)."""
        return {"entry": self.entry, "pieces": [{"id": i, "text": s} for i, s in self.pieces]}


@dataclass(frozen=True)
class _Row:
    given_str: str
    top_ids: torch.Tensor  # LongTensor[k]
    top_values: torch.Tensor  # float32 [k]
    top_strs: list[str]


class TokenQueries:
    """Answers token-map questions about one model's heads, with a row cache."""

    def __init__(self, adapter: ModelAdapter):
        self._adapter = adapter
        self._rows: LRU[tuple[str, int, int, int, int], _Row] = LRU(_CACHE_ROWS)

    # ---- what the user typed -> token ids ---------------------------------------------------

    def resolve(self, entry: Any) -> int:
        """The token id of ``entry`` (an id, or a string that is exactly one token)."""
        if isinstance(entry, bool) or not isinstance(entry, (int, str)):
            raise TokenQueryError(f"a token must be a string or an id, got {type(entry).__name__} {entry!r}", entry)
        if entry == "":
            raise TokenQueryError("the token is empty; type one token, e.g. ' the' (with its space)", entry)
        try:
            return self._adapter.to_single_token(entry)
        except ValueError as exc:
            pieces: list[tuple[int, str]] = []
            if isinstance(entry, str):
                ids = self._adapter.to_tokens(entry, check_length=False)[0].tolist()
                if self._adapter.prepends_bos and ids and ids[0] == self._adapter.bos_token_id:
                    ids = ids[1:]
                pieces = list(zip(ids, self._adapter.to_str_tokens(ids)))
            raise TokenQueryError(str(exc), entry, pieces) from None

    def check_mode(self, mode: Any) -> str:
        """``mode`` if it is one of :data:`MODES`, else a ``ValueError`` listing them."""
        if mode not in _ANSWER:
            raise ValueError(f"mode {mode!r} is not one of {list(MODES)}")
        return mode

    # ---- answers ------------------------------------------------------------------------------

    def answer(self, mode: str, layer: int, head: int, ids: list[int], k: int) -> TokenMap:
        """The :class:`~circuitwidgets.analysis.TokenMap` of ``mode`` for head ``layer.head``
        and the given token ids, computing only the rows not cached yet."""
        self.check_mode(mode)
        layer = self._adapter.check_layer(layer)
        head = self._adapter.check_head(head)
        if not 1 <= len(ids) <= MAX_TOKENS:
            raise ValueError(f"ask about 1 to {MAX_TOKENS} tokens at a time, got {len(ids)}")
        key = lambda token: (mode, layer, head, k, int(token))  # noqa: E731
        found = {int(t): self._rows.get(key(t)) for t in ids}
        missing = [t for t, row in found.items() if row is None]
        if missing:
            fresh = _ANSWER[mode](self._adapter, layer, head, torch.tensor(missing, dtype=torch.long), k=k)
            for i, token in enumerate(missing):
                found[token] = self._rows[key(token)] = _Row(
                    given_str=fresh.given_strs[i],
                    top_ids=fresh.top_ids[i],
                    top_values=fresh.top_values[i],
                    top_strs=fresh.top_strs[i],
                )
        rows = [found[int(t)] for t in ids]
        return TokenMap(
            kind=mode,
            layer=layer,
            head=head,
            given=torch.tensor(ids, dtype=torch.long),
            given_strs=[r.given_str for r in rows],
            top_ids=torch.stack([r.top_ids for r in rows]),
            top_values=torch.stack([r.top_values for r in rows]),
            top_strs=[r.top_strs for r in rows],
        )


def payload(token_map: TokenMap) -> dict[str, Any]:
    """A token map as the browser reads it: ids and values as binary arrays, strings as text.

    ``{"mode", "layer", "head", "k", "given": [ids], "given_strs": [...], "top_strs":
    [[...]], "top_ids": int32 [n, k] wire, "top_values": float32 [n, k] wire}``.
    """
    return {
        "mode": token_map.kind,
        "layer": token_map.layer,
        "head": token_map.head,
        "k": int(token_map.top_ids.shape[1]),
        "given": [int(t) for t in token_map.given],
        "given_strs": list(token_map.given_strs),
        "top_strs": [list(row) for row in token_map.top_strs],
        "top_ids": to_wire(token_map.top_ids, dtype="int32"),
        "top_values": to_wire(token_map.top_values, dtype="float32"),
    }
