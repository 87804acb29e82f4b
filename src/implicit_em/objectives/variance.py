r"""Variance terms that keep units alive: the ``-sum log Var`` entropy term of claim C12
and a bounded hinge."""

from __future__ import annotations

import torch
from torch import nn
from typing_extensions import override

from .._checks import check_number
from ._moments import as_batch, variances, warn_constant


def log_variance_loss(
    z: torch.Tensor, eps: float = 1e-6, gather_distributed: bool = False
) -> torch.Tensor:
    r"""``-sum_j log(Var(z_j) + eps)`` (the InfoMax marginal-entropy
    term under a Gaussian assumption; claims C12, C13 in :mod:`implicit_em.claims`).

    **Unbounded below**: scaling ``z`` by ``s`` lowers it by ``2 D log s`` without limit,
    so on its own it rewards blowing up the activations' scale; pair it with a weight
    constraint (normalised rows, ``-log|det W|`` with a bounded input) or use
    :func:`variance_hinge`.
    """
    eps = check_number(eps, "eps (the variance floor)", strict=False)
    z = as_batch(z)
    var = variances(z, gather_distributed)
    warn_constant(var, eps=eps)
    return -torch.log(var + eps).sum()


def variance_hinge(
    z: torch.Tensor, gamma: float = 1.0, eps: float = 1e-4, gather_distributed: bool = False
) -> torch.Tensor:
    r"""VICReg-style ``mean_j relu(gamma - sqrt(Var(z_j) + eps))``: bounded below by 0,
    zero once every unit's standard deviation reaches ``gamma``."""
    gamma = check_number(gamma, "gamma")
    eps = check_number(eps, "eps (the variance floor)", strict=False)
    z = as_batch(z)
    var = variances(z, gather_distributed)
    if eps == 0:
        warn_constant(var, eps=eps)  # sqrt(0): an infinite gradient
    return hinge_mean(var, gamma, eps)


def hinge_mean(var: torch.Tensor, gamma: float, eps: float) -> torch.Tensor:
    """``mean_j relu(gamma - sqrt(var_j + eps))``; 0 when there are no units."""
    return torch.relu(gamma - torch.sqrt(var + eps)).sum() / max(var.numel(), 1)


class LogVariance(nn.Module):
    """Module form of :func:`log_variance_loss`."""

    def __init__(self, eps: float = 1e-6, gather_distributed: bool = False):
        super().__init__()
        self.eps, self.gather_distributed = eps, gather_distributed

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return log_variance_loss(z, self.eps, self.gather_distributed)


class VarianceHinge(nn.Module):
    """Module form of :func:`variance_hinge`."""

    def __init__(self, gamma: float = 1.0, eps: float = 1e-4, gather_distributed: bool = False):
        super().__init__()
        self.gamma, self.eps, self.gather_distributed = gamma, eps, gather_distributed

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return variance_hinge(z, self.gamma, self.eps, self.gather_distributed)

    @override
    def extra_repr(self) -> str:
        return f"gamma={self.gamma}"
