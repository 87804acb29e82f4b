r"""Functional core of Gaussian mixtures in torch (batched over components, no loops).

Conventions follow scikit-learn so that fitted attributes are interchangeable:

========== ======================= ====================== =========================
type       covariances             precisions_cholesky    ``P`` with precision = P P^T
========== ======================= ====================== =========================
full       ``(K, D, D)``           ``(K, D, D)`` upper    ``y = (x - mu_k) @ P_k``
tied       ``(D, D)``              ``(D, D)`` upper       shared by all components
diag       ``(K, D)``              ``(K, D)``             ``P = diag(1 / sqrt(var))``
spherical  ``(K,)``                ``(K,)``               ``P = I / sqrt(var)``
========== ======================= ====================== =========================

``log N(x | mu_k, Sigma_k) = -D/2 log 2 pi + log det P_k - 1/2 ||(x - mu_k) P_k||^2``;
the ``log det P_k`` term is the volume term that keeps components from collapsing.
"""

from __future__ import annotations

import math

import torch

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


class SingularCovarianceError(ValueError):
    """A covariance matrix is not positive definite."""


def precision_cholesky(covariances: torch.Tensor, covariance_type: str) -> torch.Tensor:
    """``P`` with ``P P^T = Sigma^{-1}`` (upper triangular for full/tied)."""
    if covariance_type in ("full", "tied"):
        chol, info = torch.linalg.cholesky_ex(covariances)
        if bool((info > 0).any()):
            raise SingularCovarianceError(
                "a fitted covariance matrix is not positive definite: increase reg_covar, use "
                "fewer components, or scale the data (e.g. standardise the features)"
            )
        eye = torch.eye(covariances.shape[-1], dtype=covariances.dtype, device=covariances.device)
        return torch.linalg.solve_triangular(chol, eye.expand_as(chol), upper=False).mT
    if bool((covariances <= 0).any()):
        raise SingularCovarianceError(
            "a fitted variance is <= 0: increase reg_covar, use fewer components, or scale the data"
        )
    return covariances.rsqrt()


def covariances_from_precision_cholesky(p: torch.Tensor, covariance_type: str) -> torch.Tensor:
    """Inverse of :func:`precision_cholesky`: ``Sigma = (P P^T)^{-1}``."""
    if covariance_type in ("full", "tied"):
        eye = torch.eye(p.shape[-1], dtype=p.dtype, device=p.device).expand_as(p)
        inv = torch.linalg.solve_triangular(p, eye, upper=True)  # P^{-1}
        return inv.mT @ inv
    return 1.0 / p**2


def log_det_cholesky(p: torch.Tensor, covariance_type: str, n_features: int) -> torch.Tensor:
    """``log det P`` per component (a scalar for tied)."""
    if covariance_type in ("full", "tied"):
        return torch.log(torch.diagonal(p, dim1=-2, dim2=-1)).sum(-1)
    if covariance_type == "diag":
        return torch.log(p).sum(-1)
    return n_features * torch.log(p)


def log_gaussian_prob(X, means, p, covariance_type: str) -> torch.Tensor:
    """``log N(x_n | mu_k, Sigma_k)``, shape ``(N, K)``.

    diag/spherical/tied use matrix products (the E-step is two GEMMs); full uses one
    batched product per component.
    """
    d = X.shape[1]
    log_det = log_det_cholesky(p, covariance_type, d)
    if covariance_type == "full":
        y = torch.einsum("nd,kde->kne", X, p) - torch.einsum("kd,kde->ke", means, p)[:, None]
        maha = (y * y).sum(-1).T
    elif covariance_type == "tied":
        y, m = X @ p, means @ p
        maha = (y * y).sum(1, keepdim=True) - 2 * y @ m.T + (m * m).sum(1)
    elif covariance_type == "diag":
        prec = p**2  # (K, D)
        maha = (X * X) @ prec.T - 2 * X @ (means * prec).T + (means**2 * prec).sum(1)
    else:
        prec = p**2  # (K,)
        maha = (
            (X * X).sum(1, keepdim=True) * prec
            - 2 * (X @ means.T) * prec
            + (means**2).sum(1) * prec
        )
    return -0.5 * (d * math.log(2 * math.pi) + maha.clamp_min(0)) + log_det


def parameters_from_statistics(stats: dict, n_samples, reg_covar: float, covariance_type: str):
    """Weights, means and covariances (with ``reg_covar`` on the diagonal) from sums."""
    nk = stats["nk"] + 10 * torch.finfo(stats["nk"].dtype).eps
    means = stats["sx"] / nk[:, None]
    weights = nk / n_samples
    if "scatter" not in stats:
        return weights, means, None
    d = means.shape[1]
    s = stats["scatter"]
    if covariance_type == "full":
        eye = torch.eye(d, dtype=s.dtype, device=s.device)
        cov = s / nk[:, None, None] + reg_covar * eye
    elif covariance_type == "tied":
        cov = s / n_samples + reg_covar * torch.eye(d, dtype=s.dtype, device=s.device)
    elif covariance_type == "diag":
        cov = s / nk[:, None] + reg_covar
    else:
        cov = s / (nk * d) + reg_covar
    return weights, means, cov


def n_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Free parameters of the model (for BIC/AIC), as in scikit-learn."""
    k, d = n_components, n_features
    cov = {
        "full": k * d * (d + 1) / 2,
        "tied": d * (d + 1) / 2,
        "diag": k * d,
        "spherical": k,
    }[covariance_type]
    return int(cov + k * d + k - 1)


# ----------------------------------------------------------------------------- GEMM form
# With a per-sample design row f(x) = [second-order terms, x, 1], the E-step (weighted
# log-densities of all components) and the M-step (counts, first and second moment
# sums) are each one matrix product against the precomputed design matrix F.


def design_matrix(X: torch.Tensor, covariance_type: str) -> torch.Tensor:
    """``F = [q(x), x, 1]``: ``q = x^2`` (diag), ``|x|^2`` (spherical), ``x_i x_j`` for
    ``i <= j`` (full/tied). Shape ``(N, Q + D + 1)``."""
    if covariance_type == "diag":
        q = X * X
    elif covariance_type == "spherical":
        q = (X * X).sum(1, keepdim=True)
    else:
        i, j = torch.triu_indices(X.shape[1], X.shape[1], device=X.device)
        q = X[:, i] * X[:, j]
    return torch.cat([q, X, torch.ones_like(X[:, :1])], 1)


def _quadratic_weights(p: torch.Tensor, covariance_type: str, k: int) -> torch.Tensor:
    """Per component, the weights of ``q(x)`` in ``x^T Sigma^{-1} x``: ``(K, Q)``."""
    if covariance_type == "diag":
        return p**2
    if covariance_type == "spherical":
        return (p**2)[:, None]
    prec = p @ p.mT
    if covariance_type == "tied":
        prec = prec.expand(k, *prec.shape)
    d = prec.shape[-1]
    i, j = torch.triu_indices(d, d, device=p.device)
    return prec[:, i, j] * torch.where(i == j, 1.0, 2.0).to(p.dtype)


def _precision_times_means(p, means, covariance_type):
    if covariance_type == "diag":
        return p**2 * means
    if covariance_type == "spherical":
        return (p**2)[:, None] * means
    prec = p @ p.mT
    if covariance_type == "tied":
        return means @ prec  # prec is symmetric
    return torch.einsum("kde,ke->kd", prec, means)


def design_weights(means, p, log_weights, covariance_type: str) -> torch.Tensor:
    """``W`` with ``F @ W^T = log pi_k + log N(x | mu_k, Sigma_k)``: ``(K, Q + D + 1)``.

    ``-1/2 (x - mu)^T A (x - mu) = -1/2 q(x) . a + x . A mu - 1/2 mu^T A mu``; the
    constant column carries ``log det P + log pi - D/2 log 2 pi``.
    """
    k, d = means.shape
    a_mu = _precision_times_means(p, means, covariance_type)
    const = (
        log_det_cholesky(p, covariance_type, d)
        + log_weights
        - 0.5 * (d * math.log(2 * math.pi) + (means * a_mu).sum(1))
    )
    quad = _quadratic_weights(p, covariance_type, k)
    return torch.cat([-0.5 * quad, a_mu, const.expand(k)[:, None]], 1)


def normalize_log_prob(wlp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log sum_k exp(wlp), responsibilities)`` along dim 1, without subnormals.

    Exponents are clamped at ``log(tiny) + 1`` (about -86 in float32): responsibilities
    below ``~1e-37`` become that floor instead of subnormal numbers, whose arithmetic is
    ~10x slower on CPUs. The effect on the log-likelihood is below ``K * 1e-37``.
    """
    m = wlp.amax(1, keepdim=True)
    floor = math.log(torch.finfo(wlp.dtype).tiny) + 1.0
    e = torch.exp((wlp - m).clamp_min_(floor))
    total = e.sum(1, keepdim=True)
    return (m + torch.log(total)).squeeze(1), e.div_(total)


def split_moments(sums: torch.Tensor, n_features: int) -> dict:
    """``{"nk", "sx", "sq"}`` from ``R^T F`` (counts, ``sum r x``, ``sum r q(x)``)."""
    d = n_features
    return {"nk": sums[:, -1], "sx": sums[:, -1 - d : -1], "sq": sums[:, : -1 - d]}


def scatter_from_moments(stats: dict, covariance_type: str) -> torch.Tensor:
    """Centred scatter ``sum_n r_nk (x - mu_k)(x - mu_k)^T`` from the moment sums
    (``sum r x x^T - n_k mu_k mu_k^T``), in the shape :func:`parameters_from_statistics`
    expects. Exact in exact arithmetic; the estimator centres the data first."""
    nk = stats["nk"] + 10 * torch.finfo(stats["nk"].dtype).eps
    sx, sq = stats["sx"], stats["sq"]
    if covariance_type == "diag":
        return (sq - sx**2 / nk[:, None]).clamp_min(0)
    if covariance_type == "spherical":
        return (sq[:, 0] - (sx**2).sum(1) / nk).clamp_min(0)
    d = sx.shape[1]
    i, j = torch.triu_indices(d, d, device=sx.device)
    m = sq.new_zeros(sq.shape[0], d, d)
    m[:, i, j] = sq
    m[:, j, i] = sq
    scatter = m - sx[:, :, None] * sx[:, None, :] / nk[:, None, None]
    return scatter.sum(0) if covariance_type == "tied" else scatter
