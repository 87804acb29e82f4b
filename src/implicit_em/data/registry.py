"""One registry of datasets: ``load_dataset(name, seed=..., standardize=..., **options)``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .cifar10 import cifar10
from .dataset import Dataset
from .dataset import standardize as _standardize
from .digits import digits
from .ica import ica_sources
from .mnist import mnist
from .mnist1d import mnist1d
from .toy import clusters, polytope, rings, uniform_square

DATASETS: dict[str, Callable[..., Dataset]] = {
    "clusters": clusters,
    "rings": rings,
    "uniform_square": uniform_square,
    "polytope": polytope,
    "digits": digits,
    "mnist1d": mnist1d,
    "mnist": mnist,
    "cifar10": cifar10,
    "ica_sources": ica_sources,
}


def list_datasets() -> list[str]:
    """Names of the registered datasets, sorted."""
    return sorted(DATASETS)


def load_dataset(name: str, *, seed: int = 0, standardize: bool = False, **options: Any) -> Dataset:
    """Load or generate dataset ``name`` deterministically from ``seed``.

    Args:
        name: one of :func:`list_datasets`.
        seed: the random seed of generation, sub-sampling and the train/test split.
        standardize: centre/scale features with training statistics (see
            :func:`implicit_em.data.dataset.standardize`).
        **options: the generator's own keyword arguments (e.g. ``n_samples``).

    Examples:
        >>> ds = load_dataset("clusters", seed=1, n_samples=200, n_clusters=3)
        >>> ds.X_train.shape, ds.X_test.shape
        ((160, 2), (40, 2))
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(list_datasets())}")
    fn = DATASETS[name]
    valid = [p for p in inspect.signature(fn).parameters if p != "seed"]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for dataset {name!r}; valid options: {valid}"
        )
    ds = fn(seed=seed, **options)
    ds.meta.setdefault("seed", seed)
    return _standardize(ds) if standardize else ds
