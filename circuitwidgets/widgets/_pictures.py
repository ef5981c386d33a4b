"""Save what a view shows as a PNG, or one of its heatmaps or grids as an SVG, from Python.

A running cell cannot wait for the browser to answer, so this does not ask the notebook's
front end: it writes the view's static export (:func:`._export.export_html`, the current state
and our bundle) to a temporary file, opens it in the package's one headless Chromium
(:func:`circuitwidgets.headless.webdriver`, which the figures' export uses too: Debian's
chromium + chromedriver, selenium from the ``figures`` extra) and runs the same JavaScript as the view's "Save PNG" and "Save SVG"
buttons (js/src/kit/camera.ts) on it. No network is used.

The page is 1280 CSS pixels wide, like a notebook on a laptop; the export shows a view
1100 pixels wide at most. The PNG is the view's CSS box x ``scale`` pixels, drawn by a
browser at that pixel density (so canvases are sharp, not scaled up). ``theme`` picks the
light or dark palette (the export follows ``prefers-color-scheme``).

>>> w = cw.AttentionExplorer(model, "When Mary and John went to the store")
>>> save_png(w, "attention.png", scale=1)
PosixPath('attention.png')
>>> save_svg(w, "pattern.svg", panel="head")
PosixPath('pattern.svg')
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any, Union

from ..headless import check_scale, webdriver
from ._export import save_html

__all__ = ["save_png", "save_svg", "THEMES"]

THEMES = ("light", "dark")
#: The browser window, in CSS pixels.
WINDOW = (1280, 1000)
#: Seconds the page may take to draw the view.
READY_TIMEOUT = 90
PURPOSE = "saving a view as PNG or SVG"

# Wait until the first view in the page has drawn, then run `job(root, arg)` (a promise or a
# value) and hand back {ok: result} or {error: message}.
_RUN = """
const [job, arg, timeoutMs, done] = [arguments[0], arguments[1], arguments[2], arguments[arguments.length - 1]];
const started = Date.now();
const run = new Function("root", "arg", job);
(function poll() {
  const root = document.querySelector(".cw-root");
  if (root && root.dataset.ready === "true" && root.cwCamera) {
    Promise.resolve().then(() => run(root, arg)).then(
      (ok) => done({ ok }),
      (e) => done({ error: String((e && e.message) || e) }),
    );
  } else if (Date.now() - started > timeoutMs) {
    done({ error: "the view did not finish drawing in " + timeoutMs / 1000 + " s" });
  } else {
    setTimeout(poll, 50);
  }
})();
"""
_PNG = """
const url = await root.cwCamera.png(arg);
const box = root.getBoundingClientRect();
return { url, width: box.width, height: box.height };
"""
_SVG = """
const names = root.cwCamera.svgNames();
const name = arg === null ? names[0] : arg;
return { names, svg: names.includes(name) ? root.cwCamera.svg(name) : null };
"""


def _check_theme(theme: str) -> str:
    if theme not in THEMES:
        raise ValueError(f"theme {theme!r} is not one of {THEMES}")
    return theme


def _run(widget: Any, job: str, arg: object, *, scale: float, theme: str) -> Any:
    """Open ``widget``'s static export in a headless Chromium and run ``job`` on its view."""
    with tempfile.TemporaryDirectory(prefix="circuitwidgets-") as tmp:
        page = Path(tmp) / "view.html"
        save_html(widget, page)
        with webdriver(scale, purpose=PURPOSE) as driver:
            driver.set_window_size(*WINDOW)
            driver.execute_cdp_cmd(
                "Emulation.setEmulatedMedia",
                {"media": "", "features": [{"name": "prefers-color-scheme", "value": theme}]},
            )
            driver.set_script_timeout(READY_TIMEOUT + 30)
            driver.get(page.as_uri())
            # An async function body: `await` works in the job.
            result = driver.execute_async_script(_RUN, f"return (async () => {{ {job} }})();", arg, READY_TIMEOUT * 1000)
    if "error" in result:
        raise RuntimeError(f"the browser could not save the view: {result['error']}")
    return result["ok"]


def save_png(widget: Any, path: Union[str, os.PathLike], *, scale: float = 2, theme: str = "light") -> Path:
    """Save what ``widget`` shows as a PNG of its CSS box x ``scale`` pixels; returns the path.

    ``scale`` (0.5 to 8, default 2: sharp in print) is device pixels per CSS pixel; ``theme``
    is ``"light"`` or ``"dark"``. Raises :class:`~circuitwidgets.figures.ExportUnavailable`
    naming what to install when Chromium, chromedriver or selenium is missing.
    """
    scale = check_scale(scale)
    theme = _check_theme(theme)
    path = Path(path)
    shot = _run(widget, _PNG, scale, scale=scale, theme=theme)
    header, _, data = shot["url"].partition(",")
    if header != "data:image/png;base64":
        raise RuntimeError(f"the browser answered {header!r} instead of a PNG")
    path.write_bytes(base64.b64decode(data))
    return path


def save_svg(
    widget: Any, path: Union[str, os.PathLike], *, panel: str | None = None, theme: str = "light"
) -> Path:
    """Save one heatmap or grid of ``widget`` as a standalone vector SVG; returns the path.

    ``panel`` names which (``None``: the view's first); a name the view does not have raises
    ``ValueError`` listing those it has. The SVG holds the cells shown as rects (a zoomed
    heatmap: its visible window; past 40,000 cells one embedded raster of the cells), the
    labels and the title as text.
    """
    if panel is not None and not isinstance(panel, str):
        raise TypeError(f"panel must be a str or None, got {type(panel).__name__}")
    theme = _check_theme(theme)
    path = Path(path)
    answer = _run(widget, _SVG, panel, scale=1, theme=theme)
    names = answer["names"]
    if not names:
        raise ValueError(f"{type(widget).__name__} has no heatmap or grid to save as SVG; use to_png")
    if answer["svg"] is None:
        raise ValueError(f"panel {panel!r} is not one of {type(widget).__name__}'s SVG panels {names}")
    path.write_text(answer["svg"], encoding="utf-8")
    return path
