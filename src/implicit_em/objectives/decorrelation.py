r"""Decorrelation of batch-normalised features (Barlow Twins style)."""

from __future__ import annotations

from typing import Literal, overload

import torch
from torch import nn
from typing_extensions import override

from .._checks import check_number
from .._distributed import world_size
from ._moments import (
    Gram,
    all_reduce_sum,
    as_batch,
    correlation,
    moments,
    off_diagonal_sq,
    warn_constant,
)


def decorrelation_loss(
    z: torch.Tensor, eps: float = 1e-6, gather_distributed: bool = False
) -> torch.Tensor:
    r"""Single view: ``||Corr(z) - I||_F^2`` over off-diagonal entries (linear redundancy).

    ``z``: ``(n, D)``. A batch narrower than its features (``2 (n - 1) <= D``, one process)
    takes the rows' route, :func:`_by_rows`: the same number at ``O(n^2 D)`` instead of
    ``O(n D^2)`` (at ``D = 2000``, ``n = 256``: a sixth of the work).
    """
    eps = check_number(eps, "eps (the variance floor)", strict=False)
    z = as_batch(z)
    n, d = z.shape
    if 2 * (n - 1) <= d and not (gather_distributed and world_size() > 1):
        return _by_rows(z, eps)
    cov = moments(z, gather_distributed)[2]
    if eps == 0:
        warn_constant(torch.diagonal(cov), eps=eps)  # 0 / 0 in the correlation
    return off_diagonal_sq(correlation(cov, eps))


def _by_rows(z: torch.Tensor, eps: float) -> torch.Tensor:
    r"""``sum_{i != j} Corr_ij^2`` through the ``(n, n)`` Gram matrix of the standardised
    rows: with ``a = (z - mean) / sqrt(var + eps)``, ``Corr = a^T a / (n - 1)`` and
    ``||a^T a||_F = ||a a^T||_F``, so the sum is ``||a a^T||_F^2 / (n - 1)^2 -
    sum_i (var_i / (var_i + eps))^2``. No cancellation to fear: ``Corr`` has rank
    ``< n``, so the off-diagonal sum is at least ``D (D - n + 1) / (n - 1)``, no smaller
    than the diagonal's ``D`` when ``2 (n - 1) <= D``."""
    n = z.shape[0]
    zc = z - z.mean(0)
    var = (zc * zc).sum(0) / (n - 1)
    if eps == 0:
        warn_constant(var, eps=eps)
    a = zc / torch.sqrt(var + eps)
    g = Gram.apply(a.T) / (n - 1)  # (n, n)
    on = var / (var + eps)
    return (g * g).sum() - (on * on).sum()


@overload
def cross_decorrelation_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    lam: float = ...,
    eps: float = ...,
    gather_distributed: bool = ...,
    return_terms: Literal[False] = ...,
) -> torch.Tensor: ...


@overload
def cross_decorrelation_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    lam: float = ...,
    eps: float = ...,
    gather_distributed: bool = ...,
    *,
    return_terms: Literal[True],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]: ...


@overload
def cross_decorrelation_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    lam: float = ...,
    eps: float = ...,
    gather_distributed: bool = ...,
    return_terms: bool = ...,
) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]: ...


def cross_decorrelation_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    lam: float = 5e-3,
    eps: float = 1e-6,
    gather_distributed: bool = False,
    return_terms: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
    r"""Two views (Barlow Twins): ``sum_i (1 - C_ii)^2 + lam sum_{i != j} C_ij^2`` with
    ``C`` the cross-correlation of the batch-standardised views."""
    lam = check_number(lam, "lam", strict=False)
    eps = check_number(eps, "eps (the variance floor)", strict=False)
    z1, z2 = as_batch(z1, "z1"), as_batch(z2, "z2")
    if z1.shape != z2.shape:
        raise ValueError(
            f"z1 and z2 must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    n, m1, c1 = moments(z1, gather_distributed)
    _, m2, c2 = moments(z2, gather_distributed)
    a = (z1 - m1) / torch.sqrt(torch.diagonal(c1) + eps)
    b = (z2 - m2) / torch.sqrt(torch.diagonal(c2) + eps)
    c = all_reduce_sum(a.T @ b, gather_distributed) / (n - 1)
    on = ((1 - torch.diagonal(c)) ** 2).sum()
    off = (c**2).sum() - (torch.diagonal(c) ** 2).sum()
    loss = on + lam * off
    return (loss, {"on_diag": on.detach(), "off_diag": off.detach()}) if return_terms else loss


class CrossDecorrelation(nn.Module):
    """Module form of :func:`cross_decorrelation_loss`: ``forward(z1, z2)``; the named
    terms of the last call are in ``.last_terms``."""

    def __init__(self, lam: float = 5e-3, gather_distributed: bool = False):
        super().__init__()
        self.lam, self.gather_distributed = lam, gather_distributed
        self.last_terms: dict = {}

    @override
    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        loss, self.last_terms = cross_decorrelation_loss(
            z1, z2, self.lam, gather_distributed=self.gather_distributed, return_terms=True
        )
        return loss

    @override
    def extra_repr(self) -> str:
        return f"lam={self.lam}"


class Decorrelation(nn.Module):
    """Module form of :func:`decorrelation_loss`."""

    def __init__(self, gather_distributed: bool = False):
        super().__init__()
        self.gather_distributed = gather_distributed

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return decorrelation_loss(z, gather_distributed=self.gather_distributed)
