r"""Distances ``d_nj`` from inputs to a layer's ``K`` alternatives (the functional core).

The responsibilities of an implicit-EM layer are ``r = softmax(-d / T)`` over the
alternatives, and the LSE loss ``-log sum_j exp(-d_j / T)`` has gradient ``r / T``
with respect to ``d`` (:mod:`implicit_em.lse`). Three geometries:

=========================  ==========================================================
``linear_distances``       ``d = x W^T + b``: signed, as in the source notes (a
                           half-space score read as a distance)
``euclidean_distances``    ``d = 1/2 ||x - mu_j||^2``: true prototypes
``mahalanobis_distances``  ``d = 1/2 sum_i p_ji (x_i - mu_ji)^2 - 1/2 sum_i log p_ji``:
                           a diagonal-Gaussian energy with precisions ``p = exp(log_p)``
=========================  ==========================================================

Shapes: ``x (n, D)``; ``weight``/``means``/``log_precision (K, D)``; ``bias (K,)``;
output ``(n, K)``. A wrong shape or dtype of ``x`` is a clear error; NaN/inf in ``x``, or
distances that overflow, are refused (one reduction, on the output).
"""

from __future__ import annotations

import torch

from .._checks import check_finite, check_tensor


def check_x(x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """``x`` must be a 2-D float tensor ``(n, D)`` of the parameters' dtype and width."""
    check_tensor(x, "x")
    if x.ndim != 2 or x.shape[1] != params.shape[1]:
        raise ValueError(
            f"x must have shape (n, {params.shape[1]}), got {tuple(x.shape)}: check the "
            "previous layer's width"
        )
    if x.dtype != params.dtype:
        raise TypeError(
            f"x has dtype {x.dtype} but the parameters are {params.dtype}: convert one of "
            f"them (x.to({params.dtype}))"
        )
    return x


def _finite(d: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """One reduction on the output: NaN/inf in ``x``, or an overflow, is refused."""
    try:
        check_finite(d, "distances")
    except ValueError:
        raise ValueError(
            f"x holds NaN/inf or values too large for {x.dtype} (the distances are not "
            "finite): clean or standardise x"
        ) from None
    return d


def linear_distances(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """``x W^T + b`` (``bias`` may be ``None``).

    Examples:
        >>> linear_distances(torch.ones(1, 2), torch.eye(2), torch.tensor([0.0, 1.0]))
        tensor([[1., 2.]])
    """
    check_x(x, weight)
    return _finite(torch.nn.functional.linear(x, weight, bias), x)


def euclidean_distances(x: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """``1/2 ||x_n - mu_j||^2`` from the expansion ``(|x|^2 - 2 x mu + |mu|^2) / 2``
    (one matrix product), clamped at 0 against rounding.

    Examples:
        >>> euclidean_distances(torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0]]))
        tensor([[12.5000]])
    """
    check_x(x, means)
    sq = (x * x).sum(1, keepdim=True) - 2 * x @ means.T + (means * means).sum(1)
    return _finite(0.5 * sq.clamp_min(0), x)


def mahalanobis_distances(
    x: torch.Tensor, means: torch.Tensor, log_precision: torch.Tensor
) -> torch.Tensor:
    """Diagonal-Gaussian energy ``1/2 sum_i p_ji (x_ni - mu_ji)^2 - 1/2 sum_i log p_ji``
    (``p = exp(log_precision)``), expanded into three matrix products.

    Examples:
        >>> mahalanobis_distances(torch.ones(1, 2), torch.zeros(1, 2), torch.zeros(1, 2))
        tensor([[1.]])
    """
    check_x(x, means)
    p = log_precision.exp()
    quad = (x * x) @ p.T - 2 * x @ (p * means).T + (p * means * means).sum(1)
    return _finite(0.5 * quad.clamp_min(0) - 0.5 * log_precision.sum(1), x)
