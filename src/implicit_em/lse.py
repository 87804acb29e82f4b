r"""The implicit-EM identity: log-sum-exp objectives whose gradients are responsibilities.

For distances (energies) ``d`` with alternatives along ``dim``::

    L(d)      = log sum_j exp(-d_j)          lse_objective  (maximise)
    r_j       = exp(-d_j) / sum_k exp(-d_k)  responsibilities = softmax(-d)
    dL/dd_j   = -r_j                         exactly: the gradient *is* the E-step

Three regimes share the identity (Oursland 2025, arXiv:2512.24780):

* unsupervised mixtures -- ``lse_objective`` over component energies, ``r`` latent;
* attention -- the log-partition ``log sum_j exp(s_j)`` of scores ``s = -d`` has gradient
  ``softmax(s)``, the attention weights (responsibilities conditioned on the query);
* cross-entropy -- ``-log r_y`` clamps responsibilities to the targets: its gradient is
  ``y_j - r_j`` with respect to distances (``r_j - y_j`` with respect to scores/logits).

:mod:`implicit_em.identities` checks the identity on user tensors (autograd against the
analytic formula), and :mod:`implicit_em.mixture.xu_jordan` its Gaussian-mixture form:
one EM step for the means is a preconditioned gradient step (Xu & Jordan, 1996).

Conventions: an alternative is excluded either by a distance of ``+inf`` or by a boolean
``mask`` that is ``False`` for it (``True`` = takes part, as in
``torch.nn.functional.scaled_dot_product_attention``). Excluded alternatives get exactly
zero responsibility and zero gradient. A row with every alternative excluded, a NaN, or a
distance of ``-inf`` raises ``ValueError``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from typing_extensions import override

from ._checks import (
    check_reduction,
    check_same_dtype,
    check_temperature,
    check_tensor,
    normalize_dim,
    reduce,
)

__all__ = [
    "DistanceCrossEntropy",
    "LSELoss",
    "attention_log_partition",
    "attention_score_gradient",
    "attention_weights",
    "distance_cross_entropy",
    "lse_loss",
    "lse_objective",
    "responsibilities",
]


# --------------------------------------------------------------------------- inputs


def prepare_distances(
    d: torch.Tensor, dim: int, mask: torch.Tensor | None, name: str = "d", scores: bool = False
) -> tuple[torch.Tensor, int, torch.Tensor]:
    """Validate distances, apply ``mask`` (False -> +inf) and normalise ``dim``.

    Returns ``(d, dim, m)`` with ``m = max(-d)`` along ``dim`` (kept, detached). The
    checks cost one reduction, which the LSE needs anyway: ``m`` is NaN if a row has a
    NaN, ``+inf`` if it has a ``-inf`` distance and ``-inf`` if every alternative is
    excluded, so a single ``isfinite(m).all()`` catches all three. With ``scores=True``
    ``d`` holds negated scores and the messages speak of scores (``+inf`` forbidden,
    ``-inf`` excludes).
    """
    check_tensor(d, name, min_ndim=1)
    dim = normalize_dim(dim, d.ndim)
    if d.shape[dim] == 0:
        raise ValueError(
            f"{name} has no alternatives along dim={dim} (shape {tuple(d.shape)}); each row "
            "needs at least one"
        )
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError(
                "mask must be a bool tensor (True = alternative takes part), got "
                f"{type(mask).__name__ if not isinstance(mask, torch.Tensor) else mask.dtype}"
            )
        try:
            mask = torch.broadcast_to(mask, d.shape)
        except RuntimeError:
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to {name} of shape "
                f"{tuple(d.shape)}"
            ) from None
        d = d.masked_fill(~mask, math.inf)
    m = -d.detach().amin(dim=dim, keepdim=True)
    if d.numel() and not bool(torch.isfinite(m).all()):
        if torch.isnan(d).any():
            raise ValueError(
                f"{name} contains NaN; distances must be real numbers or +inf (excluded)"
            )
        big, small = ("+inf", "-inf") if scores else ("-inf", "+inf")
        what = "score" if scores else "distance"
        if (d == -math.inf).any():
            raise ValueError(
                f"{name} contains {big}; a {what} of {big} would take all responsibility. "
                f"Use finite {what}s, or {small} / mask=False to exclude an alternative"
            )
        rows = int((m == -math.inf).sum())
        raise ValueError(
            f"{rows} row(s) of {name} have every alternative along dim={dim} excluded "
            f"({small} or mask=False); each row needs at least one alternative"
        )
    return d, dim, m


# --------------------------------------------------------------------------- objectives


def lse_objective(
    d: torch.Tensor,
    dim: int = -1,
    *,
    mask: torch.Tensor | None = None,
    reduction: str = "none",
    flush_tiny: bool = False,
) -> torch.Tensor:
    r"""Log-partition of distances, ``L = log sum_j exp(-d_j)``; ``dL/dd_j = -r_j``.

    This is the quantity gradient *ascent* maximises; with ``reduction="sum"`` its
    gradient with respect to ``d`` is exactly ``-responsibilities(d)``.

    Args:
        d: distances or energies, any shape, alternatives along ``dim``.
        dim: the axis of alternatives. Default ``-1``.
        mask: optional bool tensor broadcastable to ``d``; ``False`` excludes.
        reduction: ``"none"`` (default) | ``"mean"`` | ``"sum"`` over the other axes.
        flush_tiny: clamp the shifted exponents at ``log(tiny) + 1`` so that ``exp`` never
            returns subnormal numbers or underflows (about 10x slower on CPUs: at
            ``(256, 2000)``, 15 ms against 1 ms on one AMD EPYC thread; measured 25% off a
            mixture's gradient step on well-separated clusters). Terms below ``e * tiny``
            (~3e-38 in float32) count as that floor: the value moves by less than ``K``
            such terms relative to a sum >= 1, and their gradient becomes 0 instead of a
            responsibility below ``tiny``. Default off (the clamp costs one pass).

    Shape:
        ``d``: ``(*, K, *)``; output: ``d.shape`` without ``dim`` (``"none"``) or scalar.

    Raises:
        ValueError: NaN or ``-inf`` in ``d``, a row with every alternative excluded, a
            bad ``dim`` or ``reduction``.

    Examples:
        >>> d = torch.tensor([[0.0, 1.0, 2.0]], requires_grad=True)
        >>> lse_objective(d, reduction="sum").backward()
        >>> torch.allclose(d.grad, -responsibilities(d))
        True
    """
    check_reduction(reduction)
    d, dim, m = prepare_distances(d, dim, mask)
    return reduce(log_partition(d, dim, m, flush_tiny), reduction, "d")


def log_partition(
    d: torch.Tensor, dim: int, m: torch.Tensor, flush_tiny: bool = False
) -> torch.Tensor:
    """``log sum_j exp(-d_j)`` along ``dim`` given ``m = max(-d)`` (see
    :func:`prepare_distances`)."""
    # Shift by m = max(-d), held constant: LSE is shift-invariant, so the value and the
    # gradient are unchanged, and autograd's chain rule through log, sum and exp yields
    # exp(-d_j - m) / sum_k exp(-d_k - m) = r_j to rounding error even for |d| ~ 1e6
    # (torch.logsumexp's backward, exp(x - lse), loses about |d| * eps there).
    shifted = -d - m
    if flush_tiny:
        shifted = above_subnormal(shifted)
    return torch.log(torch.exp(shifted).sum(dim)) + m.squeeze(dim)


def above_subnormal(log_values: torch.Tensor, headroom: float = 0.0) -> torch.Tensor:
    """``log_values`` floored at ``log(tiny) + 1 + headroom`` of their dtype, so that
    ``exp`` of them never returns a subnormal number or underflows (about 10x slower on
    CPUs); a value below ``e * tiny`` (3e-38 in float32) then counts as that floor.
    ``headroom = log K`` keeps ``exp / Z`` normal too, for a sum ``Z <= K``."""
    return log_values.clamp_min(math.log(torch.finfo(log_values.dtype).tiny) + 1.0 + headroom)


def lse_loss(
    d: torch.Tensor,
    dim: int = -1,
    *,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
    flush_tiny: bool = False,
) -> torch.Tensor:
    r"""The LSE loss to minimise, ``-log sum_j exp(-d_j)``; its gradient is ``+r``.

    Same arguments as :func:`lse_objective`, but ``reduction`` defaults to ``"mean"`` as
    for torch losses (so the gradient is ``r / n_rows``).
    """
    return -lse_objective(d, dim, mask=mask, reduction=reduction, flush_tiny=flush_tiny)


def responsibilities(
    d: torch.Tensor, dim: int = -1, *, temperature: float = 1.0, mask: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Posterior responsibilities ``r = softmax(-d / temperature)`` along ``dim``.

    Excluded alternatives (``+inf`` or ``mask=False``) get exactly zero. As the
    temperature goes to zero ``r`` becomes the hard (one-hot) assignment.

    Shape:
        same as ``d``; sums to one along ``dim``.

    Examples:
        >>> responsibilities(torch.tensor([0.0, math.inf]))
        tensor([1., 0.])
    """
    t = check_temperature(temperature, "temperature")
    d, dim, _ = prepare_distances(d, dim, mask)
    # shifted by the row's nearest distance (softmax does not change): the nearest
    # alternative stays finite however small T is, so a row is never all -inf (NaN)
    return torch.softmax((d - d.detach().amin(dim, keepdim=True)) / -t, dim=dim)


def distance_cross_entropy(
    d: torch.Tensor,
    target: torch.Tensor,
    dim: int = -1,
    *,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Cross-entropy in distance form, ``-sum_j y_j log r_j`` with ``r = softmax(-d)``.

    For a hard target (class index ``y``) this is ``d_y + log sum_j exp(-d_j)``, so
    ``dloss/dd_j = y_j - r_j`` (one-hot ``y``): the label clamps the responsibilities.
    With respect to scores/logits ``s = -d`` the gradient is the familiar ``r_j - y_j``.

    Args:
        d: distances, alternatives (classes) along ``dim``.
        target: either integer class indices with ``d``'s shape minus ``dim``, or
            probabilities with ``d``'s shape that are >= 0 and sum to one along ``dim``.
        dim: the class axis. Default ``-1``.
        mask: optional bool tensor; ``False`` excludes a class (a target may not use it).
        reduction: ``"mean"`` (default) | ``"sum"`` | ``"none"``.

    Raises:
        ValueError: wrong target shape/rank, class index out of range or excluded, soft
            targets that are negative or do not sum to one, plus the checks of ``d``.

    Examples:
        >>> d = torch.tensor([[0.5, 2.0, 1.0]])
        >>> distance_cross_entropy(d, torch.tensor([0]))  # == F.cross_entropy(-d, [0])
        tensor(0.6041)
    """
    check_reduction(reduction)
    d, dim, _ = prepare_distances(d, dim, mask)
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}")
    log_r = torch.log_softmax(-d, dim=dim)
    n_classes = d.shape[dim]
    if not target.is_floating_point():
        expected = d.shape[:dim] + d.shape[dim + 1 :]
        if target.shape != expected:
            raise ValueError(
                f"hard target must hold class indices of shape {tuple(expected)} (d's shape "
                f"without dim={dim}), got shape {tuple(target.shape)}; for probabilities "
                f"pass a float tensor of shape {tuple(d.shape)}"
            )
        if target.numel() and (target.min() < 0 or target.max() >= n_classes):
            raise ValueError(
                f"class indices must lie in [0, {n_classes - 1}], got range "
                f"[{int(target.min())}, {int(target.max())}]"
            )
        picked = log_r.gather(dim, target.long().unsqueeze(dim)).squeeze(dim)
        if torch.isinf(picked).any():
            raise ValueError(
                "a target class is excluded in d (distance +inf or mask=False); the target's "
                "alternative must take part"
            )
        return reduce(-picked, reduction, "d")
    if target.shape != d.shape:
        raise ValueError(
            f"soft target must have d's shape {tuple(d.shape)}, got {tuple(target.shape)}; "
            f"for class indices pass an integer tensor of shape "
            f"{tuple(d.shape[:dim] + d.shape[dim + 1 :])}"
        )
    # the sum is checked in float64 to the target's own precision (n roundings of its
    # dtype), not d's: bf16 distances must not let targets summing to 1.5 through
    own = target.dtype if target.is_floating_point() else torch.float64
    tol = max(1e-6, target.shape[dim] * torch.finfo(own).eps)
    if not torch.isfinite(target).all() or (target < 0).any():
        raise ValueError("soft target must be finite and >= 0")
    sums = target.double().sum(dim)
    if ((sums - 1).abs() > tol).any():
        worst = float(sums[(sums - 1).abs().argmax()] if sums.ndim else sums)
        raise ValueError(
            f"soft target must sum to 1 along dim={dim} (tolerance {tol:g}), a row sums to "
            f"{worst:g}: normalise it (target / target.sum({dim}, keepdim=True))"
        )
    target = target.to(d.dtype)
    excluded = torch.isinf(log_r)
    if (target[excluded] > 0).any():
        raise ValueError("soft target puts mass on an excluded alternative")
    return reduce(-(target * log_r.masked_fill(excluded, 0.0)).sum(dim), reduction, "d")


def attention_log_partition(
    scores: torch.Tensor, dim: int = -1, *, mask: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Attention log-partition ``A(s) = log sum_j exp(s_j)``; ``dA/ds_j = softmax(s)_j``.

    Scores are negative distances (``s = -d``), so this is :func:`lse_objective` of
    ``-s``: the attention weights are responsibilities conditioned on the query.

    Shape:
        ``scores``: ``(*, n_keys)`` for ``dim=-1``; output: ``scores.shape`` without ``dim``.
    """
    check_tensor(scores, "scores", min_ndim=1)
    d, dim, m = prepare_distances(-scores, dim, mask, name="scores", scores=True)
    return log_partition(d, dim, m)


def attention_weights(
    scores: torch.Tensor, dim: int = -1, *, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Attention weights ``softmax(scores)`` along ``dim`` (``mask=False`` excludes a key)."""
    check_tensor(scores, "scores", min_ndim=1)
    d, dim, _ = prepare_distances(-scores, dim, mask, name="scores", scores=True)
    return torch.softmax(-d, dim=dim)


def attention_score_gradient(
    weights: torch.Tensor, values: torch.Tensor, grad_output: torch.Tensor
) -> torch.Tensor:
    r"""Analytic gradient of a loss with respect to attention scores, in advantage form.

    For ``o_q = sum_k a_qk v_k`` with ``a = softmax(s)`` over keys and upstream gradient
    ``g_q = dL/do_q``::

        dL/ds_qk = a_qk (u_qk - sum_k' a_qk' u_qk'),   u_qk = g_q . v_k

    each key is pushed by its responsibility times its *advantage* over the
    responsibility-weighted baseline.

    Shape:
        ``weights``: ``(*, n_q, n_k)``, ``values``: ``(*, n_k, d_v)``,
        ``grad_output``: ``(*, n_q, d_v)``; output: ``(*, n_q, n_k)``.

    Raises:
        ValueError: NaN/inf in any input, or ``weights`` outside ``[0, 1]``.
        TypeError: non-float inputs or inputs of different dtypes.
    """
    check_same_dtype(weights=weights, values=values, grad_output=grad_output)
    for name, t in (("weights", weights), ("values", values), ("grad_output", grad_output)):
        check_tensor(t, name, min_ndim=1, finite=True)
    if weights.numel() and not 0 <= float(weights.amin()) <= float(weights.amax()) <= 1:
        raise ValueError(
            "weights must be attention weights (softmax outputs, in [0, 1]); got values in "
            f"[{float(weights.amin()):.3g}, {float(weights.amax()):.3g}]"
        )
    ok = weights.ndim >= 2 and values.ndim >= 2 and grad_output.ndim >= 2
    if not ok or not (
        weights.shape[-1] == values.shape[-2]
        and weights.shape[-2] == grad_output.shape[-2]
        and values.shape[-1] == grad_output.shape[-1]
    ):
        raise ValueError(
            "expected weights (*, n_q, n_k), values (*, n_k, d_v) and grad_output "
            f"(*, n_q, d_v); got {tuple(weights.shape)}, {tuple(values.shape)} and "
            f"{tuple(grad_output.shape)}"
        )
    try:
        u = grad_output @ values.transpose(-1, -2)
        return weights * (u - (weights * u).sum(-1, keepdim=True))
    except RuntimeError as err:  # leading (batch) dimensions that do not broadcast
        raise ValueError(
            f"the leading dimensions of weights {tuple(weights.shape)}, values "
            f"{tuple(values.shape)} and grad_output {tuple(grad_output.shape)} do not "
            f"broadcast: {err}"
        ) from None


class LSELoss(nn.Module):
    """Module form of :func:`lse_loss` (``-log sum_j exp(-d_j)``)."""

    def __init__(self, dim: int = -1, reduction: str = "mean"):
        super().__init__()
        self.dim, self.reduction = dim, check_reduction(reduction)

    @override
    def forward(self, d: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return lse_loss(d, self.dim, mask=mask, reduction=self.reduction)

    def em_responsibilities(
        self, d: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``softmax(-d)`` along ``dim``, moved last (for the EM-structure map)."""
        return responsibilities(d, self.dim, mask=mask).movedim(self.dim, -1)

    @override
    def extra_repr(self) -> str:
        return f"dim={self.dim}, reduction={self.reduction!r}"


class DistanceCrossEntropy(nn.Module):
    """Module form of :func:`distance_cross_entropy`."""

    def __init__(self, dim: int = -1, reduction: str = "mean"):
        super().__init__()
        self.dim, self.reduction = dim, check_reduction(reduction)

    @override
    def forward(
        self, d: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return distance_cross_entropy(d, target, self.dim, mask=mask, reduction=self.reduction)

    def em_responsibilities(
        self, d: torch.Tensor, target: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``softmax(-d)`` along ``dim``, moved last (for the EM-structure map)."""
        return responsibilities(d, self.dim, mask=mask).movedim(self.dim, -1)

    @override
    def extra_repr(self) -> str:
        return f"dim={self.dim}, reduction={self.reduction!r}"
