"""Ablating heads inside AttentionExplorer and LogitLens in a real JupyterLab, driven through
Chromium: click a head, press A (or click Ablate), read the new probability in the page and in
Python, switch zero | mean, bring the head back."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Locator, expect

from .notebook import Notebook

#: Sixteen letters said twice: the pocket model's induction head L1H3 predicts the second copy.
TEXT = " ".join("abcdefghijklmnop") + " " + " ".join("abcdefghijklmnop")

SETUP = '''
import json
import circuitwidgets as cw
model = cw.load_pocket_model()

def ablation(w):
    """What Python sees of a view's ablation, and the numbers it computes for it."""
    out = dict(ablated=[list(p) for p in w.ablated], mode=w.ablation_mode)
    if w.ablated:
        a = w.ablation()
        out.update(position=int(a.positions[0]), target=int(a.targets[0]), before=float(a.probs_before[0]),
                   after=float(a.probs_after[0]), rank_after=int(a.ranks_after[0]))
    return json.dumps(out)
print(model.cfg.n_layers)
'''


@pytest.fixture(scope="module")
def kernel(notebook: Notebook) -> Notebook:
    assert notebook.run(SETUP).text() == "2"
    return notebook


def py(nb: Notebook, widget: str) -> dict:
    return json.loads(nb.run(f"print(ablation({widget}))").text())


def panel(view: Locator) -> Locator:
    return view.locator(".cw-ablation")


def expect_ready(view: Locator, heads: str, mode: str) -> Locator:
    p = panel(view)
    expect(p).to_have_attribute("data-heads", heads)
    expect(p).to_have_attribute("data-mode", mode)
    expect(p).to_have_attribute("data-state", "ready")
    return p


def test_click_a_head_press_a_and_the_prediction_moves(kernel):
    view = kernel.run(f"w = cw.AttentionExplorer(model, {TEXT!r})\nw").output.locator(".cw-attention-explorer")
    expect(view).to_have_attribute("data-ready", "true")
    expect(panel(view)).to_have_attribute("data-state", "idle")
    tile = view.get_by_role("button", name="layer 1 head 3", exact=True)
    tile.click()
    view.page.keyboard.press("a")
    p = expect_ready(view, "L1H3", "zero")
    expect(tile).to_have_attribute("data-ablated", "true")
    state = py(kernel, "w")
    assert state["ablated"] == [[1, 3]] and state["mode"] == "zero"
    assert float(p.get_attribute("data-prob-after")) == pytest.approx(state["after"], abs=1e-6)
    assert float(p.get_attribute("data-prob-before")) == pytest.approx(state["before"], abs=1e-6)
    assert int(p.get_attribute("data-rank-after")) == state["rank_after"]
    assert int(p.get_attribute("data-position")) == state["position"] == int(kernel.run("print(len(w.tokens))").text()) - 1
    assert state["after"] < state["before"]  # the induction head was doing the work
    expect(p.locator(".cw-ablation-after")).to_contain_text("L1H3 zeroed")
    # mean instead of zero: a click on the toggle, Python follows and the numbers are redrawn
    p.get_by_role("button", name="mean", exact=True).click()
    expect_ready(view, "L1H3", "mean")
    state = py(kernel, "w")
    assert state["mode"] == "mean"
    assert float(p.get_attribute("data-prob-after")) == pytest.approx(state["after"], abs=1e-6)
    # a locked query moves where the prediction is read
    kernel.run("w.query = 20")
    expect(p).to_have_attribute("data-position", "20")
    assert py(kernel, "w")["position"] == 20
    # A again brings it back
    tile.click()
    view.page.keyboard.press("a")
    expect(panel(view)).to_have_attribute("data-state", "idle")
    assert py(kernel, "w")["ablated"] == []


def test_logit_lens_ablate_button_and_a_screenshot_at_1440(kernel):
    page = kernel.page
    page.set_viewport_size({"width": 1440, "height": 900})
    try:
        view = kernel.run(f"l = cw.LogitLens(model, {TEXT!r}, position=20)\nl.select(1, 3)\nl").output.locator(".cw-logit-lens")
        expect(view).to_have_attribute("data-ready", "true")
        p = panel(view)
        button = p.get_by_role("button", name="Ablate L1H3")
        button.click()
        expect_ready(view, "L1H3", "zero")
        state = py(kernel, "l")
        assert state["ablated"] == [[1, 3]] and state["position"] == 20
        assert int(p.get_attribute("data-target")) == state["target"]
        assert float(p.get_attribute("data-prob-after")) == pytest.approx(state["after"], abs=1e-6)
        # Python sets the set: the page follows
        kernel.run("l.ablated = [(1, 3), (0, 1)]")
        p = expect_ready(view, "L1H3,L0H1", "zero")
        assert float(p.get_attribute("data-prob-after")) == pytest.approx(py(kernel, "l")["after"], abs=1e-6)
        expect(p.locator(".cw-ablation-chip")).to_have_count(2)
        p.scroll_into_view_if_needed()
        kernel.screenshot("ablation-logit_lens-1440", p)
        # a refused value from Python leaves the page as it was
        kernel.run("try:\n    l.ablated = [(9, 0)]\nexcept Exception as e:\n    print(e)")
        expect(p).to_have_attribute("data-heads", "L1H3,L0H1")
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def test_induction_scores_with_the_previous_token_head_ablated(kernel):
    view = kernel.run("s = cw.InductionScores(model)\ns").output.locator(".cw-induction-scores")
    expect(view).to_have_attribute("data-ready", "true")
    scores = view.locator(".cw-is-scores")
    view.get_by_role("button", name="layer 0 head 1", exact=True).click()
    scores.get_by_role("button", name="selected head zeroed").click()
    expect(scores).to_have_attribute("data-ablated-head", "L0H1")
    expect(scores).to_have_attribute("data-ablation", "zero")
    induction = view.get_by_role("button", name="layer 1 head 3", exact=True)
    got = json.loads(kernel.run("print(json.dumps([s.ablation, float(s.ablated_scores('induction')[1, 3]), "
                                "float(s.scores('induction')[1, 3])]))").text())
    assert got[0] == "zero" and got[1] < 0.1 < got[2]  # K-composition: the induction head needs L0H1
    expect(induction).to_have_attribute("data-induction", re.compile(r"0\.0\d+"))
    assert float(induction.get_attribute("data-induction")) == pytest.approx(got[1], abs=1e-6)
    expect(view.locator(".cw-is-ablated-note")).to_contain_text("L0H1 switched off")
    scores.get_by_role("button", name="as measured").click()
    expect(scores).to_have_attribute("data-ablation", "off")
    expect(induction).to_have_attribute("data-induction", re.compile(r"0\.[5-9]\d+"))
    assert float(induction.get_attribute("data-induction")) == pytest.approx(got[2], abs=1e-6)
    assert json.loads(kernel.run("print(json.dumps(s.ablation))").text()) == "off"
