"""MNIST-1D (Greydanus 2020), generated locally with the ``mnist1d`` package.

Only the package's generator is used (``make_dataset``); its download path never is.
"""

from __future__ import annotations

import random

import numpy as np

from .dataset import Dataset, check_count, check_fraction


def mnist1d(*, seed: int = 0, n_samples: int = 5000, test_fraction: float = 0.2) -> Dataset:
    """``(n, 40)`` float32 one-dimensional digit signals; labels 0-9.

    ``n_samples`` is rounded down to a multiple of 10 (the generator's samples per class).
    The generator seeds NumPy's and Python's global RNGs; their states are restored.
    """
    import os

    os.environ.setdefault("MPLBACKEND", "Agg")  # mnist1d imports pyplot
    from mnist1d.data import get_dataset_args, make_dataset

    n = check_count(n_samples, "n_samples", 20)
    args = get_dataset_args()
    args.num_samples = n
    args.train_split = 1.0 - check_fraction(test_fraction)
    args.seed = int(seed)
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    return Dataset(
        "mnist1d",
        data["x"].astype(np.float32),
        data["y"].astype(np.int64),
        data["x_test"].astype(np.float32),
        data["y_test"].astype(np.int64),
        {"t": data["t"]},
    )
