"""PathExplorer: the numbers it draws are path_expansion's and add up to the model's logit (on
several architecture families), what its top pair really is on the pocket model's repeated
text, its selection, its request channel and its refusals of bad input."""

from __future__ import annotations

import pytest
import torch
import traitlets

import architectures
import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.model import ModelAdapter
from circuitwidgets.widgets._path_terms import ranked_terms
from view_requests import ask

REPEATED = "def area(w, h): return w * h\ndef area(w, h): return w * h"
SECOND_W = 23  # the second " w" of REPEATED (pocket tokenizer): next comes " *"
CODE = "def add(a, b):\n    return a + b\ndef add(a, b):"


@pytest.fixture(scope="module")
def pocket():
    return cw.load_pocket_model("attn-only-2l")


@pytest.fixture(scope="module")
def view(pocket):
    return cw.PathExplorer(pocket, REPEATED, position=SECOND_W)


def expand(w, position, mode="frozen", target=None) -> dict:
    reply = ask(w, "expand", {"run": w.run_id, "position": position, "mode": mode, "target": target})
    assert reply["ok"], reply
    return reply["response"]


def model_logit(model, text: str, position: int, target: int) -> float:
    adapter = ModelAdapter(model)
    return float(adapter.forward_logits(adapter.to_tokens(text))[0, position, target])


# ---- the numbers drawn are path_expansion's, on several families ------------------------------------


def _family(name: str):
    if name == "pocket attn-only":
        return cw.load_pocket_model("attn-only-2l")
    try:
        return architectures.load(name, architectures.kinds()[0])
    except architectures.Unbootable as why:
        pytest.skip(str(why))


#: GPT-2 style (learned positions, LayerNorm, MLPs frozen as terms), a GQA rotary RMSNorm
#: family (Llama, MLPs frozen), and an attention-only model.
@pytest.fixture(scope="module", params=["pocket attn-only", "gpt2", "llama"])
def family(request):
    return request.param, _family(request.param)


@pytest.mark.parametrize("mode", ["frozen", "weights"])
def test_the_terms_drawn_are_path_expansions_and_add_up(family, mode):
    name, model = family
    w = cw.PathExplorer(model, CODE)
    position = 9
    shown = expand(w, position, mode)
    attention = {"frozen": "frozen", "weights": "uniform"}[mode]
    paths = analysis.path_expansion(model, CODE, position=position, top=20, attention=attention)
    labels, values = paths.terms()
    drawn = {t["label"]: t["value"] for t in shown["terms"]}
    assert sorted(drawn) == sorted(labels)
    for label, value in zip(labels, values.tolist()):
        assert drawn[label] == pytest.approx(value, rel=1e-5, abs=1e-6), label
    values_drawn = [t["value"] for t in shown["terms"]]
    assert [abs(v) for v in values_drawn] == sorted((abs(v) for v in values_drawn), reverse=True)
    expected = model_logit(model, CODE, position, paths.target)
    assert shown["model_logit"] == pytest.approx(expected, rel=1e-4, abs=1e-5)
    assert sum(values_drawn) == pytest.approx(shown["logit"], rel=1e-4, abs=1e-5)
    if mode == "frozen":  # exact: the terms are the model's own logit
        assert shown["logit"] == pytest.approx(expected, rel=1e-4, abs=1e-5)
    mlps = [t for t in shown["terms"] if t["kind"] == "mlp"]
    if ModelAdapter(model).attn_only:
        assert mlps == []
    else:
        assert sorted(t["label"] for t in mlps) == [f"L{l} MLP (frozen)" for l in range(ModelAdapter(model).n_layers)]
    assert w.attn_only == ModelAdapter(model).attn_only
    head = next(t for t in shown["terms"] if t["kind"] == "head")
    tops = paths.head_top_values[head["layer"], head["head"]]
    assert [v for _, v in head["top"]] == pytest.approx(tops[: len(head["top"])].tolist(), rel=1e-5)


def test_weights_only_is_a_different_reading_of_the_same_model(view):
    frozen, weights = expand(view, SECOND_W, "frozen"), expand(view, SECOND_W, "weights")
    assert frozen["model_logit"] == weights["model_logit"] == pytest.approx(frozen["logit"])
    assert abs(weights["logit"] - frozen["logit"]) > 0.5  # uniform attention loses the induction
    assert weights["reading"].startswith("Weights only: with every head attending evenly")
    assert f"(the model's own is {frozen['logit']:.2f})" in weights["reading"]


# ---- what the top pair term really is ------------------------------------------------------


def test_the_top_pair_at_the_second_occurrence_is_a_current_token_head_into_an_induction_head(view, pocket):
    """Issue #21 expected previous-token head -> induction head. What the shipped model does,
    as the view draws it (pairs ranked by |term|): at the second " w" of the repeated line the
    largest pair is L0H0 -> L1H1. L0H0 is a current-token head (~0.99 attention to its own
    position) and L1H1 an induction head; the previous-token head L0H1 shapes L1H1's pattern
    (K-composition, frozen here) but its value path L0H1 -> L1H1 is far smaller."""
    shown = expand(view, SECOND_W, "frozen")
    assert (shown["token"], shown["target_str"]) == (" w", " *")
    pair = next(t for t in shown["terms"] if t["kind"] == "pair")
    assert pair["label"] == "L0H0 → L1H1" and pair["value"] > 0.5
    patterns = analysis.attention_patterns(pocket, REPEATED).patterns
    own = patterns[0].diagonal(dim1=-2, dim2=-1)[:, 1:].mean(-1)
    assert own[0] > 0.95 and own[1] < 0.01  # L0H0 current-token; L0H1 is not
    assert analysis.text_head_scores(pocket, REPEATED, "previous_token").scores[0, 1] > 0.95
    induction = analysis.text_head_scores(pocket, REPEATED, "induction").scores[1]
    assert induction[1] > 0.3 and int(induction.argmax()) in (1, 3)
    previous = next(t for t in shown["terms"] if t["label"] == "L0H1 → L1H1")
    assert abs(previous["value"]) < 0.6 * pair["value"]


def test_across_the_second_copy_current_token_heads_lead_the_pairs(pocket):
    half = "x = compute(alpha, beta) + gamma * delta"
    w = cw.PathExplorer(pocket, half + "\n" + half)
    start = w.tokens.index("\n") + 2
    firsts = []
    for position in range(start, len(w.tokens) - 1):
        pair = next(t for t in expand(w, position)["terms"] if t["kind"] == "pair")
        firsts.append(tuple(pair["pair"]))
    assert all(l1 == 0 and l2 == 1 for l1, _, l2, _ in firsts)
    current = sum(h1 in (0, 2) for _, h1, _, _ in firsts)
    previous = sum(h1 == 1 for _, h1, _, _ in firsts)
    assert current >= 0.7 * len(firsts) and previous <= 0.1 * len(firsts), firsts


# ---- the selection, the text and the request channel ---------------------------------------------


def test_position_follows_the_selection_and_a_pair_selects_its_second_head(pocket):
    sel = cw.Selection()
    w = cw.PathExplorer(pocket, REPEATED, selection=sel)
    attention = cw.AttentionExplorer(pocket, REPEATED, selection=sel)
    assert w.position == len(w.tokens) - 1 == sel.position
    sel.position = SECOND_W
    assert w.position == SECOND_W and w.paths.position == SECOND_W
    w.select(1, 1)  # what a click on the pair L0H0 -> L1H1 writes (js/src/path_explorer/state.ts)
    assert (attention.layer, attention.head) == (1, 1)
    sel.position = 500  # another view's longer text: not a position here, ignored
    assert w.position == SECOND_W


def test_a_new_text_moves_the_position_into_it_and_old_requests_are_stale(pocket):
    w = cw.PathExplorer(pocket, REPEATED)
    run = w.run_id
    w.text = "a b a b"
    assert w.run_id == run + 1 and w.position == len(w.tokens) - 1 and w.error == ""
    reply = ask(w, "expand", {"run": run, "position": 1, "mode": "frozen", "target": None})
    assert reply["ok"] is False and reply["stale"] is True


def test_the_target_changes_what_is_expanded(view):
    reply = expand(view, SECOND_W, target=" h")
    assert reply["target_str"] == " h"
    assert ask(view, "target", {"text": " h"})["ok"]
    assert view.target == " h" and view.target_error == "" and view.paths.target_str == " h"
    ask(view, "target", {"text": ""})
    assert view.target is None and view.paths.target_str == " *"


# ---- bad input -------------------------------------------------------------------------------------


def test_bad_input_is_refused_clearly_and_the_last_good_state_stays(view):
    before = (view.position, view.target, view.mode, view.tokens, view.run_id)
    with pytest.raises(traitlets.TraitError, match=r"position 26 is out of range; this text has 26 tokens, so positions 0..25"):
        view.position = 26
    with pytest.raises(traitlets.TraitError, match=r"' return a' is 2 tokens \[' return', ' a'\], not a single token"):
        view.target = " return a"
    with pytest.raises(traitlets.TraitError, match="mode"):
        view.mode = "exact"
    refused = ask(view, "expand", {"run": view.run_id, "position": 99, "mode": "frozen", "target": None})
    assert refused["ok"] is False and "position 99 is out of range; this text has 26 tokens" in refused["error"]
    refused = ask(view, "expand", {"run": view.run_id, "position": -1, "mode": "frozen", "target": None})
    assert "position -1 is out of range" in refused["error"]
    refused = ask(view, "expand", {"run": view.run_id, "position": 3, "mode": "frozen", "target": " return a"})
    assert "not a single token" in refused["error"]
    refused = ask(view, "expand", {"run": view.run_id, "position": 3, "mode": "exact", "target": None})
    assert "mode 'exact' is not one of ['frozen', 'weights']" in refused["error"]
    ask(view, "target", {"text": " return a"})
    assert "not a single token" in view.target_error and view.target is None
    view.text = ""
    assert "empty" in view.error
    assert (view.position, view.target, view.mode, view.tokens, view.run_id) == before
    view.text = REPEATED
    assert view.error == ""
    with pytest.raises(ValueError, match="out of range"):
        cw.PathExplorer(view._adapter, REPEATED, position=26)
    with pytest.raises(TypeError, match="did you mean 'target'"):
        cw.PathExplorer(view._adapter, REPEATED, targte=" h")


HOSTILE = '<img src=x onerror=alert(1)> </script><script>alert(2)</script> {{x}} \u202e'


def test_a_hostile_text_is_expanded_like_any_other(pocket):
    w = cw.PathExplorer(pocket, HOSTILE)
    shown = expand(w, len(w.tokens) - 2)
    assert "".join(w.tokens[1:]).startswith(HOSTILE[:60])  # markup kept as text
    assert sum(t["value"] for t in shown["terms"]) == pytest.approx(shown["logit"], rel=1e-4, abs=1e-5)


def test_a_static_export_carries_the_position_shown_in_both_readings(view, tmp_path):
    path = view.save_html(tmp_path / "paths.html")
    state = [e.encode() for e in view._static_state({})["_expansions"]]
    assert [(e["mode"], e["position"]) for e in state] == [("frozen", SECOND_W), ("weights", SECOND_W)]
    assert state[0]["terms"] == ranked_terms(view.expansion(mode="frozen"))
    html = path.read_text()
    assert "_expansions" in html and "L0H0" in html and "Weights only" in html
