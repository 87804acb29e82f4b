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


def lines(ax: Any, rows: list[dict], x: str, y: str, by: str, fmt: str = "-", **kw: Any) -> None:
    """One line of ``y`` against ``x`` per value of the column ``by`` (in first-seen order),
    labelled by that value."""
    for value in dict.fromkeys(r[by] for r in rows):
        pts = [r for r in rows if r[by] == value]
        ax.plot([p[x] for p in pts], [p[y] for p in pts], fmt, label=str(value), **kw)


def grouped_bars(ax: Any, rows: list[dict], x: str, y: str, group: str, label: str = "{}") -> None:
    """Bars of ``y`` per category ``x``, one coloured bar per ``group`` value beside each
    other (a missing row draws no bar); ``label`` formats the group's legend entry."""
    import numpy as np

    xs = list(dict.fromkeys(r[x] for r in rows))
    groups = list(dict.fromkeys(r[group] for r in rows))
    width = 0.8 / len(groups)
    for i, g in enumerate(groups):
        at = {r[x]: r[y] for r in rows if r[group] == g}
        pos = [j for j, v in enumerate(xs) if v in at]
        ax.bar(np.array(pos) + i * width, [at[xs[j]] for j in pos], width, label=label.format(g))
    ax.set_xticks(np.arange(len(xs)) + width * (len(groups) - 1) / 2, xs, fontsize=7, rotation=20)


def filter_grid(w: Any) -> Any:
    """Filters ``(K, C, k, k)`` tiled into one image (``C = 3``: colour), each scaled to
    its own range."""
    import numpy as np

    w = np.asarray(w, dtype=float)
    n, c, k = len(w), w.shape[1], w.shape[2]
    side = int(np.ceil(n**0.5))
    grid = np.ones((side * (k + 1), side * (k + 1), 3)) if c == 3 else np.full(
        (side * (k + 1), side * (k + 1)), np.nan)  # fmt: skip
    for i, f in enumerate(w):
        f = (f - f.min()) / (np.ptp(f) + 1e-12)
        r, col = divmod(i, side)
        tile = f.transpose(1, 2, 0) if c == 3 else f[0]
        grid[r * (k + 1):r * (k + 1) + k, col * (k + 1):col * (k + 1) + k] = tile  # fmt: skip
    return grid


def filter_row(out_dir: Path, pictures: dict[str, Any], name: str, width: float,
               height: float) -> Path:  # fmt: skip
    """Each learner's filters ``(K, C, k, k)`` tiled (:func:`filter_grid`) side by side,
    titled by learner (grey for one channel), saved as ``name``."""
    import numpy as np

    fig, axes = new_figure(1, len(pictures), width=width * len(pictures), height=height)
    for ax, (label, w) in zip(axes, pictures.items(), strict=True):
        w = np.asarray(w)
        ax.imshow(filter_grid(w), cmap="gray" if w.shape[1] == 1 else None)
        ax.set_title(label, fontsize=7)
        ax.axis("off")
    return save_figure(fig, out_dir, name)
