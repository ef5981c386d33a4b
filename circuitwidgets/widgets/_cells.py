"""The views and the notebook cells that make and show them (IPython's cell events).

Two things a view cannot do from its own traits, both tied to a cell's run:

1. **A page without a kernel draws what it saved.** A live view asks the kernel for what it
   computes lazily (OVBrowser's spectra and token maps, LogitLens's attribution). A notebook
   converted with ``jupyter nbconvert --execute``, or saved from JupyterLab and converted with
   ``--to html``, holds only the widget state that reached the page, and nothing asks there.
   So a displayed view fills in what it shows (its ``_page_state()``) after the cell that
   showed it, and after every later cell while it is open (a cell may change its text): still
   inside the cell's run, so nbconvert records it; the live view, whose own request queues
   behind the cell, then finds it done.
2. **Re-running a cell does not pile up widgets.** Every view a cell makes is remembered
   under the cell's id (JupyterLab, Notebook 7, VS Code and nbclient send one); when that
   cell runs again, the views its previous run made are closed (a dashboard closes its four
   views and the selection it made), so 20 re-runs leave the kernel as one run does. A view
   kept in a variable of *another* cell is closed too once the cell that made it re-runs;
   :data:`CLOSE_ON_RERUN` ``= False`` keeps them all. A :class:`~.selection.Selection` you
   make yourself is never closed here (views of other cells may share it).

Outside IPython (a script, a test) nothing here runs.

>>> view = cw.OVBrowser(model)
>>> page_state_of(view)["eigenvalues"].shape[-1]  # a spectrum is part of what a page needs
2
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

__all__ = ["CLOSE_ON_RERUN", "made", "shown", "page_state_of", "complete_pages"]

#: Close the views a cell made when that cell runs again (see the module docstring).
CLOSE_ON_RERUN = True

_by_cell: dict[str, list[weakref.ref]] = {}
_shown: "weakref.WeakSet[Any]" = weakref.WeakSet()
_current_cell: str | None = None
_hooked: set[int] = set()


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    return get_ipython()


def _hook(shell: Any) -> None:
    """Register the cell events once per shell."""
    if id(shell) in _hooked:
        return
    _hooked.add(id(shell))
    shell.events.register("pre_run_cell", _before_cell)
    shell.events.register("post_run_cell", _after_cell)


def _is_open(widget: Any) -> bool:
    return getattr(widget, "comm", None) is not None


def _before_cell(info: Any) -> None:
    global _current_cell
    _current_cell = getattr(info, "cell_id", None) or None
    if _current_cell is None or not CLOSE_ON_RERUN:
        return
    for ref in _by_cell.pop(_current_cell, []):
        widget = ref()
        if widget is not None and _is_open(widget):
            widget.close()


def _after_cell(_result: Any) -> None:
    global _current_cell
    _current_cell = None  # a view made later (from a widget's callback) belongs to no cell
    complete_pages()


def made(widget: Any) -> None:
    """Remember ``widget`` as made by the cell running now (nothing outside IPython)."""
    shell = _shell()
    if shell is None:
        return
    _hook(shell)
    if _current_cell is not None:
        _by_cell.setdefault(_current_cell, []).append(weakref.ref(widget))


def shown(widget: Any) -> None:
    """``widget`` was displayed: complete its page state after this cell (and later ones)."""
    shell = _shell()
    if shell is None:
        return
    _hook(shell)
    _shown.add(widget)


def page_state_of(widget: Any) -> dict[str, Any]:
    """What ``widget`` (and every view it holds, e.g. a dashboard's four) must add to its
    traits so that a page without a kernel draws what it shows, as ``{trait: value}``; ``{}``
    when it has it all."""
    make: Callable[[], dict[str, Any]] | None = getattr(widget, "_page_state", None)
    return make() if make is not None else {}


def _complete(widget: Any, seen: set[int]) -> None:
    if id(widget) in seen or not _is_open(widget):
        return
    seen.add(id(widget))
    values = page_state_of(widget)
    if values:
        widget._set(**values)
    for name in widget.keys:
        child = getattr(widget, name, None)
        if hasattr(child, "_page_state"):
            _complete(child, seen)


def complete_pages() -> None:
    """Fill in the page state of every displayed view still open. A view that cannot (its
    computation raised) is skipped: its live request will show the error."""
    seen: set[int] = set()
    for widget in list(_shown):
        try:
            _complete(widget, seen)
        except Exception:  # noqa: BLE001 - a live request reports it; a cell must not fail here
            continue
