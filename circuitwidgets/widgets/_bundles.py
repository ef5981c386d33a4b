"""Where the built JavaScript lives: ``circuitwidgets/static/``.

``npm run build`` (and ``pip install``, through the hatch-jupyter-builder hook) bundles each
view ``js/src/<view>.ts`` into ``static/<view>.js`` and ``static/<view>.css``, and copies the
scripts a static HTML export inlines into ``static/vendor/``. None of it is committed.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC_DIR", "read_bundle", "read_vendor"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

_HOW_TO_BUILD = (
    "In a source checkout, build it with `npm install && npm run build` in the repository "
    "root (or `npm run dev` to rebuild on every change); `pip install .` builds it too."
)


def _read(path: Path, what: str) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"circuitwidgets' {what} is not built: {path} is missing. {_HOW_TO_BUILD}")
    return path.read_text(encoding="utf-8")


def read_bundle(view: str) -> tuple[str, str]:
    """The ES module and the CSS of one view, e.g. ``read_bundle("token_view")``.

    Read on every call, so a widget created after a rebuild gets the new code.
    """
    js = _read(STATIC_DIR / f"{view}.js", f"JavaScript for the {view!r} view")
    css_path = STATIC_DIR / f"{view}.css"
    css = css_path.read_text(encoding="utf-8") if css_path.is_file() else ""
    return js, css


def read_vendor(name: str) -> str:
    """A vendored script for static exports (``require.js``, ``embed-amd.js``)."""
    return _read(STATIC_DIR / "vendor" / name, f"vendored script {name!r}")
