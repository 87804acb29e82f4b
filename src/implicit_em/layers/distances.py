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

Exactness: the two prototype geometries expand the square into one matrix product, and
the expansion ``||x||^2 - 2 x.mu + ||mu||^2`` cancels when the inputs are far from the
origin (at ``x ~ 1e4`` in float32 it keeps no digit of a unit distance). So each row's
rounding bound at its nearest prototype, ``eps sqrt(D) (||x||^2 + ||mu||^2)``, is
compared with that distance and its gap to the second nearest (:func:`lost_digits`,
each row on its own; ordinary data are cleared by one min over the prototypes). Where
it fails, the expansion is redone around the prototypes' centre ``c = mean_j mu_j``
(:func:`centred`), which leaves every distance and its gradient unchanged in exact
arithmetic and makes the terms the size of the distances themselves; rows that still
fail (prototypes far apart, as two clusters at ``-1e4`` and ``+1e4``, patches beside
zero padding, or near-constant patches that a patch norm scales up) are recomputed in
float64 (:func:`exactly`, in any input dtype): by the expansion, whose rounding is 2^-29
of float32's, and by direct differences (no cancellation at all) where even that may
have lost the nearest prototype. A convolution uses the same function per
location (:class:`~implicit_em.layers.ImplicitEMConv2d`: the location's patch, unfolded).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .._checks import check_finite, check_tensor


def check_x(x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """``x`` must be a 2-D float tensor ``(n, D)`` of the parameters' dtype and width;
    the parameters ``(K, D)`` with ``K >= 1``."""
    if not isinstance(params, torch.Tensor) or params.ndim != 2 or len(params) == 0:
        shape = tuple(params.shape) if isinstance(params, torch.Tensor) else type(params)
        raise ValueError(f"the prototypes (weight / means) must have shape (K, D) with "
                         f"K >= 1, got {shape}")  # fmt: skip
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


def centred(x: torch.Tensor, means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x - c, mu - c)`` with ``c = mean_j mu_j`` (not differentiated: the distances do
    not depend on it): the inputs and the prototypes around the prototypes' centre.

    Examples:
        >>> centred(torch.tensor([[1e4 + 1.0]]), torch.tensor([[1e4], [1e4 + 2.0]]))
        (tensor([[0.]]), tensor([[-1.],
                [ 1.]]))
    """
    c = means.detach().mean(0)
    return x - c, means - c


def lost_digits(sq: torch.Tensor, xx: torch.Tensor, mm: torch.Tensor, width: int) -> torch.Tensor:
    """Where ``sq = xx - 2 x.mu + mm`` (twice the distances, alternatives on dim 1) may
    have lost the nearest alternative: the rounding bound ``eps sqrt(width) (xx + mm)``
    at a row's nearest alternative exceeds ``1e-3`` of the larger of that distance and
    its gap to the second nearest. One flag per row (``sq`` without dim 1); each row is
    judged on its own. ``xx`` and ``mm`` broadcast to ``sq``'s shape. A first pass with
    the largest sizes against the nearest distance alone clears ordinary batches without
    sorting.

    Examples:
        >>> x, mu = torch.tensor([[1e4 + 0.5]]), torch.tensor([[1e4], [1e4 + 1.0]])
        >>> xx, mm = (x * x).sum(1, keepdim=True), (mu * mu).sum(1)[None]
        >>> lost_digits(xx - 2 * x @ mu.T + mm, xx, mm, 1)  # ||x||^2 = 1e8 >> 0.25
        tensor([True])
    """
    with torch.no_grad():
        eps = torch.finfo(sq.dtype).eps * math.sqrt(width)
        # first a cheap pass: the bound with the largest sizes against the nearest distance
        # alone; ordinary data end here (one min over the alternatives, no sort)
        low = sq.amin(1, keepdim=True).clamp_min(0)
        loose = eps * (xx.amax(1, keepdim=True) + mm.amax(1, keepdim=True))
        if not bool((loose > 1e-3 * low).any()):
            return torch.zeros_like(low, dtype=torch.bool).squeeze(1)
        # the nearest and the second nearest: a min, then a min with the nearest masked
        # (a quarter of topk's time along a strided dim 1, as the conv's (n, K, H, W))
        near, first = sq.min(1, keepdim=True)
        second = sq.scatter(1, first, math.inf).amin(1, keepdim=True) if sq.shape[1] > 1 else near
        low = near.clamp_min(0)
        scale = torch.maximum(low, second - near)
        size = xx.expand_as(sq).gather(1, first) + mm.expand_as(sq).gather(1, first)
        return (eps * size > 1e-3 * scale).squeeze(1)


def _direct(x: torch.Tensor, means: torch.Tensor, p: torch.Tensor | None = None) -> torch.Tensor:
    """``sum_i p_ji (x_ni - mu_ji)^2`` in float64 (``p = None`` means 1): the expansion
    around the prototypes' centre, whose rounding is 2^-29 of float32's, and by
    differences (no cancellation, rows in chunks of at most 2^24 elements ``(n, K, D)``)
    in the rows where even that may have lost the nearest prototype (:func:`lost_digits`)."""
    x, means = x.double(), means.double()
    w = p.double() if p is not None else None
    sq, xx, mm, width = _expansion(x, means, w, centre=True)
    lost = lost_digits(sq, xx, mm, width)
    if not bool(lost.any()):
        return sq
    at = lost.nonzero().squeeze(1)
    return sq.index_put((at,), _differences(x[at], means, w))


def _differences(x: torch.Tensor, means: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    """``sum_i w_ji (x_ni - mu_ji)^2`` by differences, in chunks of at most 2^24
    elements ``(n, K, D)``."""
    step = max(1, 2**24 // max(1, means.numel()))
    parts = []
    for rows in x.split(step):
        diff = (rows[:, None, :] - means[None]).square()
        parts.append((diff * w[None] if w is not None else diff).sum(-1))
    return torch.cat(parts) if parts else x.new_zeros(0, len(means))


def exactly(
    expansion: Callable[[bool], tuple],
    direct: Callable[[torch.Tensor], torch.Tensor],
    *,
    centre: bool = True,
) -> torch.Tensor:
    """``sq`` from ``expansion(centre) -> (sq, xx, mm, width)`` (twice the distances,
    alternatives on dim 1: ``(n, K)`` rows or ``(n, K, H, W)`` locations); where a row or
    location may have lost its nearest alternative (:func:`lost_digits`), the expansion
    again around the prototypes' centre (``centre``), and those that still fail by
    ``direct(at)`` ``(m, K)``, float64 distances (:func:`_direct`) at their flat indices ``at``
    (over the dims other than 1), so each answer is its own, in any dtype. Ordinary data
    pay one check (a min over the alternatives)."""
    sq, xx, mm, width = expansion(False)
    lost = lost_digits(sq, xx, mm, width)
    if centre and bool(lost.any()):
        sq, xx, mm, width = expansion(True)
        lost = lost_digits(sq, xx, mm, width)
    if not bool(lost.any()):
        return sq
    at = lost.flatten().nonzero().squeeze(1)
    rows = sq.movedim(1, -1)
    shape = rows.shape
    rows = rows.reshape(-1, shape[-1]).index_put((at,), direct(at).to(sq.dtype))
    return rows.view(shape).movedim(-1, 1)


class _SquaredDistances(torch.autograd.Function):
    """``||x_n - mu_j||^2 = xx_n - 2 x_n . mu_j + mm_j`` as one ``addmm`` with the norms
    folded into its input; the backward is one GEMM plus a rank-one term per operand,
    ``d/d mu = -2 g^T x + 2 (sum_n g_nj) mu`` (and the same for ``x``). Also returns
    ``xx (n, 1)`` and ``mm (1, K)``, not differentiated, for the rounding bound."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, means: torch.Tensor) -> tuple:
        xx = torch.linalg.vector_norm(x, dim=1, keepdim=True).square_()
        mm = torch.linalg.vector_norm(means, dim=1).square_()[None]
        sq = torch.addmm(xx + mm, x, means.T, alpha=-2)
        ctx.save_for_backward(x, means)
        ctx.mark_non_differentiable(xx, mm)
        return sq, xx, mm

    @staticmethod
    def backward(ctx, g: torch.Tensor, *_) -> tuple:
        x, means = ctx.saved_tensors
        gx = gm = None
        if ctx.needs_input_grad[0]:
            gx = torch.addmm(x * (2 * g.sum(1, keepdim=True)), g, means, alpha=-2)
        if ctx.needs_input_grad[1]:
            gm = torch.addmm(means * (2 * g.sum(0)[:, None]), g.T, x, alpha=-2)
        return gx, gm


def _expansion(
    x: torch.Tensor, means: torch.Tensor, p: torch.Tensor | None, *, centre: bool
) -> tuple:
    """``(sq, xx, mm, width)`` of ``sq = sum_i p_ji (x_ni - mu_ji)^2`` expanded as
    ``xx - 2 x (p mu)^T + mm`` (``p = None`` means 1: :class:`_SquaredDistances`), around
    the prototypes' centre with ``centre``."""
    if centre:
        x, means = centred(x, means)
    if p is None:
        return (*_SquaredDistances.apply(x, means), x.shape[1])
    xx, mm = (x * x) @ p.T, (p * means * means).sum(1)[None]
    return xx - 2 * x @ (p * means).T + mm, xx, mm, x.shape[1]


def euclidean_distances(x: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """``1/2 ||x_n - mu_j||^2`` from the expansion ``(|x|^2 - 2 x mu + |mu|^2) / 2``
    (one matrix product) around the prototypes' centre (:func:`centred`), by direct
    float64 differences in the rows where it may have lost the nearest prototype
    (:func:`exactly`), clamped at 0 against rounding.

    Examples:
        >>> euclidean_distances(torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0]]))
        tensor([[12.5000]])
    """
    check_x(x, means)
    sq = exactly(lambda c: _expansion(x, means, None, centre=c),
                 lambda at: _direct(x[at], means))  # fmt: skip
    return _finite(0.5 * sq.clamp_min(0), x)


def mahalanobis_distances(
    x: torch.Tensor, means: torch.Tensor, log_precision: torch.Tensor
) -> torch.Tensor:
    """Diagonal-Gaussian energy ``1/2 sum_i p_ji (x_ni - mu_ji)^2 - 1/2 sum_i log p_ji``
    (``p = exp(log_precision)``), expanded into three matrix products around the
    prototypes' centre (:func:`centred`).

    Examples:
        >>> mahalanobis_distances(torch.ones(1, 2), torch.zeros(1, 2), torch.zeros(1, 2))
        tensor([[1.]])
    """
    check_x(x, means)
    if log_precision.shape != means.shape:
        raise ValueError(f"log_precision must have the means' shape {tuple(means.shape)}, "
                         f"got {tuple(log_precision.shape)}")  # fmt: skip
    p = log_precision.exp()
    quad = exactly(lambda c: _expansion(x, means, p, centre=c),
                   lambda at: _direct(x[at], means, p))  # fmt: skip
    return _finite(0.5 * quad.clamp_min(0) - 0.5 * log_precision.sum(1), x)
