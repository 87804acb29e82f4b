r"""Weight-space volume and redundancy terms."""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_tensor


def _weight(w):
    check_tensor(w, "weight", min_ndim=2)
    if w.ndim != 2:
        raise ValueError(f"weight must be 2-D (out, in), got shape {tuple(w.shape)}")
    return w


def weight_orthogonality(w):
    r"""``||W_hat W_hat^T - I||_F^2`` with unit-norm rows ``W_hat`` (row redundancy)."""
    w = _weight(w)
    u = w / w.norm(dim=1, keepdim=True).clamp_min(1e-12)
    g = u @ u.T
    return ((g - torch.eye(g.shape[0], dtype=g.dtype, device=g.device)) ** 2).sum()


def neg_log_abs_det(w):
    r"""``-log|det W|`` of a square ``W``: the exact volume term of the seeds' section 1.2."""
    w = _weight(w)
    if w.shape[0] != w.shape[1]:
        raise ValueError(f"weight must be square, got {tuple(w.shape)}; use neg_log_det_gram")
    return -torch.linalg.slogdet(w)[1]


def neg_log_det_gram(w):
    r"""``-1/2 log det(W W^T)`` (wide, out <= in) or ``-1/2 log det(W^T W)`` (tall)."""
    w = _weight(w)
    g = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    return -0.5 * torch.linalg.slogdet(g)[1]


WEIGHT_TERMS = {
    "orthogonality": weight_orthogonality,
    "neg_log_abs_det": neg_log_abs_det,
    "neg_log_det_gram": neg_log_det_gram,
}


class WeightVolume(nn.Module):
    """Module form of the weight terms: ``forward(weight)`` with ``kind`` one of
    ``"orthogonality"`` | ``"neg_log_abs_det"`` | ``"neg_log_det_gram"``.

    Example:
        >>> layer = nn.Linear(8, 4)
        >>> loss = WeightVolume("neg_log_det_gram")(layer.weight)
    """

    def __init__(self, kind: str = "orthogonality"):
        super().__init__()
        if kind not in WEIGHT_TERMS:
            raise ValueError(f"kind must be one of {tuple(WEIGHT_TERMS)}, got {kind!r}")
        self.kind = kind

    def forward(self, weight):
        return WEIGHT_TERMS[self.kind](weight)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"
