"""Views from plain arrays (issue #22, point 5): ``cw.attention_heads`` and ``cw.colored_tokens``
with CircuitsVis's names and shapes, no model. Arrays in, linked views out; the numbers on the
wire equal the arrays; bad arrays are refused naming the shape or the value."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

import circuitwidgets as cw
from circuitwidgets import analysis
from circuitwidgets.widgets._attention_store import AttentionStore, thumbnail
from circuitwidgets.widgets._transport import UNIT_MAX_ERROR, encode_trait, from_wire

HOSTILE = ["<script>alert(1)</script>", "</script>", " \u202e rtl", "&amp;", "\n", "😀"]


def causal(*lead: int, seq: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    """Random causal attention ``[*lead, seq, seq]``: rows are softmaxes over keys 0..query."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(*lead, seq, seq, generator=g) * 3
    mask = torch.ones(seq, seq, dtype=torch.bool).triu(1)
    return torch.softmax(scores.masked_fill(mask, -torch.inf), dim=-1).to(dtype)


def tokens_of(seq: int) -> list[str]:
    return [f" t{i}" for i in range(seq)]


@pytest.fixture(scope="module")
def arrays():
    return causal(2, 3, seq=57, seed=1)


@pytest.fixture(scope="module")
def view(arrays):
    return cw.attention_heads(arrays, tokens_of(57))


# ---- arrays in: the interface of a model's patterns, the same numbers -------------------------------


def test_array_patterns_read_like_a_models_patterns(arrays):
    att = analysis.array_patterns(arrays, tokens_of(57), pooled_size=40)
    assert att.shape == (2, 3, 57, 57) and att.reason == "" and att.tokens is None
    torch.testing.assert_close(att[1, 2], arrays[1, 2], rtol=0, atol=0)
    torch.testing.assert_close(att.row(0, 1, 30), arrays[0, 1, 30], rtol=0, atol=0)
    torch.testing.assert_close(att.column(0, 1, 3), arrays[0, 1, :, 3], rtol=0, atol=0)
    torch.testing.assert_close(att[1, 0, 10:20, 2:5], arrays[1, 0, 10:20, 2:5], rtol=0, atol=0)
    # the summaries a model's run computes, by brute force on the whole array
    p = arrays[..., 1:, :]                         # query 0 is left out (AttentionResult)
    torch.testing.assert_close(att.entropy, -torch.special.xlogy(p, p).sum(-1).mean(-1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(att.bos_share, p[..., 0].mean(-1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(att.pooled, thumbnail(arrays), rtol=0, atol=0)  # pooled as the store pools
    for start, block in att.layer_blocks(1):
        torch.testing.assert_close(block, arrays[1, :, start : start + block.shape[1], : start + block.shape[1]])
    with pytest.raises(IndexError, match="head 3 is out of range; these patterns have heads 0..2"):
        att[0, 3]


def test_three_dimensions_are_one_layer_and_numpy_is_not_copied():
    a = causal(4, seq=9).numpy()
    att = analysis.array_patterns(a, tokens_of(9))
    assert att.shape == (1, 4, 9, 9)
    assert np.shares_memory(att._attention.numpy(), a)     # kept as given
    float16 = analysis.array_patterns(causal(4, seq=9, dtype=torch.float16), tokens_of(9))
    assert float16._attention.dtype == torch.float16 and float16.nbytes == 4 * 81 * 2
    lists = analysis.array_patterns(causal(2, seq=3).tolist(), ["a", "b", "c"])
    assert lists._attention.dtype == torch.float16            # lists: one float16 copy at most


def test_the_view_draws_the_arrays(view, arrays):
    """What crosses to the browser equals the arrays: thumbnails (uint8 of the block maxima),
    the entropy and BOS share, and every head's full pattern asked for through the channel."""
    assert (view.n_layers, view.n_heads, view.tokens) == (2, 3, tokens_of(57))
    assert view.model_name == "from arrays" and view._model_free and view.text == "".join(tokens_of(57))
    thumbs = from_wire(encode_trait(view, "thumbnails"))
    assert np.abs(thumbs - thumbnail(arrays).numpy()).max() <= UNIT_MAX_ERROR
    assert [s.key for s in view.head_scores] == ["entropy", "bos_share"]   # the rest needs a model
    for layer in range(2):
        for head in range(3):
            answer = view._pattern_request({"layer": layer, "head": head, "run": view.run_id})
            got = from_wire(answer["pattern"])
            assert got.dtype == np.float16 and np.array_equal(got, arrays[layer, head].half().numpy())
    bank = encode_trait(view, "_bank")
    assert bank["heads"] == [[0, 0]]


def test_arrays_in_linked_views_out(arrays):
    sel = cw.Selection()
    b = cw.attention_heads(arrays[1], tokens_of(57), selection=sel)     # one layer, [heads, q, k]
    a = cw.attention_heads(arrays, tokens_of(57), selection=sel, layer=1, head=2)
    explorer = cw.AttentionExplorer(cw.load_pocket_model(), "a b c a b c", selection=sel)
    assert (sel.layer, sel.head) == (1, 2) and (explorer.layer, explorer.head) == (1, 2)
    assert (b.layer, b.head) == (0, 2)              # layer 1 is not among b's layers: it keeps its own
    explorer.head = 1
    assert a.head == 1 and b.head == 1 and sel.head == 1
    a.query = 5
    assert explorer.query == 5 and b.query == 5
    torch.testing.assert_close(b.pattern(0, 1), arrays[1, 1], atol=1e-3, rtol=0)


def test_what_needs_a_model_is_refused_saying_why(view):
    before = (view.text, view.ablated, view.run_id)
    with pytest.raises(ValueError, match=r"made from arrays \(cw.attention_heads\), with no model to run a new text"):
        view.text = "another text"
    with pytest.raises(ValueError, match="no model to run without a head"):
        view.ablated = [(0, 1)]
    with pytest.raises(ValueError, match="no model to run without a head"):
        view.toggle_ablation()
    with pytest.raises(ValueError, match="refused"):
        view._ablation_request({"run": view.run_id, "heads": [[0, 1]], "mode": "zero", "position": None, "target": None})
    with pytest.raises(ValueError, match="layer 2 is out of range; these patterns have layers 0..1"):
        view.layer = 2
    assert (view.text, view.ablated, view.run_id) == before
    with pytest.raises(TypeError, match="text and tokens come with the arrays"):
        cw.AttentionExplorer(analysis.array_patterns(causal(1, seq=3), list("abc"), pooled_size=40), "abc")
    with pytest.raises(ValueError, match="no thumbnails"):
        cw.AttentionExplorer(analysis.array_patterns(causal(1, seq=3), list("abc")))


def test_the_export_carries_the_arrays_patterns(tmp_path):
    arrays = causal(1, 2, seq=12, seed=3)
    w = cw.attention_heads(arrays, HOSTILE * 2)
    page = w.save_html(tmp_path / "heads.html", heads="all").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in page
    state = json.loads(re.findall(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', page, re.S)[0])
    mine = state["state"][w.model_id]["state"]
    assert mine["tokens"] == HOSTILE * 2 and mine["_model_free"]
    assert mine["_bank"]["heads"] == [[0, 0], [0, 1]]


# ---- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attention, tokens, error, message",
    [
        (torch.ones(4, 4), 4, ValueError, r"shape \(4, 4\) \(2 dimensions\); expected \[heads, query, key\] or \[layers, heads, query, key\]"),
        (torch.ones(1, 1, 1, 4, 4), 4, ValueError, r"shape \(1, 1, 1, 4, 4\) \(5 dimensions\)"),
        (causal(2, seq=5)[..., :4], 5, ValueError, r"shape \(2, 5, 4\): 5 queries but 4 keys; .* square \(\[\.\.\., 5, 5\]\)"),
        (causal(2, seq=5), 4, ValueError, r"tokens has 4 entries but attention has 5 positions \(shape \(2, 5, 5\)\)"),
        (causal(2, seq=5) * 0.9, 5, ValueError, r"attention\[0, 0\] \(query 0\) sums to 0\.9; .* over keys 0\.\.0 must sum to 1 \(within 0\.001\)"),
        (torch.full((1, 2, 3, 3), 1 / 3), 3, ValueError, r"attention\[0, 0, 0, 1\] = 0\.333333, but key 1 comes after query 0"),
        (causal(2, seq=5) - 0.01, 5, ValueError, r"attention\[0, 0, 1\] = -0\.01 is not in \[0, 1\]"),
        (torch.zeros(2, 0, 0), 0, ValueError, r"holds no weights"),
        (torch.ones(1, 3, 3, dtype=torch.int64), 3, TypeError, r"floating-point weights, got torch.int64"),
        (np.ones((1, 3, 3), dtype=bool), 3, TypeError, r"floating-point weights, got a numpy array of bool"),
        ("pattern", 3, TypeError, r"torch tensor, a numpy array or nested lists, got str"),
    ],
)
def test_bad_arrays_are_refused_naming_the_shape_or_value(attention, tokens, error, message):
    with pytest.raises(error, match=message):
        cw.attention_heads(attention, tokens_of(tokens))


def test_nan_is_refused_naming_where():
    a = causal(2, 3, seq=6)
    a[1, 2, 4, 1] = float("nan")
    with pytest.raises(ValueError, match=r"attention\[1, 2, 4, 1\] is nan; attention weights must be finite"):
        cw.attention_heads(a, tokens_of(6))
    with pytest.raises(ValueError, match=r"attention\[2, 4, 1\] is nan"):  # named as the caller's array
        cw.attention_heads(a[1], tokens_of(6))


def test_the_row_tolerance_follows_the_dtype():
    a = causal(1, seq=6, dtype=torch.float64)
    a[0, 5] *= 1 + 5e-4                             # within 0.001
    cw.attention_heads(a, tokens_of(6))
    a[0, 5] *= 1 + 2e-3
    with pytest.raises(ValueError, match=r"attention\[0, 5\] \(query 5\) sums to 1\.00"):
        cw.attention_heads(a, tokens_of(6))
    cw.attention_heads(causal(2, seq=300, dtype=torch.bfloat16), tokens_of(300))   # its rounding, allowed
    assert analysis.row_sum_tolerance(torch.float16) == 2 * 2**-10


def test_circuitsvis_arguments_it_cannot_honour_are_refused():
    a, t = causal(2, seq=4), tokens_of(4)
    assert cw.attention_heads(a, t, max_value=1, min_value=0, mask_upper_tri=True).n_heads == 2
    for kwargs, message in [
        ({"attention_head_names": ["a", "b"]}, "heads are named layer.head"),
        ({"max_value": 0.5}, "0 to 1"),
        ({"positive_color": "red"}, "theme's palette"),
        ({"mask_upper_tri": False}, "bidirectional patterns are not drawn"),
    ]:
        with pytest.raises(ValueError, match=message):
            cw.attention_heads(a, t, **kwargs)
    with pytest.raises(TypeError, match="tokens must be a list of strings"):
        cw.attention_heads(a, "abcd")


def test_the_signature_is_circuitsvis():
    import inspect

    cv = pytest.importorskip("circuitsvis.attention")
    cvt = pytest.importorskip("circuitsvis.tokens")
    for ours, theirs in [(cw.attention_heads, cv.attention_heads), (cw.colored_tokens, cvt.colored_tokens)]:
        mine = [p for p in inspect.signature(ours).parameters.values() if p.kind != p.KEYWORD_ONLY]
        assert [p.name for p in mine] == list(inspect.signature(theirs).parameters)


# ---- colored_tokens --------------------------------------------------------------------------------


def test_colored_tokens_draws_the_values():
    values = np.array([0.5, -2.0, 3.25, 0.0])
    v = cw.colored_tokens(HOSTILE[:4], values)
    assert v.tokens == HOSTILE[:4] and v.model_name == "from arrays" and v._model_free
    assert from_wire(encode_trait(v, "probs")).tolist() == values.tolist()
    assert from_wire(encode_trait(v, "token_ids")).shape == (0,)
    assert from_wire(encode_trait(v, "_domain")).tolist() == [-2.0, 3.25] and v.result.domain == (-2.0, 3.25)
    assert cw.colored_tokens(["a", "b"], torch.tensor([1, 3])).result.domain == (0.0, 3.0)
    assert cw.colored_tokens(["a", "b"], [1, 3], min_value=-1, max_value=5).result.domain == (-1.0, 5.0)
    with pytest.raises(ValueError, match="no model to run a new text"):
        v.text = "x"


@pytest.mark.parametrize(
    "tokens, values, kwargs, message",
    [
        (["a", "b"], [1.0], {}, r"tokens has 2 entries but values has shape \(1,\)"),
        (["a", "b"], [[1.0, 2.0]], {}, r"values has shape \(1, 2\)"),
        (["a", "b"], [1.0, float("nan")], {}, r"values\[1\] is nan \(token 'b'\)"),
        (["a", "b"], [1.0, 2.0], {"max_value": 0.0, "min_value": 1.0}, "max_value 0.0 must be greater than min_value 1.0"),
        (["a", "b"], [1.0, 2.0], {"min_value": float("inf")}, "min_value must be a finite number"),
        (["a"], [1.0], {"negative_color": "blue"}, "theme's palette"),
        ([], [], {}, "tokens is empty"),
    ],
)
def test_colored_tokens_refuses_bad_values(tokens, values, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cw.colored_tokens(tokens, values, **kwargs)
