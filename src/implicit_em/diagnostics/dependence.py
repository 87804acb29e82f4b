r"""Detached estimators of dependence: the Kozachenko-Leonenko joint entropy and the total
correlation ``TC(z) = sum_j H(z_j) - H(z)`` (m-spacing marginals minus the k-NN joint, or
the Gaussian ``-1/2 log det Corr``). Measurements of a batch, not training losses: the
input is detached and computed in float64.
"""

from __future__ import annotations

import math
import warnings

import torch

from .._checks import check_count, check_finite, check_tensor
from ..objectives._moments import correlation
from ..objectives.entropy import vasicek_entropy
from .redundancy import gaussian_tc

_HALF = (torch.float16, torch.bfloat16)


def knn_entropy(z: torch.Tensor, k: int = 3, chunk_size: int = 2048) -> torch.Tensor:
    r"""Kozachenko-Leonenko k-nearest-neighbour estimate of the joint entropy (nats).

    ``H = psi(n) - psi(k) + log V_D + D/n sum_i log eps_i`` with ``eps_i`` the Euclidean
    distance from row ``i`` to its ``k``-th neighbour and ``V_D`` the unit ball's volume.
    ``z``: ``(n, D)`` or a batch ``(B, n, D)`` (output ``()`` or ``(B,)``). Consistent
    for any density; the bias grows with ``D`` (use it for ``D`` up to about 10). Memory
    ``B * chunk_size * n``.
    """
    k, chunk_size = check_count(k, "k"), check_count(chunk_size, "chunk_size")
    x = _groups(z)
    n, d = x.shape[1], x.shape[2]
    if n <= k:
        raise ValueError(f"z needs more than k = {k} samples (rows) for the k-NN estimate, got {n}")
    kth = torch.cat(
        [
            torch.cdist(c, x).topk(k + 1, dim=-1, largest=False).values[..., k]
            for c in x.split(chunk_size, dim=1)
        ],
        1,
    )
    if bool((kth == 0).any()):
        warnings.warn(
            "repeated rows (atoms, e.g. ReLU zeros) make some k-NN distances 0: the "
            "differential entropy is -inf there and the estimate is meaningless; leave such "
            "units out or raise k",
            RuntimeWarning,
            stacklevel=2,
        )
    kth = kth.clamp_min(1e-300)
    log_ball = d / 2 * math.log(math.pi) - math.lgamma(d / 2 + 1)
    h = torch.special.digamma(torch.tensor(float(n))) - torch.special.digamma(
        torch.tensor(float(k))
    )
    out = h.to(x) + log_ball + d * torch.log(kth).mean(1)
    return out.to(z.dtype if z.is_floating_point() else torch.float64).reshape(z.shape[:-2])


def _groups(z, min_rows: int = 1) -> torch.Tensor:
    """``z`` ``(n, D)`` or ``(B, n, D)`` as a finite, detached float64 ``(B, n, D)``."""
    check_tensor(z, "z", min_ndim=2)
    if z.ndim not in (2, 3):
        raise ValueError(f"z must be (n, D) or (B, n, D), got shape {tuple(z.shape)}")
    x = (z if z.ndim == 3 else z[None]).detach().double()
    if x.shape[1] < min_rows:
        raise ValueError(f"z needs at least {min_rows} samples (rows), got shape {tuple(z.shape)}")
    check_finite(x, "z")
    return x


def total_correlation(
    z: torch.Tensor, estimator: str = "spacing", *, k: int = 3, m: int | None = None
) -> torch.Tensor:
    r"""Total correlation ``TC(z) = sum_j H(z_j) - H(z)`` in nats (0 iff independent).

    ``estimator="gaussian"``: ``-1/2 log det Corr(z)`` -- only linear (second-order)
    dependence. ``"spacing"``: m-spacing marginals (:func:`vasicek_entropy`) minus the
    Kozachenko-Leonenko joint (:func:`knn_entropy`) -- also non-linear dependence, for a
    few units at a time (the joint estimator's bias grows with ``D``; measured: within
    0.02 of the closed form for a 3-D Gaussian and -0.02 to -0.07 for independent 2-D
    non-Gaussian pairs at ``n = 3000``). ``z``: ``(n, D)``
    or a batch ``(B, n, D)`` of groups (e.g. unit pairs), output ``()`` or ``(B,)``.

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(2000, 1, generator=g, dtype=torch.float64)
        >>> z = torch.cat([x, x**2 + 0.1 * torch.randn(2000, 1, generator=g)], 1)
        >>> float(total_correlation(z, "gaussian")) < 0.01 < 0.5 < float(total_correlation(z))
        True
    """
    if estimator not in ("spacing", "gaussian"):
        raise ValueError(f"estimator must be 'spacing' or 'gaussian', got {estimator!r}")
    x = _groups(z, min_rows=2)
    out_dtype = z.dtype if z.is_floating_point() and z.dtype not in _HALF else torch.float32
    b = x.shape[0]
    constant = x.amax(1) == x.amin(1)  # (B, D): independent of everything, TC share 0
    if bool(constant.any()):
        warnings.warn(
            f"{int(constant.sum())} constant unit(s): they carry no information and are left "
            "out of the total correlation (a constant is independent of everything)",
            RuntimeWarning,
            stacklevel=2,
        )
        tc = [
            _total_correlation(x[i : i + 1, :, ~constant[i]], estimator, k, m)
            if int((~constant[i]).sum()) >= 2
            else x.new_zeros(1)
            for i in range(b)  # per group only on this degenerate path
        ]
        return torch.cat(tc).to(out_dtype).reshape(z.shape[:-2])
    return _total_correlation(x, estimator, k, m).to(out_dtype).reshape(z.shape[:-2])


def _total_correlation(x: torch.Tensor, estimator: str, k: int, m) -> torch.Tensor:
    """TC of checked groups ``x`` ``(B, n, D)`` without constant units, ``(B,)``."""
    b, n, d = x.shape
    if estimator == "gaussian":
        if n <= d:
            raise ValueError(
                f"z needs more samples than units for a Gaussian total correlation (the "
                f"correlation matrix is singular otherwise), got {n} samples of {d} units"
            )
        x = x - x.mean(-2, keepdim=True)
        tc = gaussian_tc(correlation(x.mT @ x), torch.finfo(torch.float64).eps)
        if not bool(torch.isfinite(tc).all()):
            raise ValueError(
                "z has perfectly collinear units (the correlation matrix is singular, so "
                "the Gaussian total correlation is +inf); drop duplicated units"
            )
        return tc
    marginals = vasicek_entropy(x.transpose(0, 1).reshape(n, b * d), m).reshape(b, d).sum(1)
    return marginals - knn_entropy(x, k)
