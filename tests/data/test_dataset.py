"""Standardisation uses the training statistics."""

import numpy as np

from implicit_em.data import load_dataset


def test_standardize_uses_training_statistics():
    ds = load_dataset("digits", seed=0, standardize=True)
    np.testing.assert_allclose(ds.X_train.mean(0), 0, atol=1e-5)
    std = ds.X_train.std(0)
    assert np.all((np.abs(std - 1) < 1e-4) | (std < 1e-6))  # constant pixels stay 0
    assert np.isfinite(ds.X_test).all()
