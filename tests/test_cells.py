"""The views and the notebook's cells (circuitwidgets/widgets/_cells.py): a re-run cell closes
what its previous run made, and a displayed view fills in what a page without a kernel needs.

IPython's cell events are driven by hand here (a fake shell), as ipykernel fires them: the
browser test (tests/browser/test_robustness.py) re-runs a real cell in JupyterLab.
"""

from __future__ import annotations

from types import SimpleNamespace

import ipywidgets.widgets.widget as widget_module
import pytest

import circuitwidgets as cw
from circuitwidgets.widgets import _cells


class FakeShell:
    def __init__(self):
        self.events = SimpleNamespace(register=lambda name, fn: self.registered.append(name))
        self.registered: list[str] = []


@pytest.fixture
def shell(monkeypatch):
    fake = FakeShell()
    monkeypatch.setattr(_cells, "_shell", lambda: fake)
    monkeypatch.setattr(_cells, "_by_cell", {})
    monkeypatch.setattr(_cells, "_shown", __import__("weakref").WeakSet())
    monkeypatch.setattr(_cells, "_hooked", set())
    yield fake
    _cells._before_cell(SimpleNamespace(cell_id=None))


def run_cell(cell_id: str, code):
    """What ipykernel does around a cell: pre_run_cell, the code, post_run_cell."""
    _cells._before_cell(SimpleNamespace(cell_id=cell_id))
    result = code()
    _cells._after_cell(None)
    return result


def open_widgets() -> int:
    return len(widget_module._instances)


def test_rerunning_a_dashboard_cell_keeps_the_widget_count(shell, plain_model):
    first = run_cell("cell-a", lambda: cw.CircuitExplorer(plain_model, "a b c a b c"))
    after_one = open_widgets()
    for _ in range(5):
        last = run_cell("cell-a", lambda: cw.CircuitExplorer(plain_model, "a b c a b c"))
    assert open_widgets() == after_one
    assert first.comm is None and first.lens.comm is None and first.selection.comm is None
    assert last.comm is not None and last.lens.comm is not None
    assert shell.registered == ["pre_run_cell", "post_run_cell"]  # hooked once
    last.close()


def test_another_cells_views_and_a_selection_you_made_stay_open(shell, plain_model):
    sel = run_cell("cell-a", cw.Selection)
    kept = run_cell("cell-b", lambda: cw.TokenView(plain_model, "a b c"))
    linked = run_cell("cell-c", lambda: cw.OVBrowser(plain_model, selection=sel))
    run_cell("cell-c", lambda: cw.OVBrowser(plain_model, selection=sel))
    assert linked.comm is None
    assert kept.comm is not None and sel.comm is not None
    run_cell("cell-a", cw.Selection)  # the selection cell re-run: the old one is not closed
    assert sel.comm is not None


def test_a_view_made_between_cells_belongs_to_none(shell, plain_model):
    run_cell("cell-a", lambda: None)
    between = cw.TokenView(plain_model, "a b c")  # e.g. from a button's callback
    run_cell("cell-a", lambda: None)
    assert between.comm is not None


def test_close_on_rerun_off_keeps_them(shell, plain_model, monkeypatch):
    monkeypatch.setattr(_cells, "CLOSE_ON_RERUN", False)
    first = run_cell("cell-a", lambda: cw.TokenView(plain_model, "a b c"))
    run_cell("cell-a", lambda: cw.TokenView(plain_model, "a b c"))
    assert first.comm is not None


def test_a_displayed_dashboard_holds_what_a_page_without_kernel_draws(shell, plain_model):
    w = cw.CircuitExplorer(plain_model, "a b c a b c")
    assert w.ov.eigenvalues is None and w.lens._attribution is None  # a live view asks for these
    run_cell("cell-a", lambda: w._repr_mimebundle_())
    assert w.ov.eigenvalues is not None and w.ov.copying is not None
    assert {a.kind for a in w.ov._answers} == {"ov", "ov_sources", "qk"}
    assert (w.lens._attribution.run, w.lens._attribution.position) == (w.lens.run_id, w.lens.position)
    # a later cell moves the lens: the page gets that position's attribution after it
    run_cell("cell-b", lambda: setattr(w, "position", 1))
    assert w.lens._attribution.position == 1
    assert _cells.page_state_of(w.lens) == {} and _cells.page_state_of(w.ov) == {}


def test_outside_ipython_nothing_is_hooked(plain_model, monkeypatch):
    monkeypatch.setattr(_cells, "_by_cell", {})
    view = cw.TokenView(plain_model, "a b c")
    view._repr_mimebundle_()
    assert _cells._by_cell == {}
