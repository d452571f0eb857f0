"""One module per area of the console; importing a module registers its routes."""

from __future__ import annotations

import importlib

MODULES = ("session", "admin", "figures", "statements", "mystery_calls", "mystery_campaigns",
           "mystery_planning", "actions", "afterhours", "live")
_LOADED: list[str] = []


def load_pages() -> None:
    """Import every page module once (their @route decorators fill web.console.ROUTES)."""
    for name in MODULES:
        if name not in _LOADED:
            importlib.import_module(f"web.pages.{name}")
            _LOADED.append(name)
