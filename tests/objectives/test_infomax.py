"""InfoMax objectives against NumPy, scikit-learn's Ledoit-Wolf and the Bell-Sejnowski formula."""

import numpy as np
import pytest
import torch
from sklearn.covariance import ledoit_wolf

from helpers import correlated
from implicit_em import objectives as O


def test_gaussian_infomax_matches_numpy():
    z = correlated()
    c = np.cov(z.numpy().T)
    off = c - np.diag(np.diag(c))
    want = -np.linalg.slogdet(c)[1] + 0.3 * (off**2).sum()
    got, terms = O.gaussian_infomax(z, 0.3, shrinkage=0.0, eps=0.0, return_terms=True)
    assert float(got) == pytest.approx(want, rel=1e-10)
    assert float(terms["logdet"]) == pytest.approx(np.linalg.slogdet(c)[1], rel=1e-10)
    corr = O.gaussian_infomax(z, correlation=True, shrinkage=0.0, eps=0.0)
    assert float(corr) == pytest.approx(-np.linalg.slogdet(np.corrcoef(z.numpy().T))[1])


def test_ledoit_wolf_matches_scikit_learn_and_auto_shrinkage_handles_wide_batches():
    z = correlated(n=30, d=10)
    assert O.ledoit_wolf_shrinkage(z) == pytest.approx(ledoit_wolf(z.numpy())[1], rel=1e-8)
    wide = correlated(n=8, d=20)  # features >= batch: sample covariance singular
    loss = O.gaussian_infomax(wide)
    assert torch.isfinite(loss)


def test_bell_sejnowski_matches_its_formula():
    z, w = correlated(d=4), torch.randn(4, 4, dtype=torch.float64)
    zn = z.numpy()
    sig = 1 / (1 + np.exp(-zn))
    want = -np.log(sig * (1 - sig)).sum(1).mean() - np.linalg.slogdet(w.numpy())[1]
    assert float(O.bell_sejnowski_infomax(z, w)) == pytest.approx(want, rel=1e-10)
    t = -np.log(1 - np.tanh(zn) ** 2).sum(1).mean() - np.linalg.slogdet(w.numpy())[1]
    assert float(O.bell_sejnowski_infomax(z, w, "tanh")) == pytest.approx(t, rel=1e-8)
    assert torch.isfinite(O.bell_sejnowski_infomax(z * 100, w, "extended"))
