"""Asking a widget what its view asks, through the request channel (``widgets/_channel.py``),
as the browser does: one request in, the one reply out with its binary frames put back."""

from __future__ import annotations

from typing import Any

from circuitwidgets.widgets._channel import REQUEST, RESPONSE


def with_buffers(message: Any, buffers: list) -> Any:
    """A message's wire arrays with their binary frames put back (as ipywidgets does)."""
    if isinstance(message, dict):
        if "buffer_index" in message:
            rest = {k: v for k, v in message.items() if k != "buffer_index"}
            return {**rest, "buffer": memoryview(buffers[message["buffer_index"]])}
        return {k: with_buffers(v, buffers) for k, v in message.items()}
    if isinstance(message, list):
        return [with_buffers(v, buffers) for v in message]
    return message


def ask(widget: Any, name: str, payload: Any, *, raw: bool = False) -> Any:
    """The widget's reply to request ``name``: ``{"ok", "response" | "error", "stale", ...}``
    with arrays holding their buffers (``raw=True``: ``(message, buffers)`` as sent)."""
    sent: list = []
    widget.send = lambda content, buffers=None: sent.append((content, list(buffers or [])))
    try:
        widget._on_request(widget, {"kind": REQUEST, "id": "t1", "name": name, "payload": payload}, [])
    finally:
        del widget.send
    ((message, buffers),) = sent
    assert message["kind"] == RESPONSE and message["id"] == "t1"
    return (message, buffers) if raw else with_buffers(message, buffers)
