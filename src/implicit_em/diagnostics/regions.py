r"""Linear regions of piecewise models, counted as distinct activation patterns.

A pattern is the binary vector ``a > threshold`` over units (soft activations are
thresholded). Distinct patterns on a sample are a lower bound on the number of linear
regions of any piecewise-linear model; on a fine 2-D grid they count the regions that
the grid resolves (for ``K`` lines in general position the plane has
``1 + K + K (K - 1) / 2``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .._checks import TensorLike
from ._inputs import as_matrix


def count_activation_patterns(activations: TensorLike, threshold: float = 0.0) -> int:
    """Number of distinct rows of ``activations > threshold`` (``(n, k)`` input)."""
    a = as_matrix(activations, min_rows=1)
    bits = (a > threshold).cpu().numpy()
    packed = np.packbits(bits, axis=1)
    return int(np.unique(packed, axis=0).shape[0])


def count_regions_2d(
    fn: Callable,
    bounds: tuple[float, float, float, float] = (-1.0, 1.0, -1.0, 1.0),
    resolution: int = 512,
    threshold: float = 0.0,
    batch_size: int = 65536,
) -> int:
    """Distinct activation patterns of ``fn`` on a ``resolution x resolution`` grid.

    Args:
        fn: maps a ``(n, 2)`` float32 tensor to activations ``(n, k)`` (e.g. a layer
            followed by its activation, or ``lambda x: hidden(model, x)``).
        bounds: ``(x_min, x_max, y_min, y_max)`` of the grid.
        resolution: points per axis.
        threshold: a unit is on where its activation exceeds this.
        batch_size: grid points evaluated at once (memory).

    Examples:
        >>> w = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> count_regions_2d(lambda x: x @ w.T, resolution=64)  # two axes: 4 quadrants
        4
    """
    x0, x1, y0, y1 = (float(b) for b in bounds)
    if not (x1 > x0 and y1 > y0):
        raise ValueError(
            f"bounds must be (x_min, x_max, y_min, y_max) with min < max, got {bounds}"
        )
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2, got {resolution}")
    xs = torch.linspace(x0, x1, resolution)
    ys = torch.linspace(y0, y1, resolution)
    grid = torch.cartesian_prod(xs, ys)
    patterns: set[bytes] = set()
    with torch.no_grad():
        for chunk in grid.split(batch_size):
            out = fn(chunk)
            bits = (as_matrix(out, "fn(x)", min_rows=1) > threshold).cpu().numpy()
            packed = np.packbits(bits, axis=1)
            patterns.update(bytes(row) for row in np.unique(packed, axis=0))
    return len(patterns)
