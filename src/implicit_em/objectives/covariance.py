r"""Several covariance-based terms from one batch covariance (one Gram product).

Gaussian InfoMax, decorrelation and the variance terms are all functions of the batch
covariance ``C`` of ``z``; computing it once and backpropagating through it once costs
two ``n x K x K`` products instead of two per term.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn
from typing_extensions import override

from .._checks import check_number
from ._moments import (
    add_to_diagonal,
    as_batch,
    correlation,
    moments,
    off_diagonal_sq,
    warn_constant,
)
from .infomax import log_det_spd, shrink
from .variance import hinge_mean

TERMS = ("logdet", "offdiag", "decorrelation", "log_variance", "variance_hinge")


def covariance_objective(
    z: torch.Tensor,
    *,
    logdet: float = 0.0,
    offdiag: float = 0.0,
    decorrelation: float = 0.0,
    log_variance: float = 0.0,
    variance_hinge: float = 0.0,
    gamma: float = 1.0,
    shrinkage: float | str | None = "auto",
    eps: float = 1e-6,
    gather_distributed: bool = False,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    r"""Weighted sum of covariance terms of ``z`` ``(batch, K)``, from one covariance ``C``:

    ``logdet * (-log det C) + offdiag * ||C - diag C||_F^2 + decorrelation *
    ||Corr - I||_F^2 + log_variance * (-sum_j log(C_jj + eps)) + variance_hinge *
    mean_j relu(gamma - sqrt(C_jj + eps))`` -- the terms of :func:`gaussian_infomax`
    (``logdet=1, offdiag=lam``), :func:`decorrelation_loss`, :func:`log_variance_loss`
    and :func:`variance_hinge` with the same values. Terms with weight 0 are skipped.

    Returns:
        ``(loss, terms)`` with the unweighted terms (detached) for logging.

    Examples:
        >>> z = torch.randn(512, 8)
        >>> loss, terms = covariance_objective(z, logdet=1.0, decorrelation=1.0)
        >>> sorted(terms)
        ['decorrelation', 'logdet']
    """
    eps, gamma = (
        check_number(eps, "eps (the variance floor)", strict=False),
        check_number(gamma, "gamma"),
    )
    z = as_batch(z)
    weights = {
        "logdet": logdet,
        "offdiag": offdiag,
        "decorrelation": decorrelation,
        "log_variance": log_variance,
        "variance_hinge": variance_hinge,
    }
    weights = {k: check_number(w, k, strict=False) for k, w in weights.items()}
    active = {k: w for k, w in weights.items() if w}
    if not active:
        raise ValueError(f"give at least one non-zero weight among {TERMS}")
    _, _, cov = moments(z, gather_distributed)
    var = torch.diagonal(cov)
    warn_constant(var, eps=eps)
    terms = {}
    if "logdet" in active or "offdiag" in active:
        c = shrink(add_to_diagonal(cov, eps), z, shrinkage)
        if "logdet" in active:
            terms["logdet"] = -log_det_spd(c)
        if "offdiag" in active:
            terms["offdiag"] = off_diagonal_sq(c)
    if "decorrelation" in active:
        terms["decorrelation"] = off_diagonal_sq(correlation(cov, eps))
    if "log_variance" in active:
        terms["log_variance"] = -torch.log(var + eps).sum()
    if "variance_hinge" in active:
        terms["variance_hinge"] = hinge_mean(var, gamma, 1e-4)
    loss = cast(torch.Tensor, sum(active[k] * t for k, t in terms.items()))
    return loss, {k: t.detach() for k, t in terms.items()}


class CovarianceObjective(nn.Module):
    """Module form of :func:`covariance_objective`; the last terms are in ``.last_terms``."""

    def __init__(self, gather_distributed: bool = False, **weights: float):
        super().__init__()
        unknown = set(weights) - set(TERMS) - {"gamma", "shrinkage", "eps"}
        if unknown:
            raise ValueError(f"unknown terms {sorted(unknown)}; expected some of {TERMS}")
        self.weights, self.gather_distributed = weights, gather_distributed
        self.last_terms: dict = {}

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        loss, self.last_terms = covariance_objective(
            z, gather_distributed=self.gather_distributed, **self.weights
        )
        return loss

    @override
    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.weights.items())
