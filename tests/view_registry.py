"""The registry of views (``js/views.json``) as the tests read it: one line per view drives
the build (js/build.mjs), the bundle test, the docs test and pyproject.toml's build hook."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: ``[{"bundle", "entry", "class", "docs"}, ...]`` in the registry's order.
VIEWS: list[dict[str, str]] = json.loads((ROOT / "js" / "views.json").read_text())["views"]
