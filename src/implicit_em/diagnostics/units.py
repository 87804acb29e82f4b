r"""Unit health: dead units (by variance and by activation rate), L0 sparsity, variances.

A unit is a column of an activation matrix ``A`` of shape ``(n_samples, n_units)``.
"""

from __future__ import annotations

import torch

from .._checks import TensorLike
from ._inputs import as_matrix


def unit_variance(activations: TensorLike) -> torch.Tensor:
    """Per-unit variance over samples (unbiased), shape ``(n_units,)``, float64."""
    return as_matrix(activations).var(dim=0).double()


def dead_by_variance(activations: TensorLike, tau: float = 1e-6) -> torch.Tensor:
    """Bool ``(n_units,)``: ``Var(a_j) < tau`` -- the unit carries (almost) no information."""
    return unit_variance(activations) < tau


def activation_rate(activations: TensorLike, threshold: float = 0.0) -> torch.Tensor:
    """Per-unit fraction of samples with ``a_j > threshold``, shape ``(n_units,)``."""
    return (as_matrix(activations) > threshold).float().mean(dim=0).double()


def dead_by_activity(
    activations: TensorLike, p: float = 0.01, threshold: float = 0.0
) -> torch.Tensor:
    """Bool ``(n_units,)``: the unit is active (``a_j > threshold``) on fewer than ``p`` of
    the inputs. For ReLU units this is the classic "dead unit"."""
    if not 0 <= p <= 1:
        raise ValueError(f"p must lie in [0, 1], got {p!r}")
    return activation_rate(activations, threshold) < p


def l0_sparsity(activations: TensorLike, threshold: float = 0.0) -> float:
    """Fraction of entries with ``|a| <= threshold`` (0 = dense, 1 = all zero)."""
    return _l0(as_matrix(activations), threshold)


def _l0(a: torch.Tensor, threshold: float) -> float:
    if threshold == 0:
        return 1.0 - float(torch.count_nonzero(a)) / a.numel()
    return float((a.abs() <= threshold).sum()) / a.numel()


def unit_health(
    activations: TensorLike, *, tau: float = 1e-6, p: float = 0.01, threshold: float = 0.0
) -> dict:
    """Summary of unit health.

    Returns:
        ``n_units``, ``dead_variance`` / ``dead_activity`` (counts) and their fractions,
        ``l0_sparsity``, ``active_rate_mean``, and the min/median/mean/max unit variance.

    Examples:
        >>> a = torch.relu(torch.randn(1000, 4) + torch.tensor([0.0, 0.0, -50.0, 0.0]))
        >>> unit_health(a)["dead_activity"]
        1
    """
    a = as_matrix(activations)
    var = a.var(dim=0).double()  # torch's var is a stable two-pass reduction
    rate = (a > threshold).float().mean(dim=0).double()
    dead_var = int((var < tau).sum())
    dead_act = int((rate < p).sum())
    k = a.shape[1]
    return {
        "n_units": k,
        "dead_variance": dead_var,
        "dead_variance_fraction": dead_var / k,
        "dead_activity": dead_act,
        "dead_activity_fraction": dead_act / k,
        "l0_sparsity": _l0(a, threshold),
        "active_rate_mean": float(rate.mean()),
        "variance_min": float(var.min()),
        "variance_median": float(var.median()),
        "variance_mean": float(var.mean()),
        "variance_max": float(var.max()),
    }
