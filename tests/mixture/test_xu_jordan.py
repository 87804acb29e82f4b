"""The Xu & Jordan relation: an EM step for Gaussian means is a preconditioned gradient
step (against SciPy's log-density and a NumPy EM step)."""

import numpy as np
import pytest
import torch
from scipy.special import softmax as sp_softmax
from scipy.stats import multivariate_normal

from implicit_em import identities, lse
from implicit_em.mixture import xu_jordan


def _gmm(seed, n=80, dim=3, k=3, dtype=torch.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    mu = x[:k] + 0.1
    b = rng.standard_normal((k, dim, dim))
    cov = b @ b.transpose(0, 2, 1) / dim + 0.5 * np.eye(dim)
    w = rng.dirichlet(np.ones(k))
    return [torch.tensor(a, dtype=dtype) for a in (x, mu, cov, w)]


def test_energies_match_scipy_and_em_step_matches_numpy():
    x, mu, cov, w = _gmm(0)
    d = xu_jordan.gaussian_mixture_energies(x, mu, cov, w)
    want = -np.stack(
        [np.log(w[j].item()) + multivariate_normal(mu[j], cov[j]).logpdf(x) for j in range(3)], 1
    )
    np.testing.assert_allclose(d.numpy(), want, rtol=1e-12)
    r = sp_softmax(-want, axis=1)
    np.testing.assert_allclose(
        xu_jordan.em_mean_step(x, mu, cov, w).numpy(),
        (r.T @ x.numpy()) / r.sum(0)[:, None],
        rtol=1e-12,
    )


@pytest.mark.parametrize("seed", range(5))
def test_em_step_equals_preconditioned_gradient_step(seed):
    args = _gmm(seed, dim=1 + seed % 4, k=1 + seed % 3)
    assert identities.em_step_gradient_error(*args) < 1e-12


def test_unpreconditioned_gradient_step_is_not_em():
    # The check can fail: a plain gradient step (no Sigma/N_j) differs from EM.
    x, mu, cov, w = _gmm(1)
    mu_ = mu.clone().requires_grad_(True)
    d = xu_jordan.gaussian_mixture_energies(x, mu_, cov, w)
    (g,) = torch.autograd.grad(lse.lse_objective(d, reduction="sum"), mu_)
    assert (xu_jordan.em_mean_step(x, mu, cov, w) - (mu + g)).abs().max() > 1e-2


def test_gmm_errors():
    x, mu, cov, w = _gmm(2)
    with pytest.raises(ValueError, match="positive definite"):
        xu_jordan.em_mean_step(x, mu, -cov, w)
    with pytest.raises(ValueError, match="means must have shape"):
        xu_jordan.em_mean_step(x, mu[:, :2], cov, w)
    with pytest.raises(ValueError, match="sum to 1"):
        xu_jordan.em_mean_step(x, mu, cov, w * 2)
    with pytest.raises(ValueError, match="n_samples, n_features"):
        xu_jordan.em_mean_step(x[None], mu, cov, w)
