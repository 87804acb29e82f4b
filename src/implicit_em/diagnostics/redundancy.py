r"""Redundancy of weights and of activations.

* weights ``W`` ``(n_units, n_inputs)``: pairwise ``|cos|`` between rows, near-duplicate
  pairs, groups of near-parallel directions, effective rank;
* activations ``A`` ``(n_samples, n_units)``: effective rank of the centred matrix,
  output redundancy ``||Corr - I||_F^2`` (off-diagonal) and the Gaussian total
  correlation ``TC = sum_j H(a_j) - H(a) = -1/2 log det Corr`` (nats), and the share
  of units with a near-duplicate partner (``|corr|`` above a threshold).

Effective rank (Roy & Vetterli's "effective dimension" variant used in the seeds):
``erank(M) = (sum_i s_i)^2 / sum_i s_i^2`` over the singular values ``s`` of ``M``; it is
``r`` for ``r`` equal singular values and 1 for a rank-one matrix.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from .._checks import TensorLike
from ..objectives._moments import correlation, off_diagonal_sq
from ._inputs import as_matrix


def _erank_from_singular_values(s: torch.Tensor) -> float:
    s = s.double().clamp_min(0)
    total = float((s * s).sum())
    return float(s.sum() ** 2 / total) if total > 0 else 0.0


def effective_rank(matrix: TensorLike, *, center: bool = False) -> float:
    """``(sum s)^2 / sum s^2`` over the singular values of ``matrix`` ``(n, k)``.

    With ``center=True`` the column means are removed first (the spectrum of the
    covariance rather than of the raw matrix). Computed from the eigenvalues of the
    smaller Gram matrix, so ``(20000, 1024)`` costs one ``1024 x 1024`` eigensolve.
    """
    m = as_matrix(matrix, "matrix", min_rows=1)
    if center:
        m = m - m.mean(0, keepdim=True)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    eig = torch.linalg.eigvalsh(gram.double())
    # eigenvalues below the Gram's round-off are zero singular values (a centred matrix
    # loses one rank); their square roots (~1e-7 relative) would otherwise count
    tol = eig.abs().max() * len(eig) * torch.finfo(torch.float64).eps
    return _erank_from_singular_values(torch.where(eig > tol, eig, 0).sqrt())


def weight_cosine(weight: TensorLike) -> torch.Tensor:
    """``|cos|`` between every pair of rows of ``weight`` ``(n_units, n_inputs)`` -> ``(k, k)``.

    Zero rows have cosine 0 with everything.
    """
    w = as_matrix(weight, "weight", min_rows=1).double()
    norms = w.norm(dim=1, keepdim=True)
    unit = torch.where(norms > 0, w / norms.clamp_min(1e-300), torch.zeros_like(w))
    return (unit @ unit.T).abs().clamp_max(1.0)


def direction_groups(weight: TensorLike, threshold: float = 0.95) -> np.ndarray:
    """Group rows into near-parallel directions: average-linkage clustering on
    ``1 - |cos|``, cut at ``1 - threshold``. Returns integer labels ``(n_units,)``."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold!r}")
    cos = weight_cosine(weight).numpy()
    k = cos.shape[0]
    if k == 1:
        return np.zeros(1, dtype=np.int64)
    dist = np.clip(1.0 - cos, 0.0, None)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="average")
    return fcluster(tree, t=1.0 - threshold, criterion="distance").astype(np.int64) - 1


def weight_redundancy(weight: TensorLike, threshold: float = 0.95) -> dict:
    """Pairwise ``|cos|`` statistics of the rows of ``weight``.

    Returns:
        ``mean_abs_cos`` and ``max_abs_cos`` over pairs ``i < j``, ``near_duplicate_pairs``
        (pairs with ``|cos| > threshold``), ``n_direction_groups`` (see
        :func:`direction_groups`) and ``effective_rank`` of ``weight``.
    """
    cos = weight_cosine(weight)
    k = cos.shape[0]
    iu = torch.triu_indices(k, k, offset=1)
    pairs = cos[iu[0], iu[1]]
    return {
        "n_units": k,
        "mean_abs_cos": float(pairs.mean()) if pairs.numel() else 0.0,
        "max_abs_cos": float(pairs.max()) if pairs.numel() else 0.0,
        "near_duplicate_pairs": int((pairs > threshold).sum()),
        "n_direction_groups": int(direction_groups(weight, threshold).max() + 1),
        "effective_rank": effective_rank(weight),
    }


def _covariance(a: torch.Tensor) -> torch.Tensor:
    a = a - a.mean(0, keepdim=True)
    return (a.T @ a).double() / (a.shape[0] - 1)


def _correlation(cov: torch.Tensor, tau: float) -> tuple[torch.Tensor, int]:
    """Correlation of the non-constant units (variance >= tau) and the constant count."""
    keep = torch.diagonal(cov) >= tau
    return correlation(cov[keep][:, keep]), int((~keep).sum())


def pairwise_correlations(
    activations: TensorLike, rel_tau: float = 1e-12
) -> tuple[torch.Tensor, int]:
    """Correlations ``rho_ij`` (``i != j``, flattened, float64) between the units whose
    variance is at least ``rel_tau`` times the largest, and the number left out as
    constant. Scale-free: the same units count whatever the activations' scale.

    Examples:
        >>> a = torch.tensor([[0.0, 1.0, 5.0], [1.0, 0.0, 5.0], [2.0, -1.0, 5.0]])
        >>> rho, constant = pairwise_correlations(a)
        >>> rho.tolist(), constant
        ([-1.0, -1.0], 1)
    """
    cov = _covariance(as_matrix(activations))
    tau = rel_tau * float(torch.diagonal(cov).max())
    corr, constant = _correlation(cov, tau if tau > 0 else 1e-300)
    k = corr.shape[0]
    return corr[~torch.eye(k, dtype=torch.bool)], constant


def correlation_redundancy(activations: TensorLike, tau: float = 1e-12) -> float:
    """Off-diagonal ``||Corr - I||_F^2`` over units with variance ``>= tau``."""
    corr, _ = _correlation(_covariance(as_matrix(activations)), tau)
    return float(off_diagonal_sq(corr))


def gaussian_total_correlation(activations: TensorLike, tau: float = 1e-12) -> float:
    """Gaussian estimate of total correlation, ``-1/2 log det Corr`` in nats (>= 0).

    Exact for jointly Gaussian activations; ``inf`` when units are linearly dependent
    to working precision. Constant units (variance ``< tau``) are left out.
    """
    a = as_matrix(activations)
    corr, _ = _correlation(_covariance(a), tau)
    return _gaussian_tc(corr, torch.finfo(a.dtype).eps, a.shape[0])


def gaussian_tc(corr: torch.Tensor, eps: float) -> torch.Tensor:
    """``-1/2 log det corr`` for a correlation matrix or a batch ``(..., k, k)`` of them,
    from the Cholesky pivots; ``inf`` where ``corr`` is singular to working precision (a
    pivot below ``10 k eps``, ``eps`` of the data's dtype)."""
    k = corr.shape[-1]
    if k == 0:
        return corr.new_zeros(corr.shape[:-2])
    chol, info = torch.linalg.cholesky_ex(corr)
    pivots = torch.diagonal(chol, dim1=-2, dim2=-1) ** 2
    singular = (info != 0) | (pivots.amin(-1) < 10 * k * eps)
    tc = -0.5 * torch.log(pivots).sum(-1)
    return torch.where(singular, torch.full_like(tc, math.inf), tc)


def _gaussian_tc(corr: torch.Tensor, eps: float, n: int) -> float:
    """:func:`gaussian_tc` of one matrix, with a ``RuntimeWarning`` that says why when
    it is ``inf``."""
    tc = float(gaussian_tc(corr, eps))
    if math.isinf(tc):
        k = corr.shape[0]
        why = (
            f"only {n} samples for {k} units"
            if n <= k
            else "some units are (numerically) linear combinations of others"
        )
        warnings.warn(
            f"the Gaussian total correlation is +inf: {why} (the correlation matrix is singular)",
            RuntimeWarning,
            stacklevel=3,
        )
    return tc


def activation_redundancy(activations: TensorLike, tau: float = 1e-12) -> dict:
    """Effective rank (centred), ``||Corr - I||^2`` and Gaussian TC from one covariance.

    Returns:
        ``effective_rank``, ``corr_offdiag_sq``, ``corr_offdiag_sq_per_pair``,
        ``gaussian_tc`` (nats), ``n_constant_units``.
    """
    a = as_matrix(activations)
    cov = _covariance(a)
    eig = torch.linalg.eigvalsh(cov)
    corr, n_const = _correlation(cov, tau)
    k = corr.shape[0]
    offsq = float(off_diagonal_sq(corr))
    return {
        "effective_rank": _erank_from_singular_values(eig.clamp_min(0).sqrt()),
        "corr_offdiag_sq": offsq,
        "corr_offdiag_sq_per_pair": offsq / (k * (k - 1)) if k > 1 else 0.0,
        "gaussian_tc": _gaussian_tc(corr, torch.finfo(a.dtype).eps, a.shape[0]),
        "n_constant_units": n_const,
    }


def near_duplicate_share(activations: TensorLike, threshold: float = 0.9) -> float:
    """The share of live units (variance above 1e-12 of the largest) whose outputs
    correlate with another live unit's above ``threshold`` in ``|corr|``: two units that
    answer the same inputs. ``activations``: ``(n_samples, n_units)``; 0 with fewer than
    two live units.

    Examples:
        >>> a = torch.randn(200, 3, generator=torch.Generator().manual_seed(0))
        >>> near_duplicate_share(torch.cat([a, 2 * a[:, :1]], 1))  # unit 3 copies unit 0
        0.5
    """
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    a = as_matrix(activations).double()
    var = a.var(0)
    live = var > 1e-12 * float(var.max().clamp_min(1e-300))
    if int(live.sum()) < 2:
        return 0.0
    corr = torch.corrcoef(a[:, live].T).abs().fill_diagonal_(0)
    return float((corr.amax(1) > threshold).double().mean())
