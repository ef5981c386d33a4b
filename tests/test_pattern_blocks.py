"""AttentionExplorer's "block" request (widgets/_pattern_blocks.py): a region of one head's
pattern, max-pooled to at most ``side`` cells a side, equal to the full pattern's blocks;
bad blocks refused naming the valid range; long texts send no whole pattern."""

from __future__ import annotations

import re

import pytest
import torch

import circuitwidgets as cw
from circuitwidgets.analysis._block_pool import pooled_block
from circuitwidgets.widgets import attention_explorer
from circuitwidgets.widgets import _pattern_blocks
from circuitwidgets.widgets._transport import from_wire
from view_requests import ask

TEXT = "def add(a, b):\n    return a + b\n" * 2


@pytest.fixture
def explorer(random_model):
    return cw.AttentionExplorer(random_model, TEXT)


def _bins(length, side):
    return [(i * length // side, -(-((i + 1) * length) // side)) for i in range(side)]


def brute_pool(full, rows, cols, side):
    block = full[rows.start : rows.stop, cols.start : cols.stop]
    rb, cb = _bins(len(rows), min(len(rows), side)), _bins(len(cols), min(len(cols), side))
    return torch.tensor([[block[a:b, c:d].max().item() for c, d in cb] for a, b in rb])


@pytest.mark.parametrize("rows, cols, side", [((0, 40), (0, 40), 7), ((5, 33), (2, 30), 5), ((3, 9), (0, 4), 16), ((0, 40), (10, 11), 3)])
def test_pooled_block_is_the_maximum_of_each_bin(explorer, monkeypatch, rows, cols, side):
    att = explorer.store.patterns
    seq = att.seq_len
    rows, cols = range(*[min(v, seq) for v in rows]), range(*[min(v, seq) for v in cols])
    full = att.pattern(1, 2)
    expected = brute_pool(full, rows, cols, side)
    torch.testing.assert_close(pooled_block(att, 1, 2, rows, cols, side), expected)
    # the same with row chunks of a few rows each (the long-text path)
    monkeypatch.setattr("circuitwidgets.analysis._block_pool.BLOCK_ELEMENTS", 3 * len(cols))
    torch.testing.assert_close(pooled_block(att, 1, 2, rows, cols, side), expected)


def test_block_request_answers_the_full_resolution_block(explorer):
    seq = explorer.store.seq_len
    reply = ask(explorer, "block", {"layer": 1, "head": 3, "run": explorer.run_id, "rows": [4, seq], "cols": [0, 9], "side": seq})
    assert reply["ok"], reply
    answer = reply["response"]
    assert answer["pooled"] is False and answer["rows"] == [4, seq] and answer["cols"] == [0, 9]
    got = torch.as_tensor(from_wire(answer["block"])).float()
    torch.testing.assert_close(got, explorer.pattern(1, 3)[4:, :9], atol=2e-3, rtol=2e-3)
    pooled = ask(explorer, "block", {"layer": 1, "head": 3, "run": explorer.run_id, "rows": [0, seq], "cols": [0, seq], "side": 4})
    assert pooled["response"]["pooled"] is True and pooled["response"]["block"]["shape"] == [4, 4]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"rows": [0, 999]}, r"rows \[0, 999\] is not a block of this text: it has (\d+) tokens, so 0 <= start < stop <= \1"),
        ({"cols": [5, 5]}, r"cols \[5, 5\] is not a block.*0 <= start < stop"),
        ({"cols": [-1, 3]}, r"cols \[-1, 3\] is not a block"),
        ({"rows": "all"}, r"rows must be \[start, stop\] \(two ints\), got 'all'"),
        ({"rows": [0.5, 3]}, r"rows must be \[start, stop\]"),
        ({"side": 0}, r"side 0 must be an int in 1..(\d+) \(the text's tokens\)"),
        ({"side": 999}, r"side 999 must be an int in 1..\d+"),
        ({"side": True}, r"side True must be an int"),
        ({"head": 9}, r"head 9 is out of range; this model has heads 0..3"),
        ({"layer": 2}, r"layer 2 is out of range; this model has layers 0..1"),
    ],
)
def test_bad_blocks_are_refused_naming_the_valid_range(explorer, change, message):
    payload = {"layer": 0, "head": 0, "run": explorer.run_id, "rows": [0, 4], "cols": [0, 4], "side": 8, **change}
    reply = ask(explorer, "block", payload)
    assert not reply["ok"] and not reply["stale"]
    assert re.search(message, reply["error"]), reply["error"]


def test_a_block_larger_than_the_cap_is_refused(explorer, monkeypatch):
    monkeypatch.setattr(_pattern_blocks, "MAX_BLOCK_CELLS", 10)
    reply = ask(explorer, "block", {"layer": 0, "head": 0, "run": explorer.run_id, "rows": [0, 4], "cols": [0, 4], "side": 4})
    assert not reply["ok"] and "a block of 4 x 4 cells is more than 10" in reply["error"]


def test_a_block_of_an_older_run_is_stale(explorer):
    reply = ask(explorer, "block", {"layer": 0, "head": 0, "run": -1, "rows": [0, 2], "cols": [0, 2], "side": 2})
    assert reply["stale"]


def test_a_long_text_sends_no_whole_pattern(plain_model, monkeypatch):
    monkeypatch.setattr(attention_explorer, "LONG_TEXT_TOKENS", 8)
    w = cw.AttentionExplorer(plain_model, TEXT)
    assert w._long_text_tokens == 8 and w.store.seq_len > 8
    assert w._bank.heads == []
    refused = ask(w, "pattern", {"layer": 0, "head": 0, "run": w.run_id})
    assert not refused["ok"] and "whole patterns are sent up to 8 tokens" in refused["error"]
    assert ask(w, "block", {"layer": 0, "head": 0, "run": w.run_id, "rows": [0, 8], "cols": [0, 8], "side": 8})["ok"]
    assert w._heads_to_export("auto") in ([], [(l, h) for l in range(2) for h in range(4)])


def test_progress_reports_each_layer_as_a_fraction(plain_model):
    w = cw.AttentionExplorer(plain_model, "a b c")
    seen = []
    w.observe(lambda change: seen.append(change["new"]), "busy_fraction")
    w.text = TEXT
    assert seen == [0.0, 0.5, 1.0, None]
    assert w.busy == "" and w.busy_fraction is None
