r"""Xu & Jordan (1996) for Gaussian mixtures: an EM step for the means is a gradient step.

With energies ``d_nj = -log pi_j - log N(x_n | mu_j, Sigma_j)``
(:func:`gaussian_mixture_energies`, the mixture's own log-density
:func:`implicit_em.mixture.gaussian.log_gaussian_prob`), ``l = sum_n log sum_j
exp(-d_nj)`` is the log-likelihood, ``responsibilities(d)`` the E-step, and

    mu_j + (Sigma_j / N_j) dl/dmu_j  =  sum_n r_nj x_n / N_j       (the EM mean update)

:func:`implicit_em.identities.em_step_gradient_error` measures the two sides' gap.
"""

from __future__ import annotations

import torch

from .._checks import check_same_dtype, check_tensor
from ..lse import lse_objective, responsibilities
from .gaussian import COVARIANCES, log_gaussian_prob

__all__ = ["em_mean_step", "gaussian_mixture_energies", "preconditioned_gradient_step"]


def _check_gmm(x, means, covariances, weights):
    check_tensor(x, "x", min_ndim=2)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (n_samples, n_features), got {tuple(x.shape)}")
    n, dim = x.shape
    if n == 0 or dim == 0:
        raise ValueError(f"x needs at least one sample and one feature, got shape {(n, dim)}")
    check_same_dtype(x=x, means=means, covariances=covariances, weights=weights)
    k = means.shape[0] if isinstance(means, torch.Tensor) and means.ndim == 2 else None
    shapes = {
        "means": (means, (k, dim)),
        "covariances": (covariances, (k, dim, dim)),
        "weights": (weights, (k,)),
    }
    for name, (t, shape) in shapes.items():
        check_tensor(t, name)
        if k is None or tuple(t.shape) != shape:
            raise ValueError(
                f"{name} must have shape {shape if k else '(n_components, ...)'} for x of "
                f"shape {(n, dim)}, got {tuple(t.shape)}"
            )
    for name, t in (("x", x), ("means", means), ("covariances", covariances)):
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} must be finite")
    if (weights <= 0).any() or abs(float(weights.sum()) - 1) > 1e-6:
        raise ValueError("weights must be positive and sum to 1")
    info = torch.linalg.cholesky_ex(covariances).info
    if (info > 0).any():
        j = int(torch.nonzero(info)[0])
        raise ValueError(
            f"covariances[{j}] is not positive definite; add a small multiple of the identity "
            "(a covariance floor such as reg_covar) or scale the data"
        )


def gaussian_mixture_energies(
    x: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    r"""Energies ``d_nj = -log pi_j - log N(x_n | mu_j, Sigma_j)`` of a Gaussian mixture.

    With these, ``lse_objective(d).sum()`` is the mixture log-likelihood and
    ``responsibilities(d)`` is the E-step.

    Shape:
        ``x``: ``(N, D)``, ``means``: ``(K, D)``, ``covariances``: ``(K, D, D)``,
        ``weights``: ``(K,)``; output ``(N, K)``.
    """
    _check_gmm(x, means, covariances, weights)
    full = COVARIANCES["full"]
    d = -(log_gaussian_prob(x, means, full.precision_cholesky(covariances), full) + weights.log())
    if not bool(torch.isfinite(d).all()):
        raise ValueError(
            f"x lies so far from the components (max |x| = {float(x.abs().max()):.3g}) that "
            f"the energies overflow {x.dtype}; rescale x or use float64"
        )
    return d


def em_mean_step(
    x: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    r"""One explicit EM update of the means: ``mu_j' = sum_n r_nj x_n / N_j``.

    The E-step ``r = responsibilities(d)`` is computed explicitly here; covariances and
    weights are held fixed. Shape: as :func:`gaussian_mixture_energies`; output ``(K, D)``.

    Raises:
        ValueError: a component takes no responsibility (``N_j = 0``, e.g. ``x`` far
            from its mean), so its update is undefined.
    """
    r = responsibilities(gaussian_mixture_energies(x, means, covariances, weights).detach())
    return (r.T @ x) / _counts(r.sum(0))[:, None]


def _counts(n_j: torch.Tensor) -> torch.Tensor:
    """The soft counts ``N_j``, refused where one is 0: that mean's update is 0 / 0."""
    empty = (n_j <= 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(
            f"component(s) {empty} take no responsibility for any row of x (N_j = 0), so "
            "their mean update is 0 / 0: x lies too far from those means; place the means "
            "on the data (or centre and scale x)"
        )
    return n_j


def preconditioned_gradient_step(
    x: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    r"""Gradient step on the log-likelihood, preconditioned by ``Sigma_j / N_j``.

    ``mu_j' = mu_j + (Sigma_j / N_j) dl/dmu_j`` where ``l = sum_n log sum_j exp(-d_nj)``.
    Both ``dl/dmu`` and ``N_j = -sum_n dl/dd_nj`` come from one autograd call: the
    responsibilities are never computed separately. Xu & Jordan (1996) show this equals
    :func:`em_mean_step`.
    """
    mu = means.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        d = gaussian_mixture_energies(x, mu, covariances, weights)
        g_mu, g_d = torch.autograd.grad(lse_objective(d, reduction="sum"), (mu, d))
    n_j = _counts(-g_d.sum(0))  # (K,) soft counts, read off the gradient
    step = torch.einsum("kij,kj->ki", covariances, g_mu) / n_j[:, None]
    return means + step
