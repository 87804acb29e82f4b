"""scikit-learn's bundled 8x8 handwritten digits (1797 images, no download)."""

from __future__ import annotations

import numpy as np

from .dataset import Dataset, split


def digits(*, seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """``(n, 64)`` float32 pixel intensities scaled to ``[0, 1]``; labels 0-9."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    rng = np.random.default_rng(seed)
    return split("digits", bunch.data / 16.0, bunch.target, rng, test_fraction, {"shape": (8, 8)})
