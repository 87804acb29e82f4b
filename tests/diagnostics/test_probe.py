"""The linear probe: separable data against shuffled labels."""

import numpy as np
import pytest

from implicit_em import diagnostics as D
from implicit_em.data import load_dataset


def test_linear_probe_separable_vs_shuffled():
    ds = load_dataset("digits", seed=0)
    good = D.linear_probe(ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    assert good["test_accuracy"] > 0.9 and good["train_accuracy"] > 0.97
    rng = np.random.default_rng(0)
    bad = D.linear_probe(ds.X_train, rng.permutation(ds.y_train), ds.X_test, ds.y_test)
    assert bad["test_accuracy"] < 0.2  # chance is 0.1
    x = np.r_[rng.normal(-3, 1, (100, 2)), rng.normal(3, 1, (100, 2))]
    y = np.r_[np.zeros(100), np.ones(100)].astype(int)
    assert D.linear_probe(x, y, x, y)["test_accuracy"] == 1.0
    huge = (x * 1e20).astype(np.float32)  # finite, but standardising overflows float32
    with pytest.raises(ValueError, match=r"train_features has values up to .* overflows"):
        D.linear_probe(huge, y, x, y)
    assert D.linear_probe(huge.astype(np.float64), y, x * 1e20, y)["test_accuracy"] == 1.0
    subnormal = np.c_[x, np.where(y == 1, 1e-45, 0.0)].astype(np.float32)  # std 0 in float32
    assert D.linear_probe(subnormal, y, subnormal, y)["test_accuracy"] == 1.0
