"""LogitLens in Python: traits and their checks, linking through the Selection, the numbers
it sends (against circuitwidgets.analysis and the model's own output), bytes bounded by
top-k, on-demand attributions and the static export's data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import traitlets

import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.widgets._export import static_state
from circuitwidgets.widgets._transport import encode_trait, from_wire
from circuitwidgets.widgets.logit_lens import page_positions, readout_names
from view_requests import ask

TEXT = "When Mary and John went to the store, John gave a drink to Mary."
#: A repeated code line: induction makes the pocket model's last prediction (" b") confident.
CONFIDENT = "def add(a, b):\n    return a + b\ndef add(a, b):\n    return a +"


@pytest.fixture
def lens_view(random_model):
    return cw.LogitLens(random_model, TEXT, k=5)


def page_arrays(payload: dict, name: str) -> np.ndarray:
    """A lens (or target) payload's ``name`` arrays of all its pages, joined along positions."""
    parts = [from_wire(page[name]) for page in payload["pages"]]
    return np.concatenate(parts, axis=0 if parts[0].ndim == 1 else 1)  # [n] or [R, n, ...]


def wire_bytes(value) -> int:
    if isinstance(value, dict):
        return sum(wire_bytes(v) for v in value.values())
    if isinstance(value, list):
        return sum(wire_bytes(v) for v in value)
    return value.nbytes if isinstance(value, memoryview) else 0


# ---- traits and validation ---------------------------------------------------------------------


def test_defaults_are_the_final_readout_and_the_last_position(lens_view):
    seq = len(lens_view.tokens)
    assert lens_view.lens_layer == lens_view.n_layers == 2
    assert lens_view.position == seq - 1
    assert lens_view.target is None and lens_view.layer is None and lens_view.head is None
    sel = lens_view.selection
    assert (sel.lens_layer, sel.position, sel.layer, sel.head) == (2, seq - 1, None, None)
    assert [r.short for r in lens_view.readouts] == ["embed", "+L0", "+L1"]


def test_readout_names_match_lens_labels():
    names = readout_names(3)
    assert [n.short for n in names] == ["embed", "+L0", "+L1", "+L2"]
    assert names[0].long.startswith("the embeddings") and names[-1].long.endswith("final output")


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("lens_layer", 3, r"lens_layer 3 is out of range; it must be in \[0, 2\]"),
        ("lens_layer", -1, r"lens_layer -1 is out of range"),
        ("lens_layer", "2", r"'lens_layer' trait .* expected an int, not the str '2'"),
        ("position", 99, r"position 99 is out of range; this text has \d+ tokens, so positions 0\.\.\d+"),
        ("layer", 2, r"layer 2 is out of range; this model has layers 0\.\.1"),
        ("head", 4, r"head 4 is out of range; this model has heads 0\.\.3"),
        ("target", "Mary and John", r"'Mary and John' is \d+ tokens .*not a single token"),
        ("target", 10**6, r"token id 1000000 is out of range"),
    ],
)
def test_bad_values_are_refused_naming_the_value(lens_view, name, value, message):
    before = getattr(lens_view, name)
    with pytest.raises(traitlets.TraitError, match=message):
        setattr(lens_view, name, value)
    assert getattr(lens_view, name) == before


def test_bad_constructor_arguments(random_model):
    with pytest.raises(ValueError, match="text is empty"):
        cw.LogitLens(random_model, "")
    with pytest.raises(ValueError, match="context is 64 tokens"):
        cw.LogitLens(random_model, "word " * 100)
    with pytest.raises(ValueError, match=r"k 0 is out of range"):
        cw.LogitLens(random_model, TEXT, k=0)
    with pytest.raises(ValueError, match=r"page_size 0 is out of range; it must be at least 1"):
        cw.LogitLens(random_model, TEXT, page_size=0)
    with pytest.raises(traitlets.TraitError, match="not a single token"):
        cw.LogitLens(random_model, TEXT, target="Mary and John")


def test_traits_are_observable_and_follow_the_selection(lens_view):
    seen = []
    lens_view.observe(lambda c: seen.append((c["name"], c["new"])), names=["lens_layer", "position"])
    lens_view.selection.lens_layer = 1  # as a click in the browser does
    lens_view.selection.position = 3
    assert (lens_view.lens_layer, lens_view.position) == (1, 3)
    assert seen == [("lens_layer", 1), ("position", 3)]
    lens_view.lens_layer = 0  # and Python moves the selection (so the view)
    assert lens_view.selection.lens_layer == 0
    lens_view.selection.lens_layer = 7  # a readout only a deeper model has: ignored here
    assert lens_view.lens_layer == 0


def test_head_clicks_reach_a_linked_attention_explorer(random_model):
    sel = cw.Selection()
    lens = cw.LogitLens(random_model, TEXT, selection=sel)
    explorer = cw.AttentionExplorer(random_model, TEXT, selection=sel)
    sel.layer, sel.head = 1, 2  # what clicking the bar "layer 1 head 2" writes
    assert (lens.layer, lens.head) == (1, 2) and (explorer.layer, explorer.head) == (1, 2)


# ---- numbers -----------------------------------------------------------------------------------


def test_lens_sent_equals_the_analysis(random_model):
    view = cw.LogitLens(random_model, TEXT, k=5, page_size=4)
    seq = len(view.tokens)
    last_page = (seq - 1) // 4
    assert [p["page"] for p in encode_trait(view, "lens")["pages"]] == [last_page]  # only the selected position's
    assert view.computed_positions == list(range(4 * last_page, seq))
    answers = []
    for page in range(last_page):  # the rest as the browser asks for them
        reply = ask(view, "page", {"run": view.run_id, "page": page, "lens": True, "target": None})
        assert reply["ok"] and reply["response"]["page"] == page
        answers.append(reply["response"]["lens"])
    wire = {"pages": answers + encode_trait(view, "lens")["pages"]}
    lens = analysis.logit_lens(random_model, TEXT, k=5, default_target="final")
    assert np.array_equal(page_arrays(wire, "top_ids"), lens.top_ids.numpy())
    np.testing.assert_allclose(page_arrays(wire, "top_probs"), lens.top_probs.numpy(), rtol=1e-5, atol=1e-7)
    assert np.array_equal(page_arrays(wire, "final_ids"), lens.top_ids[-1, :, 0].numpy())
    np.testing.assert_allclose(page_arrays(wire, "target_probs"), lens.target_probs.numpy(), rtol=1e-5, atol=1e-7)
    assert np.array_equal(page_arrays(wire, "target_ranks"), lens.target_ranks.numpy())
    np.testing.assert_allclose(page_arrays(wire, "kl"), lens.kl_to_final.numpy(), rtol=1e-4, atol=1e-6)
    vocab = {}
    for page in wire["pages"]:
        vocab.update(zip(from_wire(page["vocab"]["ids"]).tolist(), page["vocab"]["strs"]))
    assert all(vocab[i] == lens.token_strs[i] for i in lens.top_ids.unique().tolist())
    sent_lens = encode_trait(view, "lens")
    text_vocab = dict(zip(from_wire(sent_lens["vocab"]["ids"]).tolist(), sent_lens["vocab"]["strs"]))
    assert all(text_vocab[int(t)] == s for t, s in zip(lens.tokens, lens.str_tokens))
    # the widget's own whole lens is the pages joined, and equals the analysis
    assert torch.equal(view.lens_result.top_ids, lens.top_ids)
    torch.testing.assert_close(view.lens_result.kl_to_final, lens.kl_to_final, rtol=1e-4, atol=1e-6)


def test_page_requests_are_checked(lens_view):
    assert ask(lens_view, "page", {"run": -1, "page": 0, "lens": True})["stale"]  # a replaced text
    out = [
        ask(lens_view, "page", {"run": lens_view.run_id, "page": 9, "lens": True}),
        ask(lens_view, "page", {"run": lens_view.run_id, "page": 0, "target": 10**6}),
    ]
    assert [(r["ok"], r["stale"]) for r in out] == [(False, False), (False, False)]
    assert "page 9 is out of range; it must be in [0, 0]" in out[0]["error"]
    assert "token id 1000000 is out of range" in out[1]["error"]


def test_bytes_are_bounded_by_top_k_not_vocabulary(random_model):
    small = cw.LogitLens(random_model, TEXT, k=1)
    big = cw.LogitLens(random_model, TEXT, k=20)
    R, P = small.n_layers + 1, len(small.tokens)
    per_k = R * P * (2 + 4)  # uint16 id + float32 probability per extra top token
    assert wire_bytes(encode_trait(big, "lens")) - wire_bytes(encode_trait(small, "lens")) <= 19 * per_k + 4 * 20 * R * P  # + vocab ids
    assert wire_bytes(encode_trait(big, "lens")) < R * P * small.d_vocab * 4 / 4  # far below positions x vocab


def test_pocket_model_confident_final_prediction():
    model = cw.load_pocket_model("small-4l")
    w = cw.LogitLens(model, CONFIDENT)
    p, final = w.position, w.n_layers
    with torch.inference_mode():
        softmax = model(CONFIDENT)[0, p].float().softmax(-1)
    expected = int(softmax.argmax())
    assert w.target_id == expected and float(softmax[expected]) > 0.5  # confident
    assert model.to_string(torch.tensor([expected])) == " b"
    (page,) = encode_trait(w, "lens")["pages"]  # the selected (last) position's page
    ranks = from_wire(page["target_ranks"])
    probs = from_wire(page["target_probs"])
    assert ranks[final, p - page["start"]] == 1
    assert probs[final, p - page["start"]] == pytest.approx(float(softmax[expected]), abs=1e-5)
    # the same through the attribution: its logit is the model's
    attr = w.attribution()
    with torch.inference_mode():
        logit = model(CONFIDENT)[0, p, expected].item()
    assert float(attr.logit) == pytest.approx(logit, abs=1e-3)
    assert float(attr.components()[1].sum()) == pytest.approx(logit, abs=1e-3)


def test_picked_target_everywhere(random_model):
    view = cw.LogitLens(random_model, TEXT, page_size=4)
    view.target = " Mary"
    mary = cw.ModelAdapter(random_model).to_single_token(" Mary")
    expected = analysis.logit_lens(random_model, TEXT, k=1, target=mary)
    picked = encode_trait(view, "_target")
    assert picked["id"] == mary and picked["str"] == " Mary"
    (page,) = picked["pages"]  # the selected position's page; the browser asks for others
    shown = page_positions(page["page"], 4, len(view.tokens))
    np.testing.assert_allclose(from_wire(page["probs"]), expected.target_probs[:, shown].numpy(), rtol=1e-5, atol=1e-7)
    assert np.array_equal(from_wire(page["ranks"]), expected.target_ranks[:, shown].numpy())
    content = ask(view, "page", {"run": view.run_id, "page": 0, "target": mary})["response"]
    assert "lens" not in content
    answer = content["target"]
    np.testing.assert_allclose(from_wire(answer["probs"]), expected.target_probs[:, 0:4].numpy(), rtol=1e-5, atol=1e-7)
    assert view.attribution().target == mary
    view.target = None
    assert view._target is None


# ---- the browser asks ---------------------------------------------------------------------------


def test_attribution_on_demand_matches_the_analysis(lens_view, random_model):
    target = lens_view._target_at(4)
    message, buffers = ask(lens_view, "attribution", {"run": lens_view.run_id, "position": 4, "target": target}, raw=True)
    content = message["response"]
    assert message["ok"] and content["position"] == 4 and content["target"] == target
    expected = analysis.logit_attribution(random_model, TEXT, position=4, target=target)
    labels, values = expected.components()
    assert content["labels"] == labels
    got = np.frombuffer(buffers[content["values"]["buffer_index"]], dtype="<f4")
    np.testing.assert_allclose(got, values.numpy(), rtol=1e-5, atol=1e-6)
    heads = [(l, h) for kind, l, h in zip(content["kinds"], content["layers"], content["heads"]) if kind == "head"]
    assert heads == [(l, h) for l in range(2) for h in range(4)]
    # a request about a replaced text is ignored; a bad one answered with the reason
    assert ask(lens_view, "attribution", {"run": -1, "position": 4, "target": target})["stale"]
    refused = ask(lens_view, "attribution", {"run": lens_view.run_id, "position": 99, "target": 1})
    assert not refused["ok"] and not refused["stale"] and "position 99" in refused["error"]


def test_target_typed_in_the_view(lens_view):
    ask(lens_view, "target", {"text": "Mary and John"})
    assert "'Mary and John' is" in lens_view.target_error and lens_view.target is None
    ask(lens_view, "target", {"text": " Mary"})
    assert lens_view.target == " Mary" and lens_view.target_error == ""
    ask(lens_view, "target", {"text": ""})
    assert lens_view.target is None


def test_new_text_reruns_and_keeps_a_valid_position(lens_view):
    run_before = lens_view.run_id
    lens_view.position = len(lens_view.tokens) - 1
    lens_view.text = "John gave"
    assert lens_view.run_id == run_before + 1 and lens_view.error == ""
    assert lens_view.position == len(lens_view.tokens) - 1 == lens_view.selection.position
    assert from_wire(encode_trait(lens_view, "lens")["token_ids"]).shape == (len(lens_view.tokens),)
    assert encode_trait(lens_view, "lens")["pages"][0]["top_ids"]["shape"][1] == len(lens_view.tokens)
    lens_view.text = "word " * 100
    assert "context is 64 tokens" in lens_view.error and lens_view.text == "word " * 100
    assert encode_trait(lens_view, "lens")["pages"][0]["top_ids"]["shape"][1] == len(lens_view.tokens)  # last good view kept


def test_static_export_holds_every_page_and_the_attribution_on_screen(random_model, tmp_path):
    view = cw.LogitLens(random_model, TEXT, page_size=4, target=" Mary")
    view.position = 3
    n_pages = -(-len(view.tokens) // 4)
    assert len(view.computed_positions) < len(view.tokens)  # the live view has not needed them
    state = static_state(view)
    assert state["_attribution"]["position"] == 3
    assert [p["page"] for p in state["lens"]["pages"]] == list(range(n_pages))
    assert [p["page"] for p in state["_target"]["pages"]] == list(range(n_pages))
    assert view.computed_positions == list(range(len(view.tokens)))
    page = view.save_html(tmp_path / "lens.html").read_text()
    assert "logit_lens" in page or "cw-logit-lens" in page
