r"""Weight-space volume and redundancy terms."""

from __future__ import annotations

import math

import torch
from torch import nn
from typing_extensions import override

from .._checks import check_finite, check_tensor


def _weight(w):
    """``w`` checked (2-D, finite, one reduction) and in float32 at least; also ``max |w|``."""
    check_tensor(w, "weight", min_ndim=2)
    if w.ndim != 2:
        raise ValueError(f"weight must be 2-D (out, in), got shape {tuple(w.shape)}")
    if w.dtype in (torch.float16, torch.bfloat16):
        w = w.float()  # determinants need float32 at least
    return w, float(check_finite(w, "weight"))


def _finite_volume(value: torch.Tensor, what: str) -> torch.Tensor:
    if not bool(torch.isfinite(value)):
        raise ValueError(
            f"weight is (numerically) singular, so {what} is +inf: its rows are linearly "
            "dependent. Initialise it with full rank (e.g. nn.init.orthogonal_) or add an "
            "orthogonality term"
        )
    return value


def weight_orthogonality(w: torch.Tensor) -> torch.Tensor:
    r"""``||W_hat W_hat^T - I||_F^2`` with unit-norm rows ``W_hat`` (row redundancy)."""
    w, _ = _weight(w)
    u = w / w.norm(dim=1, keepdim=True).clamp_min(1e-12)
    g = u @ u.T
    return ((g - torch.eye(g.shape[0], dtype=g.dtype, device=g.device)) ** 2).sum()


def neg_log_abs_det(w: torch.Tensor) -> torch.Tensor:
    r"""``-log|det W|`` of a square ``W``: the exact volume term
    (claim C11 in :mod:`implicit_em.claims`)."""
    w, peak = _weight(w)
    if w.shape[0] != w.shape[1]:
        raise ValueError(f"weight must be square, got {tuple(w.shape)}; use neg_log_det_gram")
    if w.shape[0] == 0:
        return w.sum() * 0
    scale = peak if peak > 0 else 1.0  # det(W) = s^D det(W / s): no over/underflow
    value = -torch.linalg.slogdet(w / scale)[1] - w.shape[0] * math.log(scale)
    return _finite_volume(value, "-log|det W|")


def neg_log_det_gram(w: torch.Tensor) -> torch.Tensor:
    r"""``-1/2 log det(W W^T)`` (wide, out <= in) or ``-1/2 log det(W^T W)`` (tall)."""
    w, peak = _weight(w)
    if min(w.shape) == 0:
        return w.sum() * 0
    scale = peak if peak > 0 else 1.0  # the Gram of W / s cannot overflow
    u = w / scale
    g = u @ u.T if w.shape[0] <= w.shape[1] else u.T @ u
    value = -0.5 * torch.linalg.slogdet(g)[1] - g.shape[0] * math.log(scale)
    return _finite_volume(value, "-1/2 log det(W W^T)")


WEIGHT_TERMS = {
    "orthogonality": weight_orthogonality,
    "neg_log_abs_det": neg_log_abs_det,
    "neg_log_det_gram": neg_log_det_gram,
}


class WeightVolume(nn.Module):
    """Module form of the weight terms: ``forward(weight)`` with ``kind`` one of
    ``"orthogonality"`` | ``"neg_log_abs_det"`` | ``"neg_log_det_gram"``.

    Examples:
        >>> layer = nn.Linear(8, 4)
        >>> loss = WeightVolume("neg_log_det_gram")(layer.weight)
    """

    def __init__(self, kind: str = "orthogonality"):
        super().__init__()
        if kind not in WEIGHT_TERMS:
            raise ValueError(f"kind must be one of {tuple(WEIGHT_TERMS)}, got {kind!r}")
        self.kind = kind

    @override
    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return WEIGHT_TERMS[self.kind](weight)

    @override
    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"
