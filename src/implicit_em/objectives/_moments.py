"""Batch moments for the objectives, optionally gathered across processes.

Global moments are all-reduced sums divided by the all-reduced count, through
``torch.distributed.nn.functional.all_reduce`` (differentiable). Every rank then holds
the same loss; its backward sums the loss gradient over ranks, so each rank's parameter
gradient is ``world_size`` times its own share and DDP's average over ranks equals the
one-process gradient on the concatenated batch (the silent ``1/world_size`` bug of
non-differentiable gathers is avoided).
"""

from __future__ import annotations

import warnings

import torch

from .._checks import check_finite, check_tensor
from .._distributed import world_size


def as_batch(z, name: str = "z", min_rows: int = 2) -> torch.Tensor:
    """``z`` as a finite float32/float64 ``(batch, features)`` tensor with ``batch >= 2``.

    The one validation every objective runs on its batch (one reduction, see
    :func:`implicit_em._checks.check_finite`): a tensor of floats, not on ``meta``, 2-D,
    enough rows, no NaN/inf, no values whose batch second moments overflow. Half
    precision is computed in float32.
    """
    check_tensor(z, name, min_ndim=2)
    if z.ndim != 2:
        raise ValueError(f"{name} must be 2-D (batch, features), got shape {tuple(z.shape)}")
    if z.shape[0] < min_rows:
        raise ValueError(
            f"{name} needs a batch of at least {min_rows} samples for batch statistics, "
            f"got {z.shape[0]}"
        )
    if z.dtype in (torch.float16, torch.bfloat16):
        z = z.float()  # statistics in float32
    check_finite(z, name, square_rows=z.shape[0])
    return z


def all_reduce_sum(t: torch.Tensor, gather: bool) -> torch.Tensor:
    if gather and world_size() > 1:
        import warnings

        from torch.distributed.nn.functional import all_reduce

        with warnings.catch_warnings():  # deprecated name, same differentiable collective
            warnings.simplefilter("ignore", FutureWarning)
            return all_reduce(t)
    return t


class Gram(torch.autograd.Function):
    """``X^T X`` whose backward is one GEMM, ``X (G + G^T)`` (autograd's generic matmul
    backward computes two products for the two operands)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.T @ x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return x @ (grad + grad.T)


def moments(
    z: torch.Tensor, gather: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(n, mean, cov)`` of the rows of ``z`` (unbiased covariance, ``(D, D)``).

    With ``gather=True`` under ``torch.distributed`` they are the moments of all ranks'
    batches together.
    """
    n = all_reduce_sum(torch.tensor(float(z.shape[0]), dtype=z.dtype, device=z.device), gather)
    mean = all_reduce_sum(z.sum(0), gather) / n
    zc = z - mean
    cov = all_reduce_sum(Gram.apply(zc), gather) / (n - 1)
    return n, mean, cov


def variances(z: torch.Tensor, gather: bool = False) -> torch.Tensor:
    """The unbiased per-feature variances ``(D,)`` of the rows of ``z``: the diagonal of
    :func:`moments`' covariance at ``O(n D)``, without the ``(D, D)`` matrix."""
    n = all_reduce_sum(torch.tensor(float(z.shape[0]), dtype=z.dtype, device=z.device), gather)
    zc = z - all_reduce_sum(z.sum(0), gather) / n
    return all_reduce_sum((zc * zc).sum(0), gather) / (n - 1)


def add_to_diagonal(c: torch.Tensor, value: float) -> torch.Tensor:
    """``C + value I`` for a ``(D, D)`` matrix: one copy and an in-place add on its
    diagonal (an identity matrix, its scaling and a full sum were three ``D^2`` passes)."""
    out = c.clone()
    out.diagonal().add_(value)
    return out


def correlation(cov: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """``C_ij / sqrt((C_ii + eps) (C_jj + eps))`` for ``(..., D, D)`` covariances: the one
    correlation helper of the objectives and the diagnostics."""
    sd = torch.sqrt(torch.diagonal(cov, dim1=-2, dim2=-1) + eps)
    return cov / sd[..., :, None] / sd[..., None, :]


def off_diagonal_sq(c: torch.Tensor) -> torch.Tensor:
    """``sum_{i != j} C_ij^2``; a ``ValueError`` when it overflows ``c``'s dtype (the
    squares of covariance entries past ~1.8e19 in float32), never a silent inf or NaN."""
    off = c.clone()  # the diagonal zeroed, not sum(C^2) - sum(diag^2): no cancellation
    off.diagonal().zero_()
    total = (off * off).sum()
    if not torch.isfinite(total.detach()):
        big = float(off.detach().abs().max())
        raise ValueError(
            f"the off-diagonal penalty overflows {c.dtype}: covariance entries reach "
            f"{big:.3g} and their squares do not fit; standardise z first, or use the "
            "scale-free correlation form (correlation=True, or the decorrelation term)"
        )
    return total


def warn_constant(var: torch.Tensor, tol: float = 1e-12, eps: float | None = None) -> None:
    """Warn (once per call) when some features have (almost) zero variance; with
    ``eps=0`` (no variance floor) such features are an error: their log, square root or
    correlation is undefined."""
    const = int((var.detach() <= tol).sum())
    if const and eps == 0:
        raise ValueError(
            f"{const} feature(s) are constant over the batch and eps=0, so their log / "
            "square root / correlation is undefined: pass eps > 0 (a variance floor)"
        )
    if const:
        warnings.warn(
            f"{const} feature(s) are constant over the batch; their terms use a variance "
            "floor (the loss stays finite)",
            RuntimeWarning,
            stacklevel=3,
        )
