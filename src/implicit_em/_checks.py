"""Input checks shared by the public entry points.

Every public function validates its inputs with these helpers so that bad input fails
early with a message that states what was expected, what was given, and what to do.
"""

from __future__ import annotations

import math

import torch

REDUCTIONS = ("none", "mean", "sum")


def check_tensor(x, name: str, *, floating: bool = True, min_ndim: int = 0) -> torch.Tensor:
    """Return ``x`` if it is a (floating-point) tensor with at least ``min_ndim`` dims."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {x.dtype}; "
            f"convert it with {name}.float() or {name}.double()"
        )
    if x.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimension(s), got shape {tuple(x.shape)}"
        )
    return x


def normalize_dim(dim: int, ndim: int, name: str = "dim") -> int:
    """Map a possibly negative ``dim`` into ``[0, ndim)`` or raise ``ValueError``."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{name} must be an int, got {type(dim).__name__}")
    if not -ndim <= dim < ndim:
        raise ValueError(
            f"{name}={dim} is out of range for a tensor with {ndim} dimension(s); "
            f"expected {name} in [{-ndim}, {ndim - 1}]"
        )
    return dim % ndim


def check_positive(value: float, name: str) -> float:
    """Return ``value`` as float if it is finite and > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return v


def check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def reduce(x: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply a torch-style ``reduction`` ("none" | "mean" | "sum")."""
    check_reduction(reduction)
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    return x
