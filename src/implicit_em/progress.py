"""Progress bars for long work (``rich``); silenced with ``IEM_PROGRESS=0``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from rich.progress import track as _rich_track


def enabled() -> bool:
    """Bars show on a terminal unless ``IEM_PROGRESS=0``; ``IEM_PROGRESS=1`` forces them."""
    setting = os.environ.get("IEM_PROGRESS", "")
    if setting in ("0", "false", "no"):
        return False
    if setting in ("1", "true", "yes"):
        return True
    from rich.console import Console

    return Console().is_terminal


def track(items: Sequence | Iterable, description: str, total: int | None = None):
    """Iterate over ``items`` with a progress bar showing ``description`` and an ETA."""
    if not enabled():
        return iter(items)
    return _rich_track(items, description=description, total=total, transient=True)
