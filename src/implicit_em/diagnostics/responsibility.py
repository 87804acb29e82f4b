r"""Responsibility statistics for distances (``r = softmax(-d)``) or scores (``softmax(s)``).

For ``r`` of shape ``(..., K)`` along ``dim`` (inputs = every other axis):

* per-input entropy ``H(r_n) = -sum_j r_nj log r_nj`` (nats; ``log K`` = uniform),
* usage ``u_j = mean_n r_nj`` and its entropy ``H(u)`` (``log K`` = balanced use),
* ``max_j u_j`` -- collapse when it exceeds ``collapse_threshold`` (one unit wins),
* starved units: ``u_j < starved_threshold`` (default ``0.1 / K``).
"""

from __future__ import annotations

import math

import torch

from .._checks import check_tensor
from ..lse import log_partition, prepare_distances


def responsibility_stats(
    x: torch.Tensor,
    dim: int = -1,
    *,
    scores: bool = False,
    collapse_threshold: float = 0.5,
    starved_threshold: float | None = None,
) -> dict:
    """Entropy, usage and collapse statistics of the responsibilities of ``x``.

    Args:
        x: distances (``r = softmax(-x)``) or, with ``scores=True``, scores
            (``r = softmax(x)``); alternatives along ``dim``; at least 2 inputs.
        dim: the axis of the alternatives.
        scores: ``x`` holds scores (higher = more responsible) instead of distances.
        collapse_threshold: ``collapsed`` is true when ``max usage`` exceeds it.
        starved_threshold: usage below this marks a starved unit (default ``0.1/K``).

    Returns:
        ``n_alternatives``, ``mean_entropy`` and ``mean_entropy_normalized`` (divided by
        ``log K``), ``usage`` (list), ``usage_entropy`` (+ normalized),
        ``max_mean_responsibility``, ``collapsed``, ``starved_units``.

    Examples:
        >>> d = torch.tensor([[0.0, 9.0], [0.0, 9.0], [0.0, 9.0]])
        >>> responsibility_stats(d)["collapsed"]
        True
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.is_floating_point() and x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    check_tensor(x, "x", min_ndim=1)
    d, dim, m = prepare_distances(
        (-x if scores else x).detach(), dim, None, name="x", scores=scores
    )
    log_r = -d - log_partition(d, dim, m).unsqueeze(dim)  # log r = -d - L
    k = log_r.shape[dim]
    log_r = log_r.movedim(dim, -1).reshape(-1, k)
    if log_r.shape[0] < 2:
        raise ValueError(
            f"x needs at least 2 inputs (rows) for usage statistics, got {log_r.shape[0]}"
        )
    r = log_r.exp()
    h = -(r * log_r.nan_to_num(neginf=0.0)).sum(-1).double()  # excluded: 0 * log 0 = 0
    usage = r.mean(0).double()
    hu = float(-(usage * torch.log(usage.clamp_min(1e-300))).sum())
    log_k = math.log(k) if k > 1 else 1.0
    starved = 0.1 / k if starved_threshold is None else starved_threshold
    max_usage = float(usage.max())
    return {
        "n_alternatives": k,
        "mean_entropy": float(h.mean()),
        "mean_entropy_normalized": float(h.mean()) / log_k,
        "usage": usage.tolist(),
        "usage_entropy": hu,
        "usage_entropy_normalized": hu / log_k,
        "max_mean_responsibility": max_usage,
        "collapsed": max_usage > collapse_threshold,
        "starved_units": int((usage < starved).sum()),
    }
