r"""Entropy terms with gradients: responsibility-entropy regularisers and per-unit entropy
estimates (Gaussian, m-spacing). The detached estimators of joint entropy and total
correlation are measurements: :mod:`implicit_em.diagnostics.dependence`."""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn
from typing_extensions import override

from .._checks import check_finite, check_tensor, normalize_dim
from ..lse import above_subnormal
from ._moments import as_batch, warn_constant

_HALF = (torch.float16, torch.bfloat16)


def responsibility_entropy(z: torch.Tensor, mode: str = "sharpen", dim: int = -1) -> torch.Tensor:
    r"""Entropy regulariser on ``r = softmax(-z)`` (``z`` as distances).

    ``mode="sharpen"``: mean per-input entropy ``mean_n H(r_n)`` (minimise it for
    confident assignments). ``mode="balance"``: ``-H(mean_n r_n)`` (minimise it for
    balanced use of all units -- against winner-take-all).
    """
    check_tensor(z, "z", min_ndim=1)
    z = as_batch(z) if z.ndim == 2 else z.float() if z.dtype in _HALF else z
    if z.ndim != 2:
        check_finite(z, "z")
    dim = normalize_dim(dim, z.ndim)
    if z.shape[dim] == 0:
        raise ValueError(f"z has no alternatives along dim={dim} (shape {tuple(z.shape)})")
    log_r = torch.log_softmax(-z, dim)
    # a responsibility below e * tiny counts as that floor, which moves no sum near 1
    r = above_subnormal(log_r).exp()
    if mode == "sharpen":
        return -(r * log_r).sum(dim).mean()
    if mode == "balance":
        usage = r.movedim(dim, -1).reshape(-1, z.shape[dim]).mean(0)
        return (usage * torch.log(usage.clamp_min(1e-30))).sum()
    raise ValueError(f"mode must be 'sharpen' or 'balance', got {mode!r}")


class ResponsibilityEntropy(nn.Module):
    """Module form of :func:`responsibility_entropy` (``mode``: sharpen | balance)."""

    def __init__(self, mode: str = "sharpen", dim: int = -1):
        super().__init__()
        if mode not in ("sharpen", "balance"):
            raise ValueError(f"mode must be 'sharpen' or 'balance', got {mode!r}")
        self.mode, self.dim = mode, dim

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return responsibility_entropy(z, self.mode, self.dim)

    @override
    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


def gaussian_entropy(z: torch.Tensor) -> torch.Tensor:
    r"""Per-unit Gaussian entropy ``1/2 log(2 pi e Var(z_j))``, shape ``(K,)``.

    A constant unit has entropy ``-inf``; it gets the floor ``Var = tiny`` of the dtype
    instead (finite, zero gradient) and a ``RuntimeWarning``.
    """
    z = as_batch(z)
    var = z.var(0)
    tiny = torch.finfo(var.dtype).tiny
    warn_constant(var, tiny)
    return 0.5 * torch.log(2 * math.pi * math.e * var.clamp_min(tiny))


def vasicek_entropy(z: torch.Tensor, m: int | None = None) -> torch.Tensor:
    r"""Per-unit m-spacing (Vasicek 1976) entropy estimate, shape ``(K,)``:

    ``H = 1/n sum_i log(n / (2m) (x_(i+m) - x_(i-m)))`` with order statistics clamped at
    the ends; ``m`` defaults to ``round(sqrt(n))``. Consistent for any density.
    """
    z = as_batch(z, min_rows=3)
    n = z.shape[0]
    m = m or max(1, round(math.sqrt(n)))
    if not 1 <= m < n:
        raise ValueError(f"m must lie in [1, {n - 1}], got {m}")
    x = torch.sort(z, 0).values
    if bool((x[-1] == x[0]).any()):
        warnings.warn(
            "constant unit(s): their differential entropy is -inf; the estimate uses the "
            "smallest positive spacing instead (finite, but meaningless for those units)",
            RuntimeWarning,
            stacklevel=2,
        )
    idx = torch.arange(n, device=z.device)
    up, lo = x[(idx + m).clamp_max(n - 1)], x[(idx - m).clamp_min(0)]
    spacing = (up - lo).clamp_min(torch.finfo(z.dtype).tiny)
    return torch.log(n / (2 * m) * spacing).mean(0)
