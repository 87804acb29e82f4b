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


def sufficient_statistics(X, resp, covariance_type: str, means=None) -> dict:
    """Sums over samples for the M-step: ``nk``, ``sx`` and the scatter around ``means``.

    With ``means=None`` only ``nk`` and ``sx`` are returned (first pass); given the means,
    the centred scatter ``sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T`` (full/tied), or its
    diagonal (diag), or its trace (spherical), is returned too (second pass). full/tied
    use the centred differences (no cancellation); diag/spherical use GEMMs on data the
    estimator has centred globally. Sums (not means), so that chunks and processes can
    be added up (all-reduced).
    """
    stats = {"nk": resp.sum(0), "sx": resp.T @ X}
    if means is None:
        return stats
    if covariance_type in ("full", "tied"):
        diff = X[None] - means[:, None]  # (K, N, D)
        scatter = (diff * resp.T[..., None]).mT @ diff  # (K, D, D)
        stats["scatter"] = scatter.sum(0) if covariance_type == "tied" else scatter
    else:  # GEMMs: sum_n r (x - mu)^2 = r^T x^2 - 2 mu r^T x + n_k mu^2 (data centred)
        s = resp.T @ (X * X) - 2 * means * stats["sx"] + stats["nk"][:, None] * means**2
        s = s.clamp_min(0)
        stats["scatter"] = s if covariance_type == "diag" else s.sum(1)
    return stats


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
