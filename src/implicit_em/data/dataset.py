"""The ``Dataset`` container every loader returns, with the split and standardisation helpers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class Dataset:
    """A train/test split of features (and labels when the data has them).

    Attributes:
        name: registry name.
        X_train, X_test: ``(n, n_features)`` float32 arrays.
        y_train, y_test: ``(n,)`` int64 labels, or ``None`` for unlabelled data.
        meta: generator parameters and ground truth (e.g. ``mixing`` for ICA data,
            ``normals``/``offsets`` for a polytope, ``standardize`` statistics).
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray | None
    X_test: np.ndarray
    y_test: np.ndarray | None
    meta: dict = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        """Input width ``D``."""
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int | None:
        """Number of classes (largest label + 1), or ``None`` for unlabelled data."""
        if self.y_train is None or self.y_test is None:
            return None
        return int(max(self.y_train.max(), self.y_test.max() if len(self.y_test) else 0)) + 1

    def tensors(
        self, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
        """``(X_train, y_train, X_test, y_test)`` as tensors (labels ``None`` if absent)."""

        def t(x, dt):
            return None if x is None else torch.as_tensor(x, dtype=dt, device=device)

        return (
            t(self.X_train, dtype),
            t(self.y_train, torch.long),
            t(self.X_test, dtype),
            t(self.y_test, torch.long),
        )

    def __repr__(self) -> str:
        classes = "" if self.y_train is None else f", n_classes={self.n_classes}"
        return (
            f"Dataset({self.name!r}, train={self.X_train.shape}, test={self.X_test.shape}{classes})"
        )


def check_fraction(test_fraction: float) -> float:
    """``test_fraction`` if it lies in ``(0, 1)``, else a ``ValueError`` that says so."""
    f = float(test_fraction)
    if not 0.0 < f < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction!r}")
    return f


def check_count(value: object, name: str, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum`` (not a bool), else a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def split(
    name: str,
    X: np.ndarray,
    y: np.ndarray | None,
    rng: np.random.Generator,
    test_fraction: float,
    meta: dict | None = None,
) -> Dataset:
    """Shuffle with ``rng`` and split into train/test (at least one sample in each)."""
    n = len(X)
    if n < 2:
        raise ValueError(f"need at least 2 samples to split into train and test, got {n}")
    n_test = min(max(1, round(n * check_fraction(test_fraction))), n - 1)
    order = rng.permutation(n)
    test, train = order[:n_test], order[n_test:]
    X = np.asarray(X, dtype=np.float32)
    y = None if y is None else np.asarray(y, dtype=np.int64)
    return Dataset(
        name,
        X[train],
        None if y is None else y[train],
        X[test],
        None if y is None else y[test],
        dict(meta or {}, train_index=train, test_index=test),
    )


def standardize(ds: Dataset) -> Dataset:
    """Centre and scale every feature with the *training* mean and std.

    Features with zero training variance (e.g. MNIST border pixels) are only centred.
    """
    mean = ds.X_train.mean(0, dtype=np.float64)
    std = ds.X_train.std(0, dtype=np.float64)
    std = np.where(std > 1e-8, std, 1.0)

    def f(x):
        return ((x - mean) / std).astype(np.float32)

    meta = dict(ds.meta, standardize={"mean": mean, "std": std})
    return Dataset(ds.name, f(ds.X_train), ds.y_train, f(ds.X_test), ds.y_test, meta)
