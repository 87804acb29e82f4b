r"""InfoMax objectives: Gaussian proxies (log-det of the covariance or correlation) and
the exact Bell-Sejnowski InfoMax of an invertible layer.

For ``z = W x + b`` (claims C12-C14 in :mod:`implicit_em.claims`) InfoMax
maximises ``sum_j H(z_j) - lambda TC(z)``.
Under a Gaussian assumption ``H(z) = 1/2 log det Cov(z) + const`` and
``TC(z) = -1/2 log det Corr(z)``, giving the loss
``-log det C + lambda ||C - diag(C)||_F^2`` (``C``: batch covariance or correlation).
"""

from __future__ import annotations

import math
from typing import Literal, overload

import torch
from torch import nn
from typing_extensions import override

from .._checks import check_number, check_reduction, check_tensor
from ._moments import add_to_diagonal, as_batch, moments, off_diagonal_sq, warn_constant
from ._moments import correlation as corr_of
from .weights import neg_log_abs_det


def ledoit_wolf_shrinkage(z: torch.Tensor) -> float:
    """Ledoit-Wolf shrinkage intensity ``alpha`` in ``(1 - alpha) S + alpha mu I``
    (computed without gradient; ``z``: ``(n, D)``)."""
    return _ledoit_wolf(as_batch(z))


def _ledoit_wolf(z: torch.Tensor) -> float:
    with torch.no_grad():
        x = z - z.mean(0)
        top = x.abs().max() if x.numel() else x.new_zeros(())
        if top > 0:  # alpha is scale-free: computed at unit scale, its 4th powers fit
            x = x / top
        n = x.shape[0]
        s = x.T @ x / n
        mu = torch.trace(s) / s.shape[0]
        delta = ((s - mu * torch.eye(s.shape[0], dtype=s.dtype, device=s.device)) ** 2).sum()
        beta = ((x * x).sum(1) ** 2).sum() / n**2 - (s * s).sum() / n
        if float(delta) <= 0:
            return 1.0
        return float(torch.clamp(beta / delta, 0.0, 1.0))


def shrink(cov: torch.Tensor, z: torch.Tensor, shrinkage: float | str | None) -> torch.Tensor:
    """``(1 - alpha) C + alpha mu I``; ``shrinkage="auto"``: Ledoit-Wolf's ``alpha`` when
    features >= batch (the sample covariance is then singular), else none."""
    d = cov.shape[0]
    if shrinkage == "auto":
        alpha = _ledoit_wolf(z) if d >= z.shape[0] else 0.0
    elif (
        isinstance(shrinkage, (int, float))
        and not isinstance(shrinkage, bool)
        and (0 <= shrinkage <= 1)
    ):
        alpha = float(shrinkage)
    else:
        raise ValueError(f"shrinkage must be 'auto' or a number in [0, 1], got {shrinkage!r}")
    if alpha == 0:
        return cov
    mu = torch.trace(cov) / d
    return (1 - alpha) * cov + alpha * mu * torch.eye(d, dtype=cov.dtype, device=cov.device)


class _LogDetSPD(torch.autograd.Function):
    """``log det C`` of a symmetric positive-definite ``C`` by Cholesky; backward
    ``grad * C^{-1}`` from the same factor, ``C^{-1} = L^{-T} L^{-1}`` (one triangular
    solve and one GEMM: 0.24 ms at ``K = 256`` on 2 cores where LAPACK's
    ``cholesky_inverse`` took 0.35 ms plus a ``tril`` copy). A numerically
    singular ``C`` gets a ridge of ``1e-3 trace(C) / D`` (value and gradient of the
    ridged matrix)."""

    @staticmethod
    def forward(ctx, c):
        chol, info = torch.linalg.cholesky_ex(c)
        if int(info) != 0:
            d = c.shape[0]
            ridge = 1e-3 * torch.trace(c) / d * torch.eye(d, dtype=c.dtype, device=c.device)
            chol = torch.linalg.cholesky(c + ridge)
        ctx.save_for_backward(chol)
        return 2 * torch.log(torch.diagonal(chol)).sum()

    @staticmethod
    def backward(ctx, grad):
        (chol,) = ctx.saved_tensors
        eye = torch.eye(chol.shape[0], dtype=chol.dtype, device=chol.device)
        inv = torch.linalg.solve_triangular(chol, eye, upper=False)  # L^{-1}
        return grad * (inv.mT @ inv)


def log_det_spd(c: torch.Tensor) -> torch.Tensor:
    """``log det C`` of a symmetric positive-definite matrix (differentiable, see
    :class:`_LogDetSPD`)."""
    return _LogDetSPD.apply(c)


@overload
def gaussian_infomax(
    z: torch.Tensor,
    lam: float = ...,
    *,
    correlation: bool = ...,
    shrinkage: float | str | None = ...,
    eps: float = ...,
    gather_distributed: bool = ...,
    return_terms: Literal[False] = ...,
) -> torch.Tensor: ...


@overload
def gaussian_infomax(
    z: torch.Tensor,
    lam: float = ...,
    *,
    correlation: bool = ...,
    shrinkage: float | str | None = ...,
    eps: float = ...,
    gather_distributed: bool = ...,
    return_terms: Literal[True],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]: ...


@overload
def gaussian_infomax(
    z: torch.Tensor,
    lam: float = ...,
    *,
    correlation: bool = ...,
    shrinkage: float | str | None = ...,
    eps: float = ...,
    gather_distributed: bool = ...,
    return_terms: bool = ...,
) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]: ...


def gaussian_infomax(
    z: torch.Tensor,
    lam: float = 0.0,
    *,
    correlation: bool = False,
    shrinkage: float | str | None = "auto",
    eps: float = 1e-6,
    gather_distributed: bool = False,
    return_terms: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
    r"""Gaussian InfoMax loss ``-log det C + lam ||C - diag(C)||_F^2``.

    Args:
        z: ``(batch, features)`` activations (fp16/bf16 are computed in float32).
        lam: weight of the off-diagonal (redundancy / total-correlation) penalty. On the
            covariance it scales with the square of the activations: with large variances
            it dominates the log-det and slows optimisation (measured in experiment
            ``infomax``: 2.1 nats per unit short of the optimum on MNIST). For a
            scale-free redundancy penalty use ``correlation=True`` or
            ``covariance_objective(z, logdet=1, decorrelation=lam)``.
        correlation: use the scale-free correlation matrix (``-log det Corr = 2 TC`` of
            a Gaussian) instead of the covariance.
        shrinkage: ``"auto"`` -- Ledoit-Wolf intensity when ``features >= batch`` (the
            sample covariance is then singular), else none; or a number in ``[0, 1]``.
        eps: variance floor (constant features give a finite loss and a warning).
        gather_distributed: moments over all ranks (see ``objectives._moments``).
        return_terms: also return ``{"logdet": ..., "offdiag": ...}``.

    Returns:
        the scalar loss (and the named terms).

    Examples:
        >>> z = torch.randn(256, 4)
        >>> float(gaussian_infomax(z * 2)) < float(gaussian_infomax(z))  # more volume
        True
    """
    lam = check_number(lam, "lam", strict=False)
    eps = check_number(eps, "eps (the variance floor)", strict=False)
    z = as_batch(z)
    _, _, cov = moments(z, gather_distributed)
    var = torch.diagonal(cov)
    warn_constant(var, eps=eps)
    cov = add_to_diagonal(cov, eps)
    c = shrink(corr_of(cov) if correlation else cov, z, shrinkage)
    logdet = log_det_spd(c)  # numerically singular even after shrinkage: ridge
    if lam or return_terms:  # lam = 0: no penalty to overflow (0 * inf would be NaN)
        offdiag = off_diagonal_sq(c)
        loss = -logdet + lam * offdiag
    else:
        offdiag, loss = None, -logdet
    if return_terms and offdiag is not None:  # computed whenever terms are returned
        return loss, {"logdet": logdet.detach(), "offdiag": offdiag.detach()}
    return loss


SOURCES = ("logistic", "tanh", "extended")


def bell_sejnowski_infomax(
    z: torch.Tensor, weight: torch.Tensor, nonlinearity: str = "logistic", reduction: str = "mean"
) -> torch.Tensor:
    r"""Exact InfoMax of an invertible layer ``z = W x`` (Bell & Sejnowski 1995):

    ``loss = -log|det W| - E[sum_j log g'(z_j)]``

    with ``g`` the logistic (``log g' = -softplus(z) - softplus(-z)``), ``tanh``
    (``log(1 - tanh^2 z)``) or the extended sub/super-Gaussian switch (Lee et al. 1999):
    per unit, ``k_j = sign(E[sech^2 z_j] E[z_j^2] - E[z_j tanh z_j])`` picks the
    super-Gaussian density ``-2 log cosh z`` (``k = 1``) or the sub-Gaussian
    ``-z^2/2 + log cosh z`` (``k = -1``). This is maximum likelihood ICA; the Gaussian
    proxies of :func:`gaussian_infomax` only see second-order structure.

    Shape: ``z``: ``(batch, D)``, ``weight``: ``(D, D)``.
    """
    z = as_batch(z)
    check_tensor(weight, "weight", min_ndim=2)
    if weight.ndim != 2 or weight.shape[0] != weight.shape[1] or weight.shape[0] != z.shape[1]:
        raise ValueError(
            f"weight must be square (D, D) with D = z.shape[1] = {z.shape[1]}, got "
            f"{tuple(weight.shape)}; for non-square layers use log_det_gram"
        )
    check_reduction(reduction)
    if nonlinearity == "logistic":
        log_gp = -nn.functional.softplus(z) - nn.functional.softplus(-z)
    elif nonlinearity == "tanh":
        # log(1 - tanh^2 z) = -2 log cosh z = log 4 - 2 (softplus(2 z) - z)
        log_gp = math.log(4.0) - 2 * (nn.functional.softplus(2 * z) - z)
    elif nonlinearity == "extended":
        with torch.no_grad():
            t = torch.tanh(z)
            k = torch.sign((1 - t**2).mean(0) * (z**2).mean(0) - (z * t).mean(0))
        log_cosh = nn.functional.softplus(2 * z) - z - math.log(2.0)
        log_gp = torch.where(k > 0, -2 * log_cosh, -0.5 * z**2 + log_cosh)
    else:
        raise ValueError(f"nonlinearity must be one of {SOURCES}, got {nonlinearity!r}")
    per_sample = -log_gp.sum(1) + neg_log_abs_det(weight).to(log_gp.dtype)
    if reduction == "mean":
        return per_sample.mean()
    return per_sample.sum() if reduction == "sum" else per_sample


class BellSejnowskiInfoMax(nn.Module):
    """Module form of :func:`bell_sejnowski_infomax`: ``forward(z, weight)``.

    Examples:
        >>> layer = nn.Linear(3, 3, bias=False)
        >>> loss = BellSejnowskiInfoMax("extended")(layer(torch.randn(64, 3)), layer.weight)
        >>> loss.shape
        torch.Size([])
    """

    def __init__(self, nonlinearity: str = "logistic", reduction: str = "mean"):
        super().__init__()
        if nonlinearity not in SOURCES:
            raise ValueError(f"nonlinearity must be one of {SOURCES}, got {nonlinearity!r}")
        check_reduction(reduction)
        self.nonlinearity, self.reduction = nonlinearity, reduction

    @override
    def forward(self, z: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return bell_sejnowski_infomax(z, weight, self.nonlinearity, self.reduction)

    @override
    def extra_repr(self) -> str:
        return f"nonlinearity={self.nonlinearity!r}, reduction={self.reduction!r}"


class GaussianInfoMax(nn.Module):
    """Module form of :func:`gaussian_infomax` (returns the loss; terms in ``.last_terms``)."""

    def __init__(
        self,
        lam: float = 0.0,
        correlation: bool = False,
        shrinkage: float | str | None = "auto",
        gather_distributed: bool = False,
    ):
        super().__init__()
        self.lam, self.correlation = lam, correlation
        self.shrinkage, self.gather_distributed = shrinkage, gather_distributed
        self.last_terms: dict = {}

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        loss, self.last_terms = gaussian_infomax(
            z,
            self.lam,
            correlation=self.correlation,
            shrinkage=self.shrinkage,
            gather_distributed=self.gather_distributed,
            return_terms=True,
        )
        return loss

    @override
    def extra_repr(self) -> str:
        return f"lam={self.lam}, correlation={self.correlation}, shrinkage={self.shrinkage!r}"
