"""InductionScores in Python: its numbers are circuitwidgets.analysis's, its settings are checked
with errors that name the value and the range, the browser's requests and pattern fetches, the
shared selection, the static export's data, and the pocket models' named heads on top."""

from __future__ import annotations

import pytest
import torch
import traitlets

import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.widgets._export import static_state
from circuitwidgets.widgets._transport import encode_trait, from_wire
from circuitwidgets.widgets.induction_scores import MAX_BATCH, TOP_K, diagonal_runs
from circuitwidgets.widgets._payloads import ScoresShown
from view_requests import ask

KINDS = analysis.KINDS
REPEATING = "def add(a, b):\n    return a + b\ndef add(a, b):\n    return a + b\n"


@pytest.fixture
def widget(random_model):
    return cw.InductionScores(random_model, half=10, batch=2, seed=3)


# ---- diagonal runs (the guides' geometry) ----------------------------------------------------


def test_diagonal_runs_of_the_repeated_sequence_targets():
    half = 7
    tokens = torch.cat([torch.tensor([[0]]), torch.arange(1, 1 + half)[None].repeat(1, 2)], dim=1)
    queries = torch.zeros(tokens.shape, dtype=torch.bool)
    queries[:, 1 + half :] = True
    runs = {kind: diagonal_runs((analysis.heads.target_keys(tokens, kind) & queries[:, :, None])[0]) for kind in KINDS}
    # query i in the second half -> key i - half + 1 (induction), i - half (duplicate), i - 1
    assert runs["induction"] == [[half + 1, 2, half]]
    assert runs["duplicate_token"] == [[half + 1, 1, half]]
    assert runs["previous_token"] == [[half + 1, half, half]]


def test_diagonal_runs_match_a_brute_force_walk():
    torch.manual_seed(0)
    mask = torch.rand(23, 23) < 0.3
    runs = diagonal_runs(mask)
    rebuilt = torch.zeros_like(mask)
    for row, col, length in runs:
        for t in range(length):
            assert not rebuilt[row + t, col + t]
            rebuilt[row + t, col + t] = True
        # maximal: the cells just before and after the run are not in the mask
        if row > 0 and col > 0:
            assert not mask[row - 1, col - 1]
        if row + length < 23 and col + length < 23:
            assert not mask[row + length, col + length]
    assert torch.equal(rebuilt, mask)
    assert diagonal_runs(torch.zeros(4, 4, dtype=torch.bool)) == []


# ---- the numbers ---------------------------------------------------------------------------------


def test_grids_hold_the_analysis_scores(widget, random_model):
    for kind in KINDS:
        expected = analysis.head_scores(random_model, kind, half=10, batch=2, seed=3)
        torch.testing.assert_close(widget.scores(kind), expected.scores)
        sent = from_wire(encode_trait(widget, "_scores")[kind])
        assert sent.dtype.name == "float32" and sent.shape == (2, 4)
        torch.testing.assert_close(torch.from_numpy(sent), expected.scores)
    assert widget.tokens == expected.str_tokens and len(widget.tokens) == 21
    torch.testing.assert_close(widget.pattern(1, 2), expected.patterns[1, 2])
    assert widget._shown == ScoresShown("random", 21, half=10, seed=3, batch=2)
    assert widget._targets.runs["induction"] == [(11, 2, 10)]
    assert encode_trait(widget, "_targets")["induction"] == [[11, 2, 10]]


def test_top_heads_are_the_sorted_scores(widget):
    for kind in KINDS:
        scores = widget.scores(kind)
        top = widget.top_heads(kind, k=8)
        assert [s for _, _, s in top] == sorted(scores.flatten().tolist(), reverse=True)
        assert all(scores[l, h] == s for l, h, s in top)
        assert widget._top[kind] == [(l, h) for l, h, _ in top[:TOP_K]]
        assert encode_trait(widget, "_top")[kind] == [[l, h] for l, h, _ in top[:TOP_K]]
    with pytest.raises(ValueError, match=r"k 9 is out of range; it must be in \[1, 8\]"):
        widget.top_heads("induction", k=9)
    with pytest.raises(ValueError, match="kind 'copying' is not one of"):
        widget.scores("copying")


@pytest.mark.parametrize("name", ["attn-only-2l", "small-4l"])
def test_the_pocket_models_named_heads_are_top_ranked(name):
    """The model card names L0.1 the previous-token head and L1.3 the induction head."""
    w = cw.InductionScores(cw.load_pocket_model(name))  # the default experiment
    assert w.top_heads("previous_token", 1)[0][:2] == (0, 1)
    assert w.top_heads("induction", 1)[0][:2] == (1, 3)
    assert (w.layer, w.head) == (1, 3)  # opens on the induction tab's top head
    w.run(batch=16, seed=5)
    assert w.top_heads("previous_token", 1)[0][:2] == (0, 1)
    assert w.top_heads("induction", 1)[0][:2] == (1, 3)


# ---- settings and their errors ----------------------------------------------------------------------


def test_changing_a_setting_reruns(widget, random_model):
    run = widget.run_id
    widget.seed = 4
    assert widget.run_id == run + 1 and widget._shown.seed == 4
    torch.testing.assert_close(
        widget.scores("induction"), analysis.head_scores(random_model, "induction", half=10, batch=2, seed=4).scores
    )
    widget.run(half=5, seed=1, batch=3)  # several settings, one run
    assert widget.run_id == run + 2
    assert (widget.half, widget.seed, widget.batch) == (5, 1, 3) and len(widget.tokens) == 11


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("half", 32, r"half 32 is out of range; it must be in \[1, 31\] \(the sequence BOS \+ 2\*half tokens must fit the model's context of 64\)"),
        ("half", 0, r"half 0 is out of range; it must be in \[1, 31\]"),
        ("seed", -1, r"seed -1 is out of range; it must be in \[0, 4294967295\]"),
        ("seed", 2**32, r"seed 4294967296 is out of range"),
        ("batch", 0, rf"batch 0 is out of range; it must be in \[1, {MAX_BATCH}\]"),
        ("batch", MAX_BATCH + 1, rf"batch {MAX_BATCH + 1} is out of range"),
    ],
)
def test_bad_settings_are_refused_naming_the_value_and_range(widget, name, value, message):
    run, before = widget.run_id, getattr(widget, name)
    with pytest.raises(traitlets.TraitError, match=message):
        setattr(widget, name, value)
    with pytest.raises((ValueError, TypeError), match=message):
        widget.run(**{name: value})
    assert getattr(widget, name) == before and widget.run_id == run


@pytest.mark.parametrize("name, value", [("half", 2.5), ("seed", "1"), ("batch", None)])
def test_settings_of_the_wrong_type_are_refused(widget, name, value):
    with pytest.raises(traitlets.TraitError, match=rf"The '{name}' trait .* expected an int"):
        setattr(widget, name, value)
    if value is not None:  # None means "keep the current value" to run()
        with pytest.raises(TypeError, match=rf"{name} must be an int, got {type(value).__name__}"):
            widget.run(**{name: value})


def test_bad_settings_at_construction(random_model):
    with pytest.raises(ValueError, match=r"half 40 is out of range; it must be in \[1, 31\]"):
        cw.InductionScores(random_model, half=40)
    with pytest.raises(ValueError, match="batch 100 is out of range"):
        cw.InductionScores(random_model, batch=100)
    with pytest.raises(traitlets.TraitError, match="'copying'"):
        cw.InductionScores(random_model, kind="copying")


def test_browser_requests_are_checked_and_shown_inline(widget):
    run = widget.run_id
    ask(widget, "run", {"mode": "random", "half": "abc", "seed": 0, "batch": 2})
    assert widget.error == "half 'abc' is not a whole number" and widget.run_id == run
    ask(widget, "run", {"mode": "random", "half": "99", "seed": 0, "batch": 2})
    assert widget.error.startswith("half 99 is out of range; it must be in [1, 31]") and widget.run_id == run
    ask(widget, "run", {"mode": "random", "half": "6", "seed": "2", "batch": 1.0})
    assert widget.error == "" and (widget.half, widget.seed, widget.batch) == (6, 2, 1) and widget.run_id == run + 1


# ---- text mode ------------------------------------------------------------------------------------


def test_scoring_a_text_uses_text_head_scores(widget, random_model):
    widget.score_text(REPEATING)
    assert widget.mode == "text" and widget.text == REPEATING
    for kind in KINDS:
        torch.testing.assert_close(widget.scores(kind), analysis.text_head_scores(random_model, REPEATING, kind).scores)
    assert widget._shown.mode == "text" and widget._shown.queries["induction"] > 0
    assert widget.tokens == analysis.run_text(random_model, REPEATING, needs=("attention",)).str_tokens


def test_a_text_without_repeats_says_so_and_keeps_the_view(widget):
    run, tokens = widget.run_id, widget.tokens
    with pytest.raises(ValueError, match="No token repeats in this text"):
        widget.score_text("xyz")
    widget.mode = "text"
    widget.text = "xyz"  # through the trait (as a notebook user would): shown inline
    assert "No token repeats in this text" in widget.error
    assert widget.run_id == run and widget.tokens == tokens
    widget.text = REPEATING
    assert widget.error == "" and widget._shown.mode == "text"
    widget.mode = "random"
    assert widget._shown.mode == "random" and len(widget.tokens) == 21


def test_a_text_at_construction(random_model):
    w = cw.InductionScores(random_model, text=REPEATING)
    assert w.mode == "text"
    with pytest.raises(ValueError, match="No token repeats"):
        cw.InductionScores(random_model, text="xyz")


# ---- patterns, selection, export -------------------------------------------------------------------


def test_the_browser_gets_the_selected_pattern_and_others_on_demand(widget):
    bank = encode_trait(widget, "_bank")  # the head selected when the data was made, at full resolution
    assert bank["run"] == widget.run_id and bank["heads"] == [[widget.layer, widget.head]]
    torch.testing.assert_close(torch.from_numpy(from_wire(bank["patterns"])[0]).float(), widget.pattern(), atol=1e-3, rtol=1e-3)
    message, buffers = ask(widget, "pattern", {"layer": 0, "head": 3, "run": widget.run_id}, raw=True)
    content = message["response"]
    wire = content["pattern"]
    assert (content["layer"], content["head"], wire["dtype"], wire["shape"]) == (0, 3, "float16", [21, 21])
    got = torch.frombuffer(bytearray(buffers[wire["buffer_index"]]), dtype=torch.float16).reshape(21, 21).float()
    torch.testing.assert_close(got, widget.pattern(0, 3), atol=1e-3, rtol=1e-3)
    assert ask(widget, "pattern", {"layer": 0, "head": 3, "run": widget.run_id - 1})["stale"]  # stale run: ignored
    refused = ask(widget, "pattern", {"layer": 9, "head": 0, "run": widget.run_id})
    assert not refused["ok"] and "layer 9 is out of range" in refused["error"]


def test_selection_is_shared_with_an_attention_explorer(random_model):
    sel = cw.Selection()
    scores = cw.InductionScores(random_model, half=6, selection=sel)
    explorer = cw.AttentionExplorer(random_model, "a b c", selection=sel)
    scores.select(1, 3)
    assert (explorer.layer, explorer.head) == (1, 3) == (sel.layer, sel.head)
    explorer.head = 0
    assert scores.head == 0
    with pytest.raises(traitlets.TraitError, match="head 4 is out of range"):
        scores.head = 4


def test_a_given_selection_is_kept(random_model):
    sel = cw.Selection(layer=0, head=2)
    w = cw.InductionScores(random_model, half=6, selection=sel)
    assert (w.layer, w.head) == (0, 2)


def test_static_export_embeds_every_head_when_small(widget, tmp_path):
    state = static_state(widget)
    assert len(state["_bank"]["heads"]) == 8
    path = widget.save_html(tmp_path / "scores.html")
    assert "induction" in path.read_text()
