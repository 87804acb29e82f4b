"""Matplotlib helpers shared by the experiments' ``plot`` functions.

Figures are ``matplotlib.figure.Figure`` objects drawn by the Agg canvas: no pyplot, no
global backend switch, nothing changed by importing this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn
    from matplotlib.figure import Figure

from pathlib import Path


def new_figure(
    rows: int = 1, cols: int = 1, *, width: float = 6, height: float = 4, **kw: Any
) -> tuple[Figure, list]:
    """A figure with a grid of axes; ``axes`` is always a flat list."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False, **kw)
    return fig, list(axes.ravel())


def save_figure(fig: Figure, out_dir: Path, name: str, dpi: int = 110, tight: bool = True) -> Path:
    """Save ``fig`` as ``out_dir/name`` (PNG, ``dpi``), close it and return the path."""
    path = Path(out_dir) / name
    if tight:
        fig.tight_layout(rect=(0, 0.1 if fig.legends else 0, 1, 1))
    fig.savefig(path, dpi=dpi)
    return path
