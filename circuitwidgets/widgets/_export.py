"""One self-contained HTML file for one or more widgets, that works offline from ``file://``.

The file holds, inline and in this order:

1. ``require.js`` (npm ``requirejs``), the AMD loader the widget manager expects;
2. anywidget's front end (the Python ``anywidget`` package's ``nbextension/index.js``),
   turned from an anonymous ``define([...])`` into the *named* AMD module ``"anywidget"``,
   so the manager finds it locally instead of fetching it from a CDN;
3. ``embed-amd.js`` (npm ``@jupyter-widgets/html-manager``), which defines the widget manager
   and, once the page has loaded, renders every widget view in the page;
4. the state of the views and of the widgets they reference (e.g. a shared selection), from
   ``ipywidgets.embed.embed_data(views, drop_defaults=False)`` — every trait, including each
   view's ``_esm``/``_css`` (our bundle) and the binary arrays (base64) — with ``_static``
   set to true for circuitwidgets views, and whatever each view adds for a kernel-less page
   through its ``_static_state(options)`` (e.g. AttentionExplorer's full patterns of more
   heads), encoded by the same trait encoders as the live state;
5. one view tag per widget.

Nothing is loaded from the network. There is no kernel behind the page: the views still
draw, hover and click, but editing their text is disabled (with a note saying so).

Example: :func:`save_html`.
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import anywidget
import ipywidgets
from ipywidgets.embed import dependency_state, embed_data
from ipywidgets.widgets.widget import _remove_buffers

from .._version import __version__
from ._bundles import read_vendor
from ._transport import encode_trait

__all__ = ["save_html", "write_html", "static_state", "export_html", "export_sizes", "ExportSizes", "anywidget_amd_module"]

_ANONYMOUS_DEFINE = re.compile(r"\bdefine\(\s*\[")
_CIRCUITWIDGETS_ID = re.compile(r"^circuitwidgets\.")


def anywidget_amd_module() -> str:
    """anywidget's front end as the named AMD module ``"anywidget"``.

    The Python package ships it as one anonymous ``define(["@jupyter-widgets/base"], ...)``;
    this names it. Raises ``RuntimeError`` if that pattern is not found exactly once (a
    different anywidget build that this export does not know how to embed).
    """
    path = Path(anywidget.__file__).parent / "nbextension" / "index.js"
    source = path.read_text(encoding="utf-8")
    found = len(_ANONYMOUS_DEFINE.findall(source))
    if found != 1:
        raise RuntimeError(
            f"expected exactly one anonymous `define([...])` in {path}, found {found}: this "
            f"anywidget version ({anywidget.__version__}) cannot be embedded by save_html"
        )
    return _ANONYMOUS_DEFINE.sub('define("anywidget", [', source, count=1)


def _inline_script(source: str) -> str:
    """JavaScript safe to place between ``<script>`` tags: a literal ``</script`` would end
    the element early, so it is written ``<\\/script`` (the same string to JavaScript)."""
    return re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE)


def _inline_json(value: object) -> str:
    """JSON safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` as ``\\u`` escapes, so
    user text such as ``</script>`` cannot end the element."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _as_views(widgets: ipywidgets.Widget | Iterable[ipywidgets.Widget]) -> list[ipywidgets.DOMWidget]:
    views = [widgets] if isinstance(widgets, ipywidgets.Widget) else list(widgets)
    if not views:
        raise ValueError("save_html needs at least one widget")
    for v in views:
        if not isinstance(v, ipywidgets.DOMWidget):
            raise TypeError(
                f"save_html exports displayable widgets (ipywidgets.DOMWidget), got {type(v).__name__}"
            )
    return views


def _mark_static(manager_state: dict) -> None:
    """Tell circuitwidgets views in the exported state that no kernel is behind them."""
    for model in manager_state["state"].values():
        state = model.get("state", {})
        if _CIRCUITWIDGETS_ID.match(str(state.get("_anywidget_id", ""))) and "_static" in state:
            state["_static"] = True


def _with_referenced(views: list[ipywidgets.DOMWidget]) -> list[ipywidgets.Widget]:
    """``views`` and every widget their synced traits reference, transitively (a dashboard's
    own views, a view's selection), each once."""
    found: dict[str, ipywidgets.Widget] = {}
    todo: list[ipywidgets.Widget] = list(views)
    while todo:
        widget = todo.pop(0)
        if widget.model_id in found:
            continue
        found[widget.model_id] = widget
        todo += [v for v in (getattr(widget, name) for name in widget.keys) if isinstance(v, ipywidgets.Widget)]
    return list(found.values())


def static_state(view: ipywidgets.Widget, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What ``view`` puts into an export made with ``options`` instead of its live state (its
    ``_static_state``), in the wire form: each value encoded by its trait.

    >>> sorted(static_state(cw.OVBrowser(model), {"token_maps": "none"}))
    ['_answers', 'copying', 'eigenvalues', 'positive_mass']
    """
    make = getattr(view, "_static_state", None)
    values = make(dict(options or {})) if make is not None else {}
    return {name: encode_trait(view, name, value) for name, value in values.items()}


def _add_static_state(manager_state: dict, views: list[ipywidgets.DOMWidget], options: Mapping[str, Any]) -> None:
    """Put what each view's ``_static_state(options)`` returns (trait name -> value) into its
    exported state, encoded by that trait's own ``to_json`` (binary arrays become buffers),
    replacing the live values and their buffers; also for the views a view references (a
    dashboard's four)."""
    for view in _with_referenced(views):
        encoded = static_state(view, options)
        if not encoded:
            continue
        entry = manager_state["state"][view.model_id]
        plain, paths, buffers = _remove_buffers(encoded)
        entry["state"].update(plain)
        kept = [b for b in entry.get("buffers", []) if b["path"][0] not in encoded]
        kept += [
            {"path": path, "encoding": "base64", "data": base64.b64encode(bytes(buf)).decode("ascii")}
            for path, buf in zip(paths, buffers)
        ]
        entry["buffers"] = kept


def export_html(
    widgets: ipywidgets.Widget | Iterable[ipywidgets.Widget],
    *,
    title: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> str:
    """The text of the self-contained HTML page for ``widgets`` (see :func:`save_html`);
    ``options`` go to every view's ``_static_state`` (see :func:`write_html`)."""
    views = _as_views(widgets)
    # Only these views and what they reference, not every widget alive in the kernel.
    state = dependency_state(views, drop_defaults=False)
    data = embed_data(views=views, drop_defaults=False, state=state)
    _mark_static(data["manager_state"])
    _add_static_state(data["manager_state"], views, options or {})
    page_title = title if title is not None else "circuitwidgets"
    scripts = "\n".join(
        f"<script>\n{_inline_script(src)}\n</script>"
        for src in (read_vendor("require.js"), anywidget_amd_module(), read_vendor("embed-amd.js"))
    )
    view_tags = "\n".join(
        f'<div class="cw-export-view">\n<script type="application/vnd.jupyter.widget-view+json">'
        f"{_inline_json(spec)}</script>\n</div>"
        for spec in data["view_specs"]
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="circuitwidgets {html.escape(__version__)}">
<title>{html.escape(page_title)}</title>
<style>
  body {{ margin: 24px auto; max-width: 1100px; padding: 0 16px; }}
  .cw-export-view + .cw-export-view {{ margin-top: 24px; }}
</style>
{scripts}
<script type="application/vnd.jupyter.widget-state+json">{_inline_json(data["manager_state"])}</script>
</head>
<body>
{view_tags}
</body>
</html>
"""


def save_html(
    widgets: ipywidgets.Widget | Iterable[ipywidgets.Widget],
    path: str | Path,
    *,
    title: str | None = None,
) -> Path:
    """Write ``widgets`` (one widget or several, shown in order) to one HTML file at ``path``.

    The file needs no network and no kernel: open it from disk in any modern browser. It
    embeds the current state, so save again after changing a widget. Returns the path.

    Examples
    --------
    >>> sel = cw.Selection()                   # two linked views in one file, still linked there
    >>> views = [cw.AttentionExplorer(model, "a b c a b c", selection=sel),
    ...          cw.OVBrowser(model, selection=sel)]
    >>> cw.save_html(views, "linked.html", title="attention and OV, linked")
    PosixPath('linked.html')
    """
    return write_html(widgets, path, title=title)


def write_html(
    widgets: ipywidgets.Widget | Iterable[ipywidgets.Widget],
    path: str | Path,
    *,
    title: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> Path:
    """:func:`save_html` with export ``options``, the views' own ``save_html`` arguments
    passed as an argument (never as attributes set on a view): ``{"heads": ...}``
    (AttentionExplorer), ``{"every_head": bool}`` (InductionScores), ``{"token_maps": ...}``
    (OVBrowser). Every view in the export, and every view it references, reads the keys it
    knows; a dashboard passes one set to its four views.

    >>> write_html(cw.AttentionExplorer(model, "a b c a b c"), "a.html", options={"heads": "all"})
    PosixPath('a.html')
    """
    path = Path(path)
    page = export_html(widgets, title=title, options=options)
    path.write_text(page, encoding="utf-8")
    return path


_STATE_SCRIPT = re.compile(
    r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', re.DOTALL
)


@dataclass(frozen=True)
class ExportSizes:
    """Where the bytes of an exported HTML file go (all sizes in bytes of UTF-8 text).

    Attributes
    ----------
    total:
        The whole file.
    code:
        The views' own JavaScript and CSS (each widget model's ``_esm`` and ``_css``).
    data:
        Every other trait of every widget, binary arrays as base64 included: what depends on
        the model, the text and the export options.
    by_widget:
        ``data`` per widget, keyed ``"<Class> <model id prefix>"``, largest first.

    The rest (``total - code - data``) is the same for every export: require.js, anywidget's
    front end and the widget manager (about 3.8 MB), and the page around them.
    """

    total: int
    code: int
    data: int
    by_widget: dict[str, int]

    def __str__(self) -> str:
        mb = lambda n: f"{n / 1e6:.2f} MB"  # noqa: E731
        lines = [f"total {mb(self.total)}: code {mb(self.code)}, data {mb(self.data)}, "
                 f"manager and page {mb(self.total - self.code - self.data)}"]
        small = [size for size in self.by_widget.values() if size < 1000]
        lines += [f"  {name}: {mb(size)}" for name, size in self.by_widget.items() if size >= 1000]
        if small:
            lines.append(f"  {len(small)} more widgets under 1 kB each")
        return "\n".join(lines)


def export_sizes(path: str | Path) -> ExportSizes:
    """Break down the size of a file written by :func:`save_html` (see :class:`ExportSizes`).

    >>> path = cw.CircuitExplorer(model).save_html("w.html")
    >>> print(export_sizes(path))
    total ... MB: code ... MB, data ... MB, manager and page ... MB
      InductionScores ...: 0.2... MB
    ...
    """
    page = Path(path).read_text(encoding="utf-8")
    found = _STATE_SCRIPT.search(page)
    if found is None:
        raise ValueError(f"{path} holds no widget state: it is not a file written by save_html")
    size = lambda text: len(text.encode("utf-8"))  # noqa: E731
    code = 0
    by_widget: dict[str, int] = {}
    for model_id, model in json.loads(found.group(1))["state"].items():
        state = dict(model.get("state", {}))
        code += sum(size(state.pop(name, "") or "") for name in ("_esm", "_css"))
        name = str(state.get("_anywidget_id") or state.get("_model_name", "widget")).rsplit(".", 1)[-1]
        data = size(json.dumps(state, separators=(",", ":"), ensure_ascii=False))
        data += sum(size(b.get("data", "")) for b in model.get("buffers", []))
        by_widget[f"{name} {model_id[:6]}"] = data
    ordered = dict(sorted(by_widget.items(), key=lambda item: -item[1]))
    return ExportSizes(total=size(page), code=code, data=sum(ordered.values()), by_widget=ordered)
