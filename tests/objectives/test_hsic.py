"""HSIC estimators against a float64 reference."""

import numpy as np
import pytest
import torch

from implicit_em import objectives as O


def _hsic_reference(x, y):
    def k(a):
        a = a.reshape(len(a), -1)
        d2 = ((a[:, None, :] - a[None, :, :]) ** 2).sum(-1)
        iu = np.triu_indices(len(a), 1)
        s = np.median(np.sqrt(d2[iu]))
        return np.exp(-d2 / (2 * s**2))

    n = len(x)
    h = np.eye(n) - 1.0 / n
    return np.trace(k(x) @ h @ k(y) @ h) / (n - 1) ** 2


def test_hsic_estimators():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 2))
    y = np.sin(2 * x[:, :1]) + 0.1 * rng.normal(size=(150, 1))
    xt, yt = torch.tensor(x), torch.tensor(y)
    assert float(O.hsic(xt, yt)) == pytest.approx(_hsic_reference(x, y), rel=1e-8)
    dep = float(O.hsic(xt, yt, estimator="unbiased"))
    indep = float(O.hsic(xt, torch.tensor(rng.normal(size=(150, 1))), estimator="unbiased"))
    assert dep > 10 * abs(indep)
    rff = float(O.hsic_rff(xt, yt, n_features=4096))
    assert rff == pytest.approx(float(O.hsic(xt, yt)), rel=0.2)


def test_pairwise_hsic_sums_pairs():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(120, 1))
    z = torch.tensor(np.c_[a, a**2, rng.normal(size=(120, 1))])
    want = sum(float(O.hsic(z[:, i], z[:, j])) for i in range(3) for j in range(i + 1, 3))
    assert float(O.pairwise_hsic(z)) == pytest.approx(want, rel=1e-8)
    assert float(O.pairwise_hsic(z, n_features=2048)) == pytest.approx(want, rel=0.25)
