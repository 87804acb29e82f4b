r"""Checks of the implicit-EM identity on user tensors: autograd against the formula.

Each function returns the maximum absolute difference between an autograd gradient and
its analytic form (0 up to rounding when the identity holds):

* :func:`responsibility_gradient_error` -- ``dL/dd_j = -r_j`` for ``L = log sum exp(-d)``;
* :func:`cross_entropy_gradient_error` -- ``y_j - r_j`` for the distance cross-entropy;
* :func:`attention_gradient_error`, :func:`attention_advantage_error` -- attention;
* :func:`em_step_gradient_error` -- one EM step for Gaussian means equals a gradient step
  preconditioned by ``Sigma_j / N_j`` (Xu & Jordan, 1996; :mod:`.mixture.xu_jordan`).
"""

from __future__ import annotations

import torch

from ._checks import check_same_dtype, check_tensor
from .lse import (
    attention_log_partition,
    attention_score_gradient,
    attention_weights,
    distance_cross_entropy,
    lse_objective,
    prepare_distances,
    responsibilities,
)
from .mixture.xu_jordan import em_mean_step, preconditioned_gradient_step

__all__ = [
    "attention_advantage_error",
    "attention_gradient_error",
    "cross_entropy_gradient_error",
    "em_step_gradient_error",
    "responsibility_gradient_error",
]


def _max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.numel() == 0:
        return 0.0
    return float((a.double() - b.double()).abs().max())


def _grad(fn, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(fn(x), x)
    return g


def responsibility_gradient_error(
    d: torch.Tensor, dim: int = -1, *, mask: torch.Tensor | None = None
) -> float:
    r"""Max ``|dL/dd + r|`` for ``L = sum(log sum_j exp(-d_j))``: autograd vs analytic.

    Returns 0 up to rounding when the identity ``dL/dd_j = -r_j`` holds for ``d``.
    Excluded alternatives (``+inf`` or ``mask=False``) are compared too (both are 0).
    """
    prepare_distances(d, dim, mask)
    g = _grad(lambda x: lse_objective(x, dim, mask=mask, reduction="sum"), d)
    return _max_abs(g, -responsibilities(d.detach(), dim, mask=mask))


def cross_entropy_gradient_error(
    d: torch.Tensor, target: torch.Tensor, dim: int = -1, *, mask: torch.Tensor | None = None
) -> float:
    r"""Max ``|dloss/dd - (y - r)|`` for ``loss = sum(-sum_j y_j log r_j)``.

    Hard targets are one-hot encoded along ``dim`` for the analytic side.
    """
    dd, ndim, _ = prepare_distances(d.detach(), dim, mask)
    g = _grad(lambda x: distance_cross_entropy(x, target, dim, mask=mask, reduction="sum"), d)
    y = target
    if not target.is_floating_point():
        y = torch.nn.functional.one_hot(target.long(), dd.shape[ndim]).movedim(-1, ndim)
    r = torch.softmax(-dd, dim=ndim)
    return _max_abs(g, y.to(r.dtype) - r)


def attention_gradient_error(
    scores: torch.Tensor, dim: int = -1, *, mask: torch.Tensor | None = None
) -> float:
    """Max ``|dA/ds - softmax(s)|`` for the attention log-partition ``A``."""
    check_tensor(scores, "scores", min_ndim=1)
    g = _grad(lambda s: attention_log_partition(s, dim, mask=mask).sum(), scores)
    return _max_abs(g, attention_weights(scores.detach(), dim, mask=mask))


def attention_advantage_error(
    scores: torch.Tensor,
    values: torch.Tensor,
    grad_output: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
) -> float:
    r"""Max error between autograd's score gradient of ``softmax(s) @ v`` and the advantage form.

    Shape: as :func:`attention_score_gradient`; ``mask`` like the scores.
    """
    for name, t in (("scores", scores), ("values", values), ("grad_output", grad_output)):
        check_tensor(t, name, min_ndim=2)
    check_same_dtype(scores=scores, values=values, grad_output=grad_output)
    if values.shape[-2] != scores.shape[-1] or grad_output.shape[-1] != values.shape[-1]:
        raise ValueError(
            f"expected scores (*, n_q, n_k), values (*, n_k, d_v), grad_output (*, n_q, d_v); "
            f"got {tuple(scores.shape)}, {tuple(values.shape)}, {tuple(grad_output.shape)}"
        )

    def out(s):
        return (attention_weights(s, mask=mask) @ values * grad_output).sum()

    g = _grad(out, scores)
    a = attention_weights(scores.detach(), mask=mask)
    return _max_abs(g, attention_score_gradient(a, values, grad_output))


def em_step_gradient_error(
    x: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor, weights: torch.Tensor
) -> float:
    """Max abs difference between :func:`em_mean_step` and :func:`preconditioned_gradient_step`."""
    return _max_abs(
        em_mean_step(x, means, covariances, weights),
        preconditioned_gradient_step(x, means, covariances, weights),
    )
