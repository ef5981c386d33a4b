"""Stopping a long step (the kernel's stop button, Ctrl-C: a ``KeyboardInterrupt`` in the
kernel's main thread) leaves every view on what it showed, says so, clears its progress line,
and the next run works."""

from __future__ import annotations

import pytest

import circuitwidgets as cw
from circuitwidgets.widgets import _base
from circuitwidgets.widgets import attention_explorer, induction_scores, logit_lens, token_view

TEXT = "def f(x):\n    return x\ndef f(x):"
NEW = "a = 1\nb = 2\na = 1"


def _interrupting(*args, **kwargs):
    raise KeyboardInterrupt


CASES = {
    # how to build the view; the computation a change runs (patched to be interrupted); the
    # change; the synced traits that say what is drawn
    "AttentionExplorer": (lambda m: cw.AttentionExplorer(m, TEXT), (attention_explorer.AttentionStore, "build"), "text", NEW, ("run_id", "tokens")),
    "LogitLens": (lambda m: cw.LogitLens(m, TEXT), (logit_lens.LogitLens, "_forward"), "text", NEW, ("run_id", "tokens")),
    "TokenView": (lambda m: cw.TokenView(m, TEXT), (token_view, "next_token_probabilities"), "text", NEW, ("tokens",)),
    "InductionScores": (lambda m: cw.InductionScores(m, half=6, batch=2), (induction_scores.InductionScores, "_compute"), "seed", 7, ("run_id", "seed", "tokens")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_interrupted_run_keeps_the_view_and_says_so(name, monkeypatch):
    make, (owner, attribute), trait, value, drawn = CASES[name]
    view = make(cw.load_pocket_model())
    before = {t: getattr(view, t) for t in drawn}
    with monkeypatch.context() as patch:
        patch.setattr(owner, attribute, staticmethod(_interrupting) if isinstance(owner, type) else _interrupting)
        with pytest.raises(KeyboardInterrupt):
            setattr(view, trait, value)
    assert view.error.startswith("Interrupted: the view still shows the previous")
    assert getattr(view, "busy", "") == ""                 # the progress line is cleared
    assert {t: getattr(view, t) for t in drawn} == before   # nothing new drawn, settings back
    if trait == "text":
        assert view.text == value                             # what the user typed is kept
        assert view.error == _base.INTERRUPTED
        value = value + " "                                   # edit the text to run again
    else:
        assert f"{trait} is back to {before[trait]!r}" in view.error
    setattr(view, trait, value)
    assert view.error == ""
    assert getattr(view, trait) == value
    if "run_id" in before:
        assert view.run_id == before["run_id"] + 1
    view.close()
