"""Progress bars for long work (``rich``); silenced with ``IEM_PROGRESS=0``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from rich.progress import track as _rich_track

if TYPE_CHECKING:
    from rich.progress import Progress


def enabled() -> bool:
    """Bars show on a terminal unless ``IEM_PROGRESS=0``; ``IEM_PROGRESS=1`` forces them."""
    setting = os.environ.get("IEM_PROGRESS", "")
    if setting in ("0", "false", "no"):
        return False
    if setting in ("1", "true", "yes"):
        return True
    from rich.console import Console

    return Console().is_terminal


def bar(description: str, total: int, show: bool = True, completed: int = 0) -> Progress | None:
    """A started bar with one task of ``total`` steps (``completed`` of them done, e.g.
    before a resume) and an ``info`` field (a running loss or bound), or ``None`` when
    ``show`` is false or bars are off. Update it with
    ``bar.update(bar.task_ids[0], ...)``; ``bar.stop()`` when done."""
    if not (show and enabled()):
        return None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        transient=True,
    )
    progress.start()
    progress.add_task(description, total=total, completed=completed, info="")
    return progress


def track(items: Sequence | Iterable, description: str, total: int | None = None) -> Iterable:
    """Iterate over ``items`` with a progress bar showing ``description`` and an ETA."""
    if not enabled():
        return iter(items)
    return _rich_track(items, description=description, total=total, transient=True)
