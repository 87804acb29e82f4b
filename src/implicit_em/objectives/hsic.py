r"""HSIC (Hilbert-Schmidt independence criterion) with Gaussian kernels.

``hsic`` (biased V-statistic ``tr(K H L H) / (n-1)^2``, or the unbiased U-statistic of
Song et al. 2012), ``hsic_rff`` (linear time: random Fourier features, ``||Cov(phi(x),
psi(y))||_F^2``), and ``pairwise_hsic`` -- the sum of HSIC over all pairs of units, a
redundancy loss that also sees non-linear dependence. Bandwidths use the median
heuristic (computed without gradient, on at most ``MEDIAN_ROWS`` evenly spaced rows so
that the random-feature versions stay linear in the batch size).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from typing_extensions import override

from .._checks import check_count, check_number
from ._moments import Gram, as_batch


def _as_2d(x, name):
    if x.ndim == 1:
        x = x[:, None]
    return as_batch(x, name, min_rows=2)


MEDIAN_ROWS = 1024


def _check_bandwidth(bandwidth, name: str):
    """``None`` (the median heuristic), a finite number > 0, or a tensor of them."""
    if bandwidth is None:
        return None
    if isinstance(bandwidth, torch.Tensor):
        if not (torch.isfinite(bandwidth).all() and (bandwidth > 0).all()):
            raise ValueError(f"{name} must be finite and > 0 (or None for the median), got "
                             f"{bandwidth}")  # fmt: skip
        return bandwidth
    return check_number(bandwidth, f"{name} (None: the median heuristic)")


def _subsample(x: torch.Tensor, rows: int) -> torch.Tensor:
    if len(x) <= rows:
        return x
    return x[torch.linspace(0, len(x) - 1, rows, device=x.device).long()]


def median_bandwidth(x: torch.Tensor) -> torch.Tensor:
    """Median pairwise distance of the rows of ``x`` ``(n, d)`` or ``(n,)`` (no gradient;
    1 if all equal; from ``MEDIAN_ROWS`` evenly spaced rows when there are more)."""
    return _median_bandwidth(_as_2d(x, "x"))


def _median_bandwidth(x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        x = _subsample(x, MEDIAN_ROWS)
        d = torch.cdist(x, x)
        iu = torch.triu_indices(len(x), len(x), 1, device=x.device)
        med = d[iu[0], iu[1]].median()
        return torch.where(med > 0, med, torch.ones_like(med))


def unit_median_bandwidths(z: torch.Tensor) -> torch.Tensor:
    """Per column of ``z`` ``(n, K)``, the median ``|z_i - z_j|`` over pairs: ``(K,)``
    (no gradient; from ``MEDIAN_ROWS // 8`` evenly spaced rows -- 8128 pairs -- when there
    are more)."""
    return _unit_median_bandwidths(as_batch(z))


def _unit_median_bandwidths(z: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        x = _subsample(z, MEDIAN_ROWS // 8)
        iu = torch.triu_indices(len(x), len(x), 1, device=z.device)
        med = (x[iu[0]] - x[iu[1]]).abs().median(0).values
        return torch.where(med > 0, med, torch.ones_like(med))


def gaussian_kernel(x: torch.Tensor, bandwidth: float | torch.Tensor | None = None) -> torch.Tensor:
    """``exp(-||x_i - x_j||^2 / (2 sigma^2))`` with ``sigma`` = ``bandwidth`` or the median;
    ``x``: ``(n, d)`` or ``(n,)``, output ``(n, n)``."""
    return _gaussian_kernel(_as_2d(x, "x"), _check_bandwidth(bandwidth, "bandwidth"))


def _gaussian_kernel(x: torch.Tensor, bandwidth=None) -> torch.Tensor:
    sigma = _median_bandwidth(x) if bandwidth is None else bandwidth
    return torch.exp(-(torch.cdist(x, x) ** 2) / (2 * sigma**2))


def center_gram(k: torch.Tensor) -> torch.Tensor:
    """The doubly centred Gram matrix ``H K H`` with ``H = I - 1/n``."""
    return k - k.mean(-1, keepdim=True) - k.mean(-2, keepdim=True) + k.mean((-1, -2), keepdim=True)


def hsic(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    estimator: str = "biased",
    bandwidth_x: float | torch.Tensor | None = None,
    bandwidth_y: float | torch.Tensor | None = None,
) -> torch.Tensor:
    r"""HSIC between samples ``x`` ``(n, dx)`` and ``y`` ``(n, dy)`` (1-D allowed).

    ``estimator="biased"``: ``tr(K H L H) / (n - 1)^2``; ``"unbiased"`` (needs n >= 4):
    Song et al. (2012). Zero (in expectation) iff independent, for characteristic kernels.
    """
    bandwidth_x = _check_bandwidth(bandwidth_x, "bandwidth_x")
    bandwidth_y = _check_bandwidth(bandwidth_y, "bandwidth_y")
    x, y = _as_2d(x, "x"), _as_2d(y, "y")
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"x and y need the same number of samples, got {n} and {y.shape[0]}")
    k, l_ = _gaussian_kernel(x, bandwidth_x), _gaussian_kernel(y, bandwidth_y)
    if estimator == "biased":
        return (center_gram(k) * l_).sum() / (n - 1) ** 2
    if estimator != "unbiased":
        raise ValueError(f"estimator must be 'biased' or 'unbiased', got {estimator!r}")
    if n < 4:
        raise ValueError(f"the unbiased estimator needs x and y with at least 4 samples, got {n}")
    k = k - torch.diag(torch.diagonal(k))
    l_ = l_ - torch.diag(torch.diagonal(l_))
    term1 = (k * l_).sum()
    term2 = k.sum() * l_.sum() / ((n - 1) * (n - 2))
    term3 = 2 * (k.sum(0) * l_.sum(0)).sum() / (n - 2)
    return (term1 + term2 - term3) / (n * (n - 3))


MAX_ELEMENTS = 2**28  # random features beyond this (1 GiB of float32) are refused


def _check_features(n: int, n_features: int, units: int = 1) -> None:
    size = n * n_features * units
    if size > MAX_ELEMENTS or (units * n_features) ** 2 > MAX_ELEMENTS:
        raise ValueError(
            f"n_features={n_features} makes {size:.3g} random-feature values for {n} rows "
            f"and {units} unit(s), more than {MAX_ELEMENTS:.3g}: use fewer n_features"
        )


def _rff(x, n_features, sigma, generator):
    w = torch.randn(x.shape[1], n_features, generator=generator, dtype=x.dtype) / sigma.cpu()
    b = 2 * math.pi * torch.rand(n_features, generator=generator, dtype=x.dtype)
    return math.sqrt(2.0 / n_features) * torch.cos(x @ w.to(x.device) + b.to(x.device))


def hsic_rff(
    x: torch.Tensor, y: torch.Tensor, *, n_features: int = 256, seed: int = 0
) -> torch.Tensor:
    r"""Linear-time HSIC with ``n_features`` random Fourier features per variable:
    ``||Cov(phi(x), psi(y))||_F^2``, an unbiasedly-approximated biased HSIC."""
    n_features = check_count(n_features, "n_features")
    x, y = _as_2d(x, "x"), _as_2d(y, "y")
    n = x.shape[0]
    _check_features(n, n_features)
    g = torch.Generator().manual_seed(seed)
    fx = _rff(x, n_features, _median_bandwidth(x), g)
    fy = _rff(y, n_features, _median_bandwidth(y), g)
    c = (fx - fx.mean(0)).T @ (fy - fy.mean(0)) / (n - 1)
    return (c * c).sum()


def pairwise_hsic(
    z: torch.Tensor,
    *,
    n_features: int | None = None,
    seed: int = 0,
    bandwidth: float | torch.Tensor | None = None,
) -> torch.Tensor:
    r"""``sum_{i < j} HSIC(z_i, z_j)`` over the units (columns) of ``z`` ``(n, K)``.

    Exact (biased) with ``n_features=None`` -- memory ``K n^2`` -- or with ``n_features``
    random Fourier features per unit (memory ``n K m + (K m)^2``, linear in ``n``):
    ``(||C||_F^2 - sum_i ||C_ii||_F^2) / 2`` with ``C`` the covariance of all units'
    features. ``bandwidth``: one kernel width for every unit (default: each unit's
    median heuristic, treated as a constant by autograd).
    """
    bandwidth = _check_bandwidth(bandwidth, "bandwidth")
    if n_features is not None:
        n_features = check_count(n_features, "n_features (None: exact)")
    z = as_batch(z)
    n, k = z.shape
    if k < 2:
        return z.new_zeros(())
    sigma = _unit_median_bandwidths(z) if bandwidth is None else torch.as_tensor(bandwidth)
    sigma = sigma.to(z).expand(k)
    if n_features is None:
        diff = (z[:, None, :] - z[None, :, :]) / sigma  # (n, n, K)
        kern = torch.exp(-0.5 * diff * diff).permute(2, 0, 1)  # (K, n, n)
        gram = center_gram(kern).reshape(k, -1) @ kern.reshape(k, -1).T / (n - 1) ** 2
        iu = torch.triu_indices(k, k, 1, device=z.device)
        return gram[iu[0], iu[1]].sum()
    _check_features(n, n_features, k)
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(k, n_features, generator=g, dtype=z.dtype).to(z.device) / sigma[:, None]
    b = (2 * math.pi * torch.rand(k, n_features, generator=g, dtype=z.dtype)).to(z.device)
    feats = math.sqrt(2.0 / n_features) * torch.cos(z[:, :, None] * w + b)  # (n, K, m)
    f = feats - feats.mean(0)
    flat = f.reshape(n, -1)
    # ||F^T F||_F = ||F F^T||_F: use the smaller Gram (one-GEMM backward)
    total = (Gram.apply(flat.T if n < flat.shape[1] else flat) ** 2).sum()
    own = (torch.einsum("nkm,nkl->kml", f, f) ** 2).sum()
    return (total - own) / (2 * (n - 1) ** 2)


class PairwiseHSIC(nn.Module):
    """Module form of :func:`pairwise_hsic` (a redundancy loss over units).

    Examples:
        >>> z = torch.randn(256, 8)
        >>> float(PairwiseHSIC(n_features=32)(z)) >= 0
        True
    """

    def __init__(
        self,
        n_features: int | None = 64,
        seed: int = 0,
        bandwidth: float | torch.Tensor | None = None,
    ):
        super().__init__()
        self.n_features, self.seed, self.bandwidth = n_features, seed, bandwidth

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return pairwise_hsic(
            z, n_features=self.n_features, seed=self.seed, bandwidth=self.bandwidth
        )

    @override
    def extra_repr(self) -> str:
        return f"n_features={self.n_features}, seed={self.seed}"
