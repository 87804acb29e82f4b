"""Two-dimensional toy data: ``clusters``, ``rings``, ``uniform_square`` and ``polytope``.

Every generator is deterministic given ``seed`` and returns a :class:`Dataset`.
"""

from __future__ import annotations

import numpy as np

from .dataset import Dataset, check_count, split


def clusters(
    *,
    seed: int = 0,
    n_samples: int = 1000,
    n_clusters: int = 4,
    n_features: int = 2,
    cluster_std: float = 0.25,
    test_fraction: float = 0.2,
) -> Dataset:
    """Isotropic Gaussian blobs; centres uniform in ``[-2, 2]^n_features``; label = blob.

    ``meta["centers"]``: ``(n_clusters, n_features)``.
    """
    n = check_count(n_samples, "n_samples", 2)
    k = check_count(n_clusters, "n_clusters")
    dim = check_count(n_features, "n_features")
    if not cluster_std > 0:
        raise ValueError(f"cluster_std must be > 0, got {cluster_std!r}")
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-2.0, 2.0, size=(k, dim))
    y = rng.integers(0, k, size=n)
    X = centers[y] + cluster_std * rng.standard_normal((n, dim))
    return split("clusters", X, y, rng, test_fraction, {"centers": centers})


def rings(
    *,
    seed: int = 0,
    n_samples: int = 1000,
    n_rings: int = 2,
    noise: float = 0.05,
    test_fraction: float = 0.2,
) -> Dataset:
    """Concentric noisy rings of radii ``(i + 1) / n_rings``; label = ring index."""
    n = check_count(n_samples, "n_samples", 2)
    k = check_count(n_rings, "n_rings")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    angle = rng.uniform(0, 2 * np.pi, size=n)
    radius = (y + 1) / k + noise * rng.standard_normal(n)
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return split("rings", X, y, rng, test_fraction, {"radii": (np.arange(k) + 1) / k})


def uniform_square(
    *,
    seed: int = 0,
    n_samples: int = 1000,
    n_features: int = 2,
    low: float = -1.0,
    high: float = 1.0,
    test_fraction: float = 0.2,
) -> Dataset:
    """Uniform samples on ``[low, high]^n_features``; unlabelled (``y is None``)."""
    n = check_count(n_samples, "n_samples", 2)
    dim = check_count(n_features, "n_features")
    if not high > low:
        raise ValueError(f"need high > low, got low={low!r}, high={high!r}")
    rng = np.random.default_rng(seed)
    X = rng.uniform(low, high, size=(n, dim))
    return split("uniform_square", X, None, rng, test_fraction, {"low": low, "high": high})


def polytope(
    *,
    seed: int = 0,
    n_samples: int = 1000,
    n_vertices: int = 5,
    radius: float = 0.75,
    test_fraction: float = 0.2,
) -> Dataset:
    """Points uniform on ``[-1, 1]^2`` labelled 1 inside a random convex polygon, else 0.

    The polygon's vertices lie on a circle of ``radius`` at sorted, jittered angles, so it
    is convex. ``meta`` holds the ground-truth hyperplanes: a point ``x`` is inside iff
    ``normals @ x <= offsets`` for every edge (``normals``: ``(n_vertices, 2)``, unit rows).
    """
    n = check_count(n_samples, "n_samples", 2)
    k = check_count(n_vertices, "n_vertices", 3)
    if not 0 < radius <= 1:
        raise ValueError(f"radius must lie in (0, 1], got {radius!r}")
    rng = np.random.default_rng(seed)
    step = 2 * np.pi / k
    angles = np.arange(k) * step + rng.uniform(-0.3, 0.3, size=k) * step + rng.uniform(0, step)
    vertices = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    edges = np.roll(vertices, -1, axis=0) - vertices
    normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)  # outward for counter-clockwise
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    offsets = (normals * vertices).sum(1)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = (offsets >= X @ normals.T).all(1).astype(np.int64)
    meta = {"vertices": vertices, "normals": normals, "offsets": offsets}
    return split("polytope", X, y, rng, test_fraction, meta)
