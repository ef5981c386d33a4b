"""The request channel (widgets/_channel.py): named handlers, replies with binary frames, every
error reaching the view as text, stale requests, and the one LRU."""

from __future__ import annotations

import anywidget
import numpy as np
import pytest

import circuitwidgets as cw
from circuitwidgets.widgets import logit_lens as logit_lens_module
from circuitwidgets.widgets._channel import LRU, REQUEST, AnswersRequests, Stale, handles
from circuitwidgets.widgets._transport import from_wire, to_wire
from view_requests import ask


class Echo(AnswersRequests, anywidget.AnyWidget):
    _esm = "export default { render() {} }"

    def __init__(self):
        super().__init__()
        self._answer_requests()

    @handles("echo")
    def _echo(self, payload):
        return {"said": payload["text"], "twice": to_wire(np.array([1.5, 2.5], np.float32))}

    @handles("refuse")
    def _refuse(self, payload):
        raise ValueError(f"text {payload.get('text')!r} is not allowed; say 'hello'")

    @handles("crash")
    def _crash(self, _payload):
        raise NotImplementedError("half precision is not supported here")

    @handles("old")
    def _old(self, _payload):
        raise Stale()

    @handles("detailed")
    def _detailed(self, _payload):
        error = ValueError("no such token")
        error.detail = {"entry": "xyz"}
        raise error


def test_a_handler_answers_with_its_arrays_as_binary_frames():
    message, buffers = ask(Echo(), "echo", {"text": "hi"}, raw=True)
    assert message["ok"] and message["response"]["said"] == "hi"
    wire = message["response"]["twice"]
    assert "buffer" not in wire and len(buffers) == 1
    np.testing.assert_array_equal(from_wire({**wire, "buffer": buffers[wire["buffer_index"]]}), [1.5, 2.5])


def test_every_error_reaches_the_view_as_text():
    w = Echo()
    assert ask(w, "refuse", {"text": "bye"}) == {
        "kind": "cw-response", "id": "t1", "ok": False, "stale": False,
        "error": "text 'bye' is not allowed; say 'hello'",
    }
    crashed = ask(w, "crash", {})
    assert not crashed["ok"] and crashed["error"] == "NotImplementedError: half precision is not supported here"
    assert ask(w, "echo", {})["error"] == "the request lacks 'text'"
    assert ask(w, "detailed", {})["detail"] == {"entry": "xyz"}
    unknown = ask(w, "nope", {})
    assert unknown["error"] == "Echo does not answer requests named 'nope'; it answers crash, detailed, echo, old, refuse"
    assert "must be an object, got list" in ask(w, "echo", [1])["error"]
    stale = ask(w, "old", {})
    assert stale["stale"] and not stale["ok"]


def test_other_custom_messages_are_not_answered():
    w = Echo()
    sent = []
    w.send = lambda content, buffers=None: sent.append(content)
    w._on_request(w, {"kind": "something-else", "id": 1}, [])
    w._on_request(w, "not a dict", [])
    assert sent == []
    w._on_request(w, {"kind": REQUEST, "id": 7, "name": "echo", "payload": {"text": "x"}}, [])
    assert sent[0]["id"] == 7


def test_a_kernel_error_in_a_views_request_shows_instead_of_a_spinner(random_model, monkeypatch):
    # issue 17: the lens's attribution raised NotImplementedError on a half-precision model and
    # the view said "Computing the contributions…" forever
    view = cw.LogitLens(random_model, "a b c a b", k=3)

    def broken(*_args, **_kwargs):
        raise NotImplementedError("the final-norm probe cannot meet 1e-4 in float16")

    monkeypatch.setattr(logit_lens_module.analysis, "logit_attribution", broken)
    reply = ask(view, "attribution", {"run": view.run_id, "position": 2, "target": 1})
    assert reply["ok"] is False and reply["stale"] is False
    assert reply["error"] == "NotImplementedError: the final-norm probe cannot meet 1e-4 in float16"


def test_lru_keeps_the_most_recently_used():
    cache = LRU(2)
    cache["a"], cache["b"] = 1, 2
    assert cache["a"] == 1  # a read counts as use
    cache["c"] = 3
    assert list(cache) == ["a", "c"] and "b" not in cache and len(cache) == 2
    assert cache.get("b", "gone") == "gone"
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError, match="capacity 0 must be a whole number of at least 1"):
        LRU(0)
