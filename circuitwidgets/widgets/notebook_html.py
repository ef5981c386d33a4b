"""A notebook as one HTML page that draws its widgets offline: ``jupyter nbconvert`` with the
widget manager inlined.

``jupyter nbconvert --to html`` writes the widget state a notebook saved, but its page loads
require.js, the widget manager (``@jupyter-widgets/html-manager``) and anywidget's front end
from CDNs (cdnjs, unpkg, jsdelivr): offline, or behind a firewall, the widgets show nothing.
This converts with nbconvert's own ``HTMLExporter`` and two of its options pointing at the
copies :func:`~circuitwidgets.save_html` already inlines (``static/vendor/``), as ``data:``
URLs, so the page needs no network::

    python -m circuitwidgets.widgets.notebook_html workshop.ipynb              # -> workshop.html
    python -m circuitwidgets.widgets.notebook_html workshop.ipynb --execute -o out.html

``--execute`` runs the notebook first (as ``nbconvert --execute``; the views then fill in what
they show after each cell, see :mod:`._cells`). Without it the notebook must hold saved widget
state (JupyterLab: *Settings → Save Widget State Automatically*). There is no kernel behind the
page: views say "Static page" and keep their text boxes read-only.

For one view or dashboard (not a whole notebook) :func:`~circuitwidgets.save_html` is the
simpler offline path.
"""

from __future__ import annotations

import argparse
import base64
from pathlib import Path
from typing import Sequence

from ._bundles import read_vendor
from ._export import anywidget_amd_module

__all__ = ["offline_options", "notebook_html", "main"]


def _data_url(source: str) -> str:
    return "data:text/javascript;base64," + base64.b64encode(source.encode("utf-8")).decode("ascii")


def offline_options() -> dict[str, str]:
    """nbconvert ``HTMLExporter`` options that load require.js (with anywidget's front end as
    the named AMD module ``"anywidget"`` after it) and the widget manager from ``data:`` URLs.

    >>> sorted(offline_options())
    ['require_js_url', 'widget_renderer_url']
    """
    loader = read_vendor("require.js") + "\n" + anywidget_amd_module()
    return {"require_js_url": _data_url(loader), "widget_renderer_url": _data_url(read_vendor("embed-amd.js"))}


def notebook_html(notebook: str | Path, path: str | Path | None = None, *, execute: bool = False,
                  timeout: int = 600) -> Path:
    """Convert ``notebook`` to an HTML page whose widgets draw offline; returns its path
    (default: the notebook's, ending ``.html``). ``execute`` runs it first (``timeout`` seconds
    per cell), in its own folder.

    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    >>> nbformat.write(nb, "tiny.ipynb")
    >>> notebook_html("tiny.ipynb", execute=True)
    PosixPath('tiny.html')
    """
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import ExecutePreprocessor

    notebook = Path(notebook)
    path = notebook.with_suffix(".html") if path is None else Path(path)
    nb = nbformat.read(notebook, as_version=4)
    if execute:
        ExecutePreprocessor(timeout=timeout, store_widget_state=True).preprocess(
            nb, {"metadata": {"path": str(notebook.parent.resolve())}}
        )
    exporter = HTMLExporter(template_name="lab", **offline_options())
    body, _ = exporter.from_notebook_node(nb)
    path.write_text(body, encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> Path:
    """The command line (``python -m circuitwidgets.widgets.notebook_html --help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m circuitwidgets.widgets.notebook_html",
        description="Convert a notebook to one HTML page whose widgets draw offline.",
    )
    parser.add_argument("notebook", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=None, help="the page (default: NOTEBOOK.html)")
    parser.add_argument("--execute", action="store_true", help="run the notebook first")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell with --execute")
    args = parser.parse_args(argv)
    written = notebook_html(args.notebook, args.output, execute=args.execute, timeout=args.timeout)
    print(written)
    return written


if __name__ == "__main__":
    main()
