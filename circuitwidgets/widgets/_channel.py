"""The one request channel between a view in the browser and its widget in the kernel.

A view asks for something it does not have yet (a head's full pattern, a page of the logit
lens, a token map) with ``invoke(name, payload)`` (``js/src/kit/channel.ts``); the widget
answers through a handler it names with :func:`handles`::

    class MyView(AnswersRequests, LinkedView):
        @handles("pattern")
        def _pattern(self, payload: dict) -> dict:
            return {"pattern": to_wire(...)}       # wire arrays travel as binary frames

        def __init__(self, ...):
            ...
            self._answer_requests()                # at the end of the constructor

The wire form (custom widget messages, the way ``anywidget.experimental.command`` does it)::

    browser -> kernel   {"kind": "cw-request", "id": "…", "name": "pattern", "payload": {...}}
    kernel -> browser   {"kind": "cw-response", "id": "…", "ok": true, "response": {...}}
                        {"kind": "cw-response", "id": "…", "ok": false, "error": "why",
                         "stale": false, "detail": {...}}

Wire arrays (``{"dtype", "shape", "buffer"}``) anywhere in a response go out as binary
frames (:func:`._transport.split_buffers`); the browser gets them back decoded. Every error
raised while answering is sent back as text, so the view shows it instead of waiting: a
``ValueError``/``TypeError``/``TraitError`` (bad input, which names the value and the range)
as its message, anything else as ``"<Type>: <message>"`` (and logged with its traceback).
A handler raises :class:`Stale` for a request about an input that has since been replaced;
the view drops that answer quietly. An exception with a ``detail`` dict attribute sends it
along (OVBrowser's token errors name the entry and the pieces it splits into).

:class:`LRU` is the one least-recently-used cache the widgets keep answers in.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, ClassVar, Generic, Hashable, Iterator, TypeVar

import traitlets

from ._transport import split_buffers

__all__ = ["AnswersRequests", "LRU", "REQUEST", "RESPONSE", "Stale", "handles"]

#: The ``kind`` of a request from the browser, and of the kernel's answer.
REQUEST = "cw-request"
RESPONSE = "cw-response"

#: Errors that are the user's (or the view's) input being refused: sent as their message.
_REFUSALS = (ValueError, TypeError, KeyError, traitlets.TraitError)

_HANDLES = "_cw_handles"

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
F = TypeVar("F", bound=Callable[..., Any])


class Stale(Exception):
    """A request about an input that has since been replaced: the view drops the answer (and
    asks again about the new input if it still needs to)."""


def handles(name: str) -> Callable[[F], F]:
    """Mark a method as the handler of the requests named ``name``.

    The method is called as ``method(self, payload)`` (``payload`` the JSON the view sent)
    and returns the response: JSON-able, with wire arrays anywhere in it.

    >>> class Echo(AnswersRequests):
    ...     @handles("echo")
    ...     def _echo(self, payload):
    ...         return {"said": payload["text"]}
    >>> sorted(Echo._request_handlers)
    ['echo']
    """

    def mark(method: F) -> F:
        setattr(method, _HANDLES, name)
        return method

    return mark


class AnswersRequests:
    """Mixin for a widget that answers named requests from its view (see the module docs).

    Collects the methods marked with :func:`handles` when the class is defined;
    :meth:`_answer_requests` starts listening (call it once, at the end of ``__init__``).
    """

    _request_handlers: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                name = getattr(value, _HANDLES, None)
                if isinstance(name, str):
                    found[name] = attr
        cls._request_handlers = found

    def _answer_requests(self) -> None:
        """Answer this widget's requests from now on."""
        self.on_msg(self._on_request)  # type: ignore[attr-defined]

    def _on_request(self, _widget: Any, content: Any, buffers: list) -> None:
        if not isinstance(content, dict) or content.get("kind") != REQUEST:
            return
        reply = self._reply(content.get("name"), content.get("payload"))
        message, frames = split_buffers(reply)
        self.send({"kind": RESPONSE, "id": content.get("id"), **message}, frames)  # type: ignore[attr-defined]

    def _reply(self, name: Any, payload: Any) -> dict[str, Any]:
        """``{"ok": True, "response": ...}`` or ``{"ok": False, "error": text, ...}``."""
        attr = self._request_handlers.get(name) if isinstance(name, str) else None
        if attr is None:
            known = ", ".join(sorted(self._request_handlers)) or "none"
            return _failure(f"{type(self).__name__} does not answer requests named {name!r}; it answers {known}")
        if not isinstance(payload, dict):
            return _failure(f"the payload of a {name!r} request must be an object, got {type(payload).__name__}")
        try:
            return {"ok": True, "response": getattr(self, attr)(payload)}
        except Stale as exc:
            return _failure(str(exc) or "about an input that has since been replaced", stale=True)
        except Exception as exc:  # noqa: BLE001 -- every error reaches the view as text
            if isinstance(exc, _REFUSALS):
                text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
                if isinstance(exc, KeyError):
                    text = f"the request lacks {text!r}"
            else:
                self.log.exception("answering the view's %r request failed", name)  # type: ignore[attr-defined]
                text = f"{type(exc).__name__}: {exc}"
            detail = getattr(exc, "detail", None)
            return _failure(text, detail=detail if isinstance(detail, dict) else None)


def _failure(error: str, *, stale: bool = False, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"ok": False, "error": error, "stale": stale}
    if detail is not None:
        out["detail"] = detail
    return out


class LRU(Generic[K, V]):
    """A dict that keeps the ``capacity`` most recently used entries (reads count as use).

    >>> cache = LRU(2)
    >>> cache["a"], cache["b"] = 1, 2
    >>> cache.get("a")          # 'a' is now the most recent
    1
    >>> cache["c"] = 3          # evicts 'b', the least recent
    >>> list(cache)
    ['a', 'c']
    """

    def __init__(self, capacity: int):
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            raise ValueError(f"capacity {capacity!r} must be a whole number of at least 1")
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, default: Any = None) -> Any:
        if key not in self._items:
            return default
        self._items.move_to_end(key)
        return self._items[key]

    def __getitem__(self, key: K) -> V:
        value = self._items[key]
        self._items.move_to_end(key)
        return value

    def __setitem__(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def clear(self) -> None:
        self._items.clear()
