r"""Entropy terms: responsibility-entropy regularisers and marginal entropy estimators."""

from __future__ import annotations

import math

import torch

from ._moments import as_batch


def responsibility_entropy(z, mode: str = "sharpen", dim: int = -1):
    r"""Entropy regulariser on ``r = softmax(-z)`` (``z`` as distances).

    ``mode="sharpen"``: mean per-input entropy ``mean_n H(r_n)`` (minimise it for
    confident assignments). ``mode="balance"``: ``-H(mean_n r_n)`` (minimise it for
    balanced use of all units -- against winner-take-all).
    """
    z = as_batch(z) if z.ndim == 2 else z
    log_r = torch.log_softmax(-z, dim)
    if mode == "sharpen":
        return -(log_r.exp() * log_r).sum(dim).mean()
    if mode == "balance":
        usage = log_r.exp().movedim(dim, -1).reshape(-1, z.shape[dim]).mean(0)
        return (usage * torch.log(usage.clamp_min(1e-30))).sum()
    raise ValueError(f"mode must be 'sharpen' or 'balance', got {mode!r}")


def gaussian_entropy(z):
    r"""Per-unit Gaussian entropy ``1/2 log(2 pi e Var(z_j))``, shape ``(K,)``."""
    z = as_batch(z)
    return 0.5 * torch.log(2 * math.pi * math.e * z.var(0))


def vasicek_entropy(z, m: int | None = None):
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
    idx = torch.arange(n, device=z.device)
    up, lo = x[(idx + m).clamp_max(n - 1)], x[(idx - m).clamp_min(0)]
    spacing = (up - lo).clamp_min(torch.finfo(z.dtype).tiny)
    return torch.log(n / (2 * m) * spacing).mean(0)
