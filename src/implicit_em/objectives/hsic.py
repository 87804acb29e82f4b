r"""HSIC (Hilbert-Schmidt independence criterion) with Gaussian kernels.

``hsic`` (biased V-statistic ``tr(K H L H) / (n-1)^2``, or the unbiased U-statistic of
Song et al. 2012), ``hsic_rff`` (linear time: random Fourier features, ``||Cov(phi(x),
psi(y))||_F^2``), and ``pairwise_hsic`` -- the sum of HSIC over all pairs of units, a
redundancy loss that also sees non-linear dependence. Bandwidths use the median
heuristic (computed without gradient).
"""

from __future__ import annotations

import math

import torch

from ._moments import as_batch


def _as_2d(x, name):
    if x.ndim == 1:
        x = x[:, None]
    return as_batch(x, name, min_rows=2)


def median_bandwidth(x: torch.Tensor) -> torch.Tensor:
    """Median pairwise distance of the rows of ``x`` (no gradient; 1 if all equal)."""
    with torch.no_grad():
        d = torch.cdist(x, x)
        iu = torch.triu_indices(len(x), len(x), 1, device=x.device)
        med = d[iu[0], iu[1]].median()
        return torch.where(med > 0, med, torch.ones_like(med))


def gaussian_kernel(x: torch.Tensor, bandwidth=None) -> torch.Tensor:
    """``exp(-||x_i - x_j||^2 / (2 sigma^2))`` with ``sigma`` = ``bandwidth`` or the median."""
    sigma = median_bandwidth(x) if bandwidth is None else bandwidth
    return torch.exp(-(torch.cdist(x, x) ** 2) / (2 * sigma**2))


def _center(k: torch.Tensor) -> torch.Tensor:
    return k - k.mean(-1, keepdim=True) - k.mean(-2, keepdim=True) + k.mean((-1, -2), keepdim=True)


def hsic(x, y, *, estimator: str = "biased", bandwidth_x=None, bandwidth_y=None):
    r"""HSIC between samples ``x`` ``(n, dx)`` and ``y`` ``(n, dy)`` (1-D allowed).

    ``estimator="biased"``: ``tr(K H L H) / (n - 1)^2``; ``"unbiased"`` (needs n >= 4):
    Song et al. (2012). Zero (in expectation) iff independent, for characteristic kernels.
    """
    x, y = _as_2d(x, "x"), _as_2d(y, "y")
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"x and y need the same number of samples, got {n} and {y.shape[0]}")
    k, l_ = gaussian_kernel(x, bandwidth_x), gaussian_kernel(y, bandwidth_y)
    if estimator == "biased":
        return (_center(k) * l_).sum() / (n - 1) ** 2
    if estimator != "unbiased":
        raise ValueError(f"estimator must be 'biased' or 'unbiased', got {estimator!r}")
    if n < 4:
        raise ValueError(f"the unbiased estimator needs at least 4 samples, got {n}")
    k = k - torch.diag(torch.diagonal(k))
    l_ = l_ - torch.diag(torch.diagonal(l_))
    term1 = (k * l_).sum()
    term2 = k.sum() * l_.sum() / ((n - 1) * (n - 2))
    term3 = 2 * (k.sum(0) * l_.sum(0)).sum() / (n - 2)
    return (term1 + term2 - term3) / (n * (n - 3))


def _rff(x, n_features, sigma, generator):
    w = torch.randn(x.shape[1], n_features, generator=generator, dtype=x.dtype) / sigma.cpu()
    b = 2 * math.pi * torch.rand(n_features, generator=generator, dtype=x.dtype)
    return math.sqrt(2.0 / n_features) * torch.cos(x @ w.to(x.device) + b.to(x.device))


def hsic_rff(x, y, *, n_features: int = 256, seed: int = 0):
    r"""Linear-time HSIC with ``n_features`` random Fourier features per variable:
    ``||Cov(phi(x), psi(y))||_F^2``, an unbiasedly-approximated biased HSIC."""
    x, y = _as_2d(x, "x"), _as_2d(y, "y")
    n = x.shape[0]
    g = torch.Generator().manual_seed(seed)
    fx = _rff(x, n_features, median_bandwidth(x), g)
    fy = _rff(y, n_features, median_bandwidth(y), g)
    c = (fx - fx.mean(0)).T @ (fy - fy.mean(0)) / (n - 1)
    return (c * c).sum()


def pairwise_hsic(z, *, n_features: int | None = None, seed: int = 0, bandwidth=None):
    r"""``sum_{i < j} HSIC(z_i, z_j)`` over the units (columns) of ``z`` ``(n, K)``.

    Exact (biased) with ``n_features=None`` -- memory ``K n^2`` -- or with random Fourier
    features (memory ``(K m)^2``). ``bandwidth``: one kernel width for every unit
    (default: each unit's median heuristic, treated as a constant by autograd).
    """
    z = as_batch(z)
    n, k = z.shape
    if k < 2:
        return z.new_zeros(())
    if n_features is None:
        kern = torch.stack([gaussian_kernel(z[:, j : j + 1], bandwidth) for j in range(k)])
        flat = _center(kern).reshape(k, -1)
        gram = flat @ kern.reshape(k, -1).T / (n - 1) ** 2  # <H K_i H, K_j>
    else:
        g = torch.Generator().manual_seed(seed)
        feats = torch.stack(
            [
                _rff(z[:, j : j + 1], n_features, median_bandwidth(z[:, j : j + 1]), g)
                for j in range(k)
            ],
            1,
        )  # (n, K, m)
        f = (feats - feats.mean(0)).reshape(n, -1)
        c = (f.T @ f / (n - 1)).reshape(k, n_features, k, n_features)
        gram = (c * c).sum((1, 3))
    iu = torch.triu_indices(k, k, 1, device=z.device)
    return gram[iu[0], iu[1]].sum()
