"""Progress bars for long work (``rich``); silenced with ``IEM_PROGRESS=0``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from rich.progress import track as _rich_track


def enabled() -> bool:
    return os.environ.get("IEM_PROGRESS", "1") not in ("0", "false", "no")


def track(items: Sequence | Iterable, description: str, total: int | None = None):
    """Iterate over ``items`` with a progress bar showing ``description`` and an ETA."""
    if not enabled():
        return iter(items)
    return _rich_track(items, description=description, total=total, transient=True)
