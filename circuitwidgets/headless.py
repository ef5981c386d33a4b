"""The one headless browser of the package: Chromium driven by chromedriver through selenium.

Two things need a real browser to make an image file: Bokeh figures
(:func:`circuitwidgets.figures.save_png` / ``save_svg``) and the views' pictures
(``view.to_png`` / ``to_svg``, :mod:`circuitwidgets.widgets._pictures`). Both open it here,
with :func:`webdriver`. The programs are found on their own -- ``$BOKEH_CHROMEDRIVER_PATH`` or
``chromedriver`` on ``PATH`` or Debian's ``/usr/bin/chromedriver``; ``$CIRCUITWIDGETS_CHROMIUM``
or ``chromium`` / ``chromium-browser`` / ``google-chrome`` on ``PATH`` -- and a missing piece
raises :class:`ExportUnavailable` naming what to install. No network is used.

>>> check_scale(2)
2.0
>>> try:
...     chromium, chromedriver = find_browser("drawing a picture")
... except ExportUnavailable as missing:          # its message names what to install
...     chromium = None
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator

__all__ = ["ExportUnavailable", "find_browser", "webdriver", "check_scale", "INSTALL_HINT"]

#: How to get each missing piece (Debian / Ubuntu package names).
INSTALL_HINT = (
    "on Debian/Ubuntu: sudo apt-get install chromium chromium-driver; "
    "and pip install 'circuitwidgets[figures]' (selenium)"
)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMEDRIVER_NAMES = ("chromedriver", "chromium.chromedriver")
#: Where Debian puts them when ``PATH`` is minimal (e.g. under cron or a service).
DEBIAN_CHROMIUM = ("/usr/bin/chromium", "/usr/lib/chromium/chromium")
DEBIAN_CHROMEDRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


class ExportUnavailable(RuntimeError):
    """Chromium, chromedriver or selenium is missing: the message says what to install.

    Examples
    --------
    >>> fig = analysis.ov_spectrum(model).plot(1, 3)
    >>> try:
    ...     path = figures.save_png(fig, "ov.png")
    ... except figures.ExportUnavailable as error:    # its message names what to install
    ...     path = None
    """


def _find(env: str, names: tuple[str, ...], fallbacks: tuple[str, ...]) -> str | None:
    configured = os.environ.get(env)
    if configured:
        return configured if Path(configured).is_file() else None
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return next((p for p in fallbacks if Path(p).is_file() and os.access(p, os.X_OK)), None)


#: What needs the browser, for the error message when it is missing (the figures' default).
FIGURE_PURPOSE = "saving a figure as PNG or SVG"


def find_browser(purpose: str = FIGURE_PURPOSE) -> tuple[str, str]:
    """``(chromium, chromedriver)`` paths, or :class:`ExportUnavailable` naming what to install."""
    chromium = _find("CIRCUITWIDGETS_CHROMIUM", CHROMIUM_NAMES, DEBIAN_CHROMIUM)
    driver = _find("BOKEH_CHROMEDRIVER_PATH", CHROMEDRIVER_NAMES, DEBIAN_CHROMEDRIVER)
    missing = [name for name, path in (("chromium", chromium), ("chromium-driver (chromedriver)", driver)) if not path]
    if missing:
        raise ExportUnavailable(
            f"{purpose} needs a headless Chromium, but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed ({INSTALL_HINT}); or set "
            "$CIRCUITWIDGETS_CHROMIUM / $BOKEH_CHROMEDRIVER_PATH to their paths"
        )
    return chromium, driver  # type: ignore[return-value]


@contextlib.contextmanager
def webdriver(scale: float = 1, purpose: str = FIGURE_PURPOSE) -> Iterator[object]:
    """A headless Chromium under selenium (Bokeh's export, a view's picture), drawing at
    ``scale`` device pixels per CSS pixel, closed afterwards. ``purpose`` names what needs it
    in the :class:`ExportUnavailable` raised when a piece is missing."""
    chromium, driver_path = find_browser(purpose)
    try:
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.chrome.webdriver import WebDriver
    except ImportError as error:
        raise ExportUnavailable(f"{purpose} needs selenium ({INSTALL_HINT})") from error
    options = Options()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in containers cannot use the sandbox
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-color-profile=srgb",
        f"--force-device-scale-factor={scale}",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
    ):
        options.add_argument(argument)
    driver = WebDriver(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def check_scale(scale: float) -> float:
    """``scale`` (device pixels per CSS pixel) as a float if it is a number in [0.5, 8]."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.5 <= scale <= 8:
        raise ValueError(f"scale {scale!r} is out of range; it must be a number in [0.5, 8]")
    return float(scale)
