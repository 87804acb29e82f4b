r"""Gaussian maths, one class per covariance type, chosen from :data:`COVARIANCES`.

Conventions follow scikit-learn so that fitted attributes are interchangeable:

========== ======================= ====================== =========================
type       covariances             precisions_cholesky    ``P`` with precision = P P^T
========== ======================= ====================== =========================
full       ``(K, D, D)``           ``(K, D, D)`` upper    ``y = (x - mu_k) @ P_k``
tied       ``(D, D)``              ``(D, D)`` upper       shared by all components
diag       ``(K, D)``              ``(K, D)``             ``P = diag(1 / sqrt(var))``
spherical  ``(K,)``                ``(K,)``               ``P = I / sqrt(var)``
========== ======================= ====================== =========================

``log N(x | mu_k, Sigma_k) = -D/2 log 2 pi + log det P_k - 1/2 ||(x - mu_k) P_k||^2``;
the ``log det P_k`` term is the volume term that keeps components from collapsing.

The E-step and M-step are matrix products against a per-sample design row
``f(x) = [q(x), x, 1]``, held transposed as ``F^T`` (:func:`transposed_design`): the
weighted log-densities of all components are ``W @ F^T`` (:func:`design_weights`) and
the counts, first and second moment sums are ``F^T @ R`` (:func:`split_moments`).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable

import numpy as np
import torch
from typing_extensions import override

Tensor = torch.Tensor


class SingularCovarianceError(ValueError):
    """A covariance matrix is not positive definite."""


class Covariance(abc.ABC):
    """The maths of one covariance type; the estimator and solvers never branch on it.

    ``p`` is the precision Cholesky factor in scikit-learn's shapes (module docstring),
    ``cov`` the covariances in the same shape family, ``nk`` the ``(K,)`` soft counts.
    """

    name: str
    reseeds = True  # an emptied component can be moved on its own (not when tied)
    # EM keeps the design chunks between iterations when q(x) is narrow; a triangular
    # q(x) (D(D+1)/2 columns) is cheaper to rebuild per chunk in cache than to stream
    # from memory twice per iteration (full [100k, 32] -> 16: 35 ms vs 46 ms a step)
    cache_design = True

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @abc.abstractmethod
    def shape(self, k: int, d: int) -> tuple[int, ...]:
        """The shape of ``K`` covariances (or precisions) in ``D`` dimensions."""

    def min_count(self, d: int) -> int:
        """Samples' worth of responsibility a component needs for its own covariance."""
        return 1

    @abc.abstractmethod
    def precision_cholesky(self, cov: Tensor) -> Tensor:
        """``P`` with ``P P^T = Sigma^{-1}``; :class:`SingularCovarianceError` if not SPD."""

    @abc.abstractmethod
    def covariances(self, p: Tensor) -> Tensor:
        """Inverse of :meth:`precision_cholesky`: ``Sigma = (P P^T)^{-1}``."""

    @abc.abstractmethod
    def precisions(self, p: Tensor) -> Tensor:
        """``P P^T`` in the covariances' shape."""

    @abc.abstractmethod
    def cholesky_from_precisions(self, prec: Tensor) -> Tensor:
        """``P`` from user-given precisions (``precisions_init``)."""

    @abc.abstractmethod
    def log_det(self, p: Tensor, n_features: int) -> Tensor:
        """``log det P`` per component (a scalar for tied)."""

    @abc.abstractmethod
    def mahalanobis(self, X: Tensor, means: Tensor, p: Tensor) -> Tensor:
        """``||(x_n - mu_k) P_k||^2``, shape ``(N, K)`` (matrix products, no loops)."""

    @abc.abstractmethod
    def map_scale(self, p: Tensor, f: Callable[[Tensor], Tensor]) -> Tensor:
        """``f`` applied to the positive entries of ``P`` (its diagonal, or all of it)."""

    @abc.abstractmethod
    def add_ridge(self, cov: Tensor, reg: float) -> Tensor:
        """``Sigma + reg I``."""

    def symmetrize(self, cov: Tensor) -> Tensor:
        """``(Sigma + Sigma^T) / 2`` (a no-op for diag/spherical)."""
        return cov

    @abc.abstractmethod
    def denominator(
        self, nk: Tensor, n_samples: float | torch.Tensor, n_features: int
    ) -> torch.Tensor | float:
        """What a scatter sum is divided by to give covariances (broadcast to ``cov``)."""

    def covariance_from_scatter(
        self,
        scatter: Tensor,
        nk: Tensor,
        n_samples: float | torch.Tensor,
        n_features: int,
        reg: float,
    ) -> Tensor:
        """``scatter / denominator + reg I`` (the M-step's covariances)."""
        return self.add_ridge(scatter / self.denominator(nk, n_samples, n_features), reg)

    @abc.abstractmethod
    def n_covariance_parameters(self, k: int, d: int) -> float:
        """Free covariance parameters (for BIC/AIC)."""

    @abc.abstractmethod
    def quadratic_rows(self, xT: Tensor, out: Tensor) -> Tensor:
        """``q(x)^T`` into ``out`` ``(Q, N)`` from ``x^T`` ``(D, N)``: ``x^2`` (diag),
        ``|x|^2`` (spherical), ``x_i x_j, i <= j`` row-major (full/tied)."""

    @abc.abstractmethod
    def quadratic_moments(self, cov: Tensor, means: Tensor) -> Tensor:
        """``E_k[q(x)]`` under ``N(mu_k, Sigma_k)``, ``(K, Q)`` (``E x x^T = Sigma + mu mu^T``)."""

    @abc.abstractmethod
    def n_quadratic(self, d: int) -> int:
        """``Q``, the width of ``q(x)``."""

    @abc.abstractmethod
    def quadratic_weights(self, p: Tensor, k: int) -> Tensor:
        """Per component, the weights of ``q(x)`` in ``x^T Sigma^{-1} x``: ``(K, Q)``."""

    @abc.abstractmethod
    def precision_times_means(self, p: Tensor, means: Tensor) -> Tensor:
        """``Sigma_k^{-1} mu_k``, ``(K, D)``."""

    @abc.abstractmethod
    def scatter(self, sx: Tensor, sq: Tensor, nk: Tensor) -> Tensor:
        """Centred scatter ``sum_n r_nk (x - mu_k)(x - mu_k)^T`` from the moment sums."""

    @abc.abstractmethod
    def spread_cholesky(self, var: Tensor) -> Tensor:
        """``P`` of a reseeded component with per-feature variances ``var``."""

    @abc.abstractmethod
    def feature_variances(self, sx: Tensor, sq: Tensor, n: Tensor) -> Tensor:
        """Per-feature variances ``(D,)`` of the distribution with moment sums ``sum x``
        ``(D,)`` and ``sum q(x)`` ``(Q,)`` over ``n`` samples (all components pooled):
        ``sum x_i^2 / n - (sum x_i / n)^2`` (spherical: their mean, in every feature)."""

    @abc.abstractmethod
    def times_covariance(self, cov: Tensor, g: Tensor) -> Tensor:
        """``Sigma_k g_k``, ``(K, D)``."""

    @abc.abstractmethod
    def sandwich(self, cov: Tensor, g: Tensor) -> Tensor:
        """``Sigma G Sigma`` (elementwise ``Sigma^2 G`` for diag/spherical)."""

    @abc.abstractmethod
    def shift_scatter(self, delta: Tensor, nk: Tensor, n_samples: float | torch.Tensor) -> Tensor:
        """The covariance change from moving the means by ``delta``: ``delta delta^T``."""

    @abc.abstractmethod
    def dense(self, cov: np.ndarray, k: int, d: int) -> np.ndarray:
        """Component ``k``'s full ``(D, D)`` covariance (NumPy, for sampling)."""


def _eye_like(t: Tensor) -> Tensor:
    return torch.eye(t.shape[-1], dtype=t.dtype, device=t.device)


def _triu(d: int, device) -> Tensor:
    """Row and column indices ``(2, d (d + 1) / 2)`` of the upper triangle."""
    return torch.triu_indices(d, d, device=device)


class _Triangular(Covariance):
    """Full and tied: ``P`` is an upper-triangular matrix."""

    def precision_cholesky(self, cov):
        chol, info = torch.linalg.cholesky_ex(cov)
        if bool((info > 0).any()):
            raise SingularCovarianceError(
                "a fitted covariance matrix is not positive definite: increase reg_covar, use "
                "fewer components, or scale the data (e.g. standardise the features)"
            )
        eye = _eye_like(cov)
        return torch.linalg.solve_triangular(chol, eye.expand_as(chol), upper=False).mT

    def covariances(self, p):
        inv = torch.linalg.solve_triangular(p, _eye_like(p).expand_as(p), upper=True)  # P^-1
        return inv.mT @ inv

    def precisions(self, p):
        return p @ p.mT

    def cholesky_from_precisions(self, prec):
        return self.precision_cholesky(torch.linalg.inv(prec))

    def log_det(self, p, n_features):
        return torch.log(torch.diagonal(p, dim1=-2, dim2=-1)).sum(-1)

    def map_scale(self, p, f):
        return torch.triu(p, 1) + torch.diag_embed(f(torch.diagonal(p, dim1=-2, dim2=-1)))

    def add_ridge(self, cov, reg):
        return cov + reg * _eye_like(cov)

    def symmetrize(self, cov):
        return (cov + cov.mT) / 2

    cache_design = False

    def quadratic_rows(self, xT, out):
        d = len(xT)  # one contiguous product per feature (rows x_i x_j, j >= i)
        for i, (row, block) in enumerate(
            zip(xT.split(1), out.split(list(range(d, 0, -1))), strict=True)
        ):
            torch.mul(row, xT[i:], out=block)
        return out

    def n_quadratic(self, d):
        return d * (d + 1) // 2

    def quadratic_moments(self, cov, means):
        i, j = _triu(means.shape[1], means.device)
        return cov[..., i, j] + means[:, i] * means[:, j]

    def feature_variances(self, sx, sq, n):
        i, j = _triu(sx.shape[0], sx.device)
        return (sq[i == j] - sx**2 / n).clamp_min(0) / n

    def _upper_weights(self, prec):
        d = prec.shape[-1]
        i, j = _triu(d, prec.device)
        return prec[:, i, j] * torch.where(i == j, 1.0, 2.0).to(prec.dtype)

    def _full_scatter(self, sx, sq, nk):
        d = sx.shape[1]
        i, j = _triu(d, sx.device)
        m = sq.new_zeros(sq.shape[0], d, d)
        m[:, i, j] = sq
        m[:, j, i] = sq
        return m - sx[:, :, None] * sx[:, None, :] / nk[:, None, None]

    def sandwich(self, cov, g):
        return cov @ g @ cov


class Full(_Triangular):
    """One ``(D, D)`` covariance per component."""

    name = "full"

    @override
    def shape(self, k: int, d: int) -> tuple[int, ...]:
        return (k, d, d)

    @override
    def min_count(self, d: int) -> int:
        return d + 1  # fewer points span less than D dimensions: a singular scatter

    @override
    def mahalanobis(self, X: torch.Tensor, means: torch.Tensor, p: torch.Tensor) -> Tensor:
        y = torch.einsum("nd,kde->kne", X, p) - torch.einsum("kd,kde->ke", means, p)[:, None]
        return (y * y).sum(-1).T

    @override
    def denominator(
        self, nk: torch.Tensor, n_samples: float | torch.Tensor, n_features: int
    ) -> torch.Tensor | float:
        return nk[:, None, None]

    @override
    def n_covariance_parameters(self, k: int, d: int) -> float:
        return k * d * (d + 1) / 2

    @override
    def quadratic_weights(self, p: torch.Tensor, k: int) -> Tensor:
        return self._upper_weights(p @ p.mT)

    @override
    def precision_times_means(self, p: torch.Tensor, means: torch.Tensor) -> Tensor:
        return torch.einsum("kde,ke->kd", p @ p.mT, means)

    @override
    def scatter(self, sx: torch.Tensor, sq: torch.Tensor, nk: torch.Tensor) -> Tensor:
        return self._full_scatter(sx, sq, nk)

    @override
    def spread_cholesky(self, var: torch.Tensor) -> Tensor:
        return torch.diag(var.rsqrt())

    @override
    def times_covariance(self, cov: torch.Tensor, g: torch.Tensor) -> Tensor:
        return torch.einsum("kde,ke->kd", cov, g)

    @override
    def shift_scatter(
        self, delta: torch.Tensor, nk: torch.Tensor, n_samples: float | torch.Tensor
    ) -> Tensor:
        return delta[:, :, None] * delta[:, None, :]

    @override
    def dense(self, cov: np.ndarray, k: int, d: int) -> np.ndarray:
        return cov[k]


class Tied(_Triangular):
    """One ``(D, D)`` covariance shared by all components."""

    name = "tied"
    reseeds = False

    @override
    def shape(self, k: int, d: int) -> tuple[int, ...]:
        return (d, d)

    @override
    def mahalanobis(self, X: torch.Tensor, means: torch.Tensor, p: torch.Tensor) -> Tensor:
        y, m = X @ p, means @ p
        return (y * y).sum(1, keepdim=True) - 2 * y @ m.T + (m * m).sum(1)

    @override
    def denominator(
        self, nk: torch.Tensor, n_samples: float | torch.Tensor, n_features: int
    ) -> torch.Tensor | float:
        return n_samples

    @override
    def n_covariance_parameters(self, k: int, d: int) -> float:
        return d * (d + 1) / 2

    @override
    def quadratic_weights(self, p: torch.Tensor, k: int) -> Tensor:
        prec = p @ p.mT
        return self._upper_weights(prec.expand(k, *prec.shape))

    @override
    def precision_times_means(self, p: torch.Tensor, means: torch.Tensor) -> Tensor:
        return means @ (p @ p.mT)  # the precision is symmetric

    @override
    def scatter(self, sx: torch.Tensor, sq: torch.Tensor, nk: torch.Tensor) -> Tensor:
        return self._full_scatter(sx, sq, nk).sum(0)

    @override
    def spread_cholesky(self, var: torch.Tensor) -> Tensor:
        raise TypeError("a tied covariance is shared: one component cannot be reseeded alone")

    @override
    def times_covariance(self, cov: torch.Tensor, g: torch.Tensor) -> Tensor:
        return g @ cov

    @override
    def shift_scatter(
        self, delta: torch.Tensor, nk: torch.Tensor, n_samples: float | torch.Tensor
    ) -> Tensor:
        return (nk[:, None] * delta).T @ delta / n_samples

    @override
    def dense(self, cov: np.ndarray, k: int, d: int) -> np.ndarray:
        return cov


class _Elementwise(Covariance):
    """Diag and spherical: ``P`` holds inverse standard deviations."""

    def precision_cholesky(self, cov):
        if bool((cov <= 0).any()):
            raise SingularCovarianceError(
                "a fitted variance is <= 0: increase reg_covar, use fewer components, or "
                "scale the data"
            )
        return cov.rsqrt()

    def covariances(self, p):
        return 1.0 / p**2

    def precisions(self, p):
        return p**2

    def cholesky_from_precisions(self, prec):
        return prec.sqrt()

    def map_scale(self, p, f):
        return f(p)

    def add_ridge(self, cov, reg):
        return cov + reg

    def sandwich(self, cov, g):
        return cov**2 * g


class Diag(_Elementwise):
    """A variance per component and feature."""

    name = "diag"

    @override
    def shape(self, k: int, d: int) -> tuple[int, ...]:
        return (k, d)

    @override
    def log_det(self, p: torch.Tensor, n_features: int) -> Tensor:
        return torch.log(p).sum(-1)

    @override
    def mahalanobis(self, X: torch.Tensor, means: torch.Tensor, p: torch.Tensor) -> Tensor:
        prec = p**2  # (K, D)
        return (X * X) @ prec.T - 2 * X @ (means * prec).T + (means**2 * prec).sum(1)

    @override
    def denominator(
        self, nk: torch.Tensor, n_samples: float | torch.Tensor, n_features: int
    ) -> torch.Tensor | float:
        return nk[:, None]

    @override
    def n_covariance_parameters(self, k: int, d: int) -> float:
        return k * d

    @override
    def quadratic_rows(self, xT: torch.Tensor, out: torch.Tensor) -> Tensor:
        return torch.mul(xT, xT, out=out)

    @override
    def quadratic_moments(self, cov: torch.Tensor, means: torch.Tensor) -> Tensor:
        return cov + means**2

    @override
    def n_quadratic(self, d: int) -> int:
        return d

    @override
    def quadratic_weights(self, p: torch.Tensor, k: int) -> Tensor:
        return p**2

    @override
    def precision_times_means(self, p: torch.Tensor, means: torch.Tensor) -> Tensor:
        return p**2 * means

    @override
    def scatter(self, sx: torch.Tensor, sq: torch.Tensor, nk: torch.Tensor) -> Tensor:
        return (sq - sx**2 / nk[:, None]).clamp_min(0)

    @override
    def spread_cholesky(self, var: torch.Tensor) -> Tensor:
        return var.rsqrt()

    @override
    def feature_variances(self, sx: Tensor, sq: Tensor, n: Tensor) -> Tensor:
        return (sq - sx**2 / n).clamp_min(0) / n

    @override
    def times_covariance(self, cov: torch.Tensor, g: torch.Tensor) -> Tensor:
        return cov * g

    @override
    def shift_scatter(
        self, delta: torch.Tensor, nk: torch.Tensor, n_samples: float | torch.Tensor
    ) -> Tensor:
        return delta**2

    @override
    def dense(self, cov: np.ndarray, k: int, d: int) -> np.ndarray:
        return np.diag(cov[k])


class Spherical(_Elementwise):
    """One variance per component."""

    name = "spherical"

    @override
    def shape(self, k: int, d: int) -> tuple[int, ...]:
        return (k,)

    @override
    def log_det(self, p: torch.Tensor, n_features: int) -> Tensor:
        return n_features * torch.log(p)

    @override
    def mahalanobis(self, X: torch.Tensor, means: torch.Tensor, p: torch.Tensor) -> Tensor:
        prec = p**2  # (K,)
        return (
            (X * X).sum(1, keepdim=True) * prec
            - 2 * (X @ means.T) * prec
            + (means**2).sum(1) * prec
        )

    @override
    def denominator(
        self, nk: torch.Tensor, n_samples: float | torch.Tensor, n_features: int
    ) -> torch.Tensor | float:
        return nk * n_features

    @override
    def n_covariance_parameters(self, k: int, d: int) -> float:
        return k

    @override
    def quadratic_rows(self, xT: torch.Tensor, out: torch.Tensor) -> Tensor:
        return torch.sum(xT * xT, 0, keepdim=True, out=out)

    @override
    def quadratic_moments(self, cov: torch.Tensor, means: torch.Tensor) -> Tensor:
        return (means.shape[1] * cov + (means**2).sum(1))[:, None]

    @override
    def n_quadratic(self, d: int) -> int:
        return 1

    @override
    def quadratic_weights(self, p: torch.Tensor, k: int) -> Tensor:
        return (p**2)[:, None]

    @override
    def precision_times_means(self, p: torch.Tensor, means: torch.Tensor) -> Tensor:
        return (p**2)[:, None] * means

    @override
    def scatter(self, sx: torch.Tensor, sq: torch.Tensor, nk: torch.Tensor) -> Tensor:
        return (sq[:, 0] - (sx**2).sum(1) / nk).clamp_min(0)

    @override
    def spread_cholesky(self, var: torch.Tensor) -> Tensor:
        return var.mean().rsqrt()

    @override
    def feature_variances(self, sx: Tensor, sq: Tensor, n: Tensor) -> Tensor:
        d = sx.shape[0]
        return ((sq[0] - (sx**2).sum() / n).clamp_min(0) / (n * d)).expand(d)

    @override
    def times_covariance(self, cov: torch.Tensor, g: torch.Tensor) -> Tensor:
        return cov[:, None] * g

    @override
    def shift_scatter(
        self, delta: torch.Tensor, nk: torch.Tensor, n_samples: float | torch.Tensor
    ) -> Tensor:
        return (delta**2).sum(1) / delta.shape[1]

    @override
    def dense(self, cov: np.ndarray, k: int, d: int) -> np.ndarray:
        return np.eye(d) * cov[k]


COVARIANCES: dict[str, Covariance] = {c.name: c for c in (Full(), Tied(), Diag(), Spherical())}
COVARIANCE_TYPES = tuple(COVARIANCES)


def log_gaussian_prob(X: Tensor, means: Tensor, p: Tensor, cov: Covariance) -> Tensor:
    """``log N(x_n | mu_k, Sigma_k)``, shape ``(N, K)``."""
    d = X.shape[1]
    log_det = cov.log_det(p, d)  # before the Mahalanobis term: autograd then sums the
    maha = cov.mahalanobis(X, means, p)  # gradients of p in one fixed order
    return -0.5 * (d * math.log(2 * math.pi) + maha.clamp_min(0)) + log_det


def n_parameters(n_components: int, n_features: int, cov: Covariance) -> int:
    """Free parameters of the model (for BIC/AIC), as in scikit-learn."""
    k, d = n_components, n_features
    return int(cov.n_covariance_parameters(k, d) + k * d + k - 1)


def transposed_design(xT: Tensor, cov: Covariance, out: Tensor | None = None) -> Tensor:
    """``F^T = [q(x); x; 1]`` from ``x^T`` ``(D, N)``: shape ``(Q + D + 1, N)``, written
    into ``out`` when given (a reused buffer)."""
    d, n = xT.shape
    q = cov.n_quadratic(d)
    out = xT.new_empty(q + d + 1, n) if out is None else out
    out[q : q + d].copy_(xT)
    out[-1].fill_(1)
    cov.quadratic_rows(out[q : q + d], out[:q])
    return out


def design_matrix(X: Tensor, cov: Covariance) -> Tensor:
    """``F = [q(x), x, 1]``, shape ``(N, Q + D + 1)`` (a transposed view)."""
    return transposed_design(X.T, cov).T


def design_width(n_features: int, cov: Covariance) -> int:
    """Columns of :func:`design_matrix`."""
    return cov.n_quadratic(n_features) + n_features + 1


def design_weights(means: Tensor, p: Tensor, log_weights: Tensor, cov: Covariance) -> Tensor:
    """``W`` with ``F @ W^T = log pi_k + log N(x | mu_k, Sigma_k)``: ``(K, Q + D + 1)``.

    ``-1/2 (x - mu)^T A (x - mu) = -1/2 q(x) . a + x . A mu - 1/2 mu^T A mu``; the
    constant column carries ``log det P + log pi - D/2 log 2 pi``.
    """
    k, d = means.shape
    a_mu = cov.precision_times_means(p, means)
    const = (
        cov.log_det(p, d) + log_weights - 0.5 * (d * math.log(2 * math.pi) + (means * a_mu).sum(1))
    )
    quad = cov.quadratic_weights(p, k)
    return torch.cat([-0.5 * quad, a_mu, const.expand(k)[:, None]], 1)


def normalize_log_prob(wlp: Tensor, dim: int = 1) -> tuple[Tensor, Tensor]:
    """``(log sum_k exp(wlp), responsibilities)`` along ``dim``, without subnormals.

    Exponents are clamped at ``log(tiny) + 1`` (about -86 in float32): responsibilities
    below ``~1e-37`` become that floor instead of subnormal numbers, whose arithmetic is
    ~10x slower on CPUs. The effect on the log-likelihood is below ``K * 1e-37``.
    """
    m = wlp.amax(dim, keepdim=True)
    floor = math.log(torch.finfo(wlp.dtype).tiny) + 1.0
    e = torch.exp((wlp - m).clamp_min_(floor))
    total = e.sum(dim, keepdim=True)
    return (m + torch.log(total)).squeeze(dim), e.div_(total)


def split_moments(sums: Tensor, n_features: int) -> tuple[Tensor, Tensor, Tensor]:
    """``(nk, sx, sq)`` from ``R^T F`` ``(K, Q + D + 1)``: counts, ``sum r x``, ``sum r
    q(x)``."""
    d = n_features
    return sums[:, -1], sums[:, -1 - d : -1], sums[:, : -1 - d]


def far_log_resp(X: Tensor, params: dict, cov: Covariance) -> Tensor:
    r"""Log-responsibilities of rows whose log-densities all underflow (``|x|`` ~ 1e200).

    With ``c = max_j |x_j|`` and ``q_k`` the Mahalanobis term, ``log pi_k N_k(x) =
    -c^2 q_k(x / c) / 2 + a_k``: the responsibilities are the softmax of
    ``c^2 (t_k - max t) + a_k`` with ``t_k = -q_k(x/c) / 2`` finite, so every component
    but the nearest (in ``q(x/c)``) gets exactly 0 and ties share by ``a_k``.
    """
    d = X.shape[1]
    c = X.abs().amax(1, keepdim=True)
    const = cov.log_det(params["p"], d) - 0.5 * d * math.log(2 * math.pi)
    t = torch.cat(
        [
            log_gaussian_prob(x / cc, params["means"] / cc, params["p"], cov)[:1] - const
            for x, cc in zip(X.split(1), c, strict=True)
        ]
    )  # one row at a time: the means are scaled by that row's c (rare rows only)
    gap = (t - t.amax(1, keepdim=True)) * c * c  # -inf where the gap overflows
    return torch.log_softmax(gap + const + torch.log(params["weights"]), 1)
