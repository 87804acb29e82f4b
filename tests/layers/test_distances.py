"""Layer distances against NumPy formulas; gradcheck."""

import numpy as np
import torch

from implicit_em.layers import (
    euclidean_distances,
    linear_distances,
    mahalanobis_distances,
)

X = torch.randn(7, 5, dtype=torch.float64)


MU = torch.randn(3, 5, dtype=torch.float64)


LOG_P = 0.3 * torch.randn(3, 5, dtype=torch.float64)


def test_distances_match_numpy_formulas():
    x, mu, lp = X.numpy(), MU.numpy(), LOG_P.numpy()
    diff = x[:, None, :] - mu[None]  # (n, K, D)
    np.testing.assert_allclose(
        euclidean_distances(X, MU).numpy(), 0.5 * (diff**2).sum(-1), rtol=1e-12
    )
    want = 0.5 * (np.exp(lp)[None] * diff**2).sum(-1) - 0.5 * lp.sum(1)
    np.testing.assert_allclose(mahalanobis_distances(X, MU, LOG_P).numpy(), want, rtol=1e-10)
    b = np.arange(3.0)
    got = linear_distances(X, MU, torch.as_tensor(b)).numpy()
    np.testing.assert_allclose(got, x @ mu.T + b, rtol=1e-12)
    # mahalanobis with unit precision is the euclidean distance
    torch.testing.assert_close(
        mahalanobis_distances(X, MU, torch.zeros_like(MU)), euclidean_distances(X, MU)
    )


def test_distances_gradcheck():
    x, mu, lp = (t.clone().requires_grad_(True) for t in (X, MU, LOG_P))
    assert torch.autograd.gradcheck(euclidean_distances, (x, mu))
    assert torch.autograd.gradcheck(mahalanobis_distances, (x, mu, lp))
    b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(linear_distances, (x, mu, b))
