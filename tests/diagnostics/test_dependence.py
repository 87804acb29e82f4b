"""k-NN joint entropy and total correlation against closed forms."""

import math

import numpy as np
import pytest
import torch

from implicit_em import diagnostics as D


def test_knn_entropy_and_total_correlation():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(3000, 3, generator=g, dtype=torch.float64)
    assert float(D.knn_entropy(z)) == pytest.approx(1.5 * math.log(2 * math.pi * math.e), abs=0.1)
    # a correlated Gaussian: TC = -1/2 log det Corr (scipy-free closed form, NumPy det)
    y = z @ torch.tensor([[1, 0.8, 0.3], [0, 0.6, 0.5], [0, 0, 0.8]], dtype=torch.float64)
    true = -0.5 * np.linalg.slogdet(np.corrcoef(y.numpy().T))[1]
    assert float(D.total_correlation(y, "gaussian")) == pytest.approx(true, rel=1e-10)
    assert float(D.total_correlation(y)) == pytest.approx(true, abs=0.05)
    # independent non-Gaussian units: ~0; y = x^2 + noise: the spacing TC sees what the
    # Gaussian TC (zero correlation) cannot
    laplace = torch.log(torch.rand(3000, 1, generator=g) / torch.rand(3000, 1, generator=g))
    u = torch.cat([torch.rand(3000, 1, generator=g), laplace], 1)
    x = torch.randn(3000, 1, generator=g, dtype=torch.float64)
    w = torch.cat([x, x**2 + 0.1 * torch.randn(3000, 1, generator=g, dtype=torch.float64)], 1)
    assert abs(float(D.total_correlation(u.double()))) < 0.1  # estimator bias ~0.05 nat
    assert float(D.total_correlation(w)) > 1.0 > 0.01 > float(D.total_correlation(w, "gaussian"))
    batch = D.total_correlation(torch.stack([y[:, :2], u.double(), w]))  # groups at once
    assert batch.shape == (3,) and float(batch[2]) == pytest.approx(float(D.total_correlation(w)))
    with pytest.raises(ValueError, match="z needs more than k = 5 samples"):
        D.knn_entropy(z[:3], k=5)
    with pytest.raises(ValueError, match="estimator"):
        D.total_correlation(z, "kde")


def test_total_correlation_leaves_constant_units_out_with_a_warning():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 1, generator=g, dtype=torch.float64)
    z = torch.cat([x, x + 0.3 * torch.randn(600, 1, generator=g, dtype=torch.float64)], 1)
    with_const = torch.cat([z, torch.full((600, 1), 2.0, dtype=torch.float64)], 1)
    for estimator in ("spacing", "gaussian"):
        with pytest.warns(RuntimeWarning, match="constant unit"):
            tc = D.total_correlation(with_const, estimator)
        assert float(tc) == pytest.approx(float(D.total_correlation(z, estimator)), abs=1e-9)
        with pytest.warns(RuntimeWarning, match="constant unit"):
            alone = D.total_correlation(torch.cat([x, torch.ones_like(x)], 1), estimator)
        assert float(alone) == 0.0  # one informative unit: nothing to be redundant with
    with pytest.raises(ValueError, match="more samples than units"):
        D.total_correlation(z[:2], "gaussian")  # batch 2: was +inf
