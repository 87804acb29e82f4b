"""Independent sources mixed by a known matrix: ground truth for ICA / InfoMax."""

from __future__ import annotations

import numpy as np

from .dataset import Dataset, check_count, check_fraction

SOURCE_KINDS = ("laplace", "uniform", "student", "sine", "bimodal")


def _source(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "laplace":  # super-Gaussian, kurtosis +3
        s = rng.laplace(size=n)
    elif kind == "uniform":  # sub-Gaussian, kurtosis -1.2
        s = rng.uniform(-1, 1, size=n)
    elif kind == "student":  # heavy-tailed super-Gaussian (t, 5 dof)
        s = rng.standard_t(5, size=n)
    elif kind == "sine":  # sub-Gaussian, random phase
        s = np.sin(rng.uniform(0, 2 * np.pi, size=n))
    elif kind == "bimodal":  # sub-Gaussian mixture of two bumps
        s = rng.choice([-1.0, 1.0], size=n) + 0.3 * rng.standard_normal(n)
    else:
        raise ValueError(f"unknown source kind {kind!r}; expected one of {SOURCE_KINDS}")
    return (s - s.mean()) / s.std()


def ica_sources(
    *,
    seed: int = 0,
    n_samples: int = 20000,
    n_sources: int = 4,
    kinds: tuple[str, ...] = ("laplace", "uniform"),
    max_condition: float = 3.0,
    test_fraction: float = 0.2,
) -> Dataset:
    """Mixtures ``x = A s`` of unit-variance independent sources; unlabelled.

    Source ``i`` has kind ``kinds[i % len(kinds)]`` (super-Gaussian ``laplace``/``student``,
    sub-Gaussian ``uniform``/``sine``/``bimodal``). ``A = U diag(sv) V^T`` with random
    orthogonal ``U, V`` and singular values in ``[1, max_condition]``.

    ``meta``: ``mixing`` ``A`` ``(n_sources, n_sources)``, ``sources_train`` /
    ``sources_test`` ``(n, n_sources)``, ``kinds``. ``X = sources @ A.T``.
    """
    n = check_count(n_samples, "n_samples", 2)
    k = check_count(n_sources, "n_sources")
    if not kinds or any(kd not in SOURCE_KINDS for kd in kinds):
        raise ValueError(f"kinds must be a non-empty subset of {SOURCE_KINDS}, got {kinds!r}")
    if not max_condition >= 1:
        raise ValueError(f"max_condition must be >= 1, got {max_condition!r}")
    rng = np.random.default_rng(seed)
    source_kinds = [kinds[i % len(kinds)] for i in range(k)]
    S = np.stack([_source(kd, n, rng) for kd in source_kinds], axis=1)
    u, _ = np.linalg.qr(rng.standard_normal((k, k)))
    v, _ = np.linalg.qr(rng.standard_normal((k, k)))
    sv = np.sort(rng.uniform(1.0, max_condition, size=k))[::-1]
    sv[0] = max_condition if k > 1 else 1.0
    A = u @ np.diag(sv) @ v.T
    X = S @ A.T
    n_test = min(max(1, round(n * check_fraction(test_fraction))), n - 1)
    meta = {
        "mixing": A,
        "sources_train": S[n_test:].astype(np.float32),
        "sources_test": S[:n_test].astype(np.float32),
        "kinds": source_kinds,
    }
    X = X.astype(np.float32)
    return Dataset("ica_sources", X[n_test:], None, X[:n_test], None, meta)
