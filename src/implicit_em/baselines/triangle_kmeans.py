r"""Coates & Ng's triangle k-means (AISTATS 2011): hard-EM prototypes and a competitive
activation.

Fit: normalise each sample (``(x - mean(x)) / sqrt(var(x) + eps_norm)``), whiten (ZCA,
``P = V (Λ + eps_zca)^{-1/2} V^T``) or standardise, then k-means (scikit-learn's
``KMeans``). Features: with ``z_k = ||x - c_k||``, ``f_k = max(0, mean_j z_j - z_k)`` --
a unit fires only when its centroid is nearer than average, about half of them are 0.
Followed: the authors' ``kmeans_demo`` code (``sqrt(var + 10)`` on 0-255 pixels);
``eps_norm`` here is for pixels in ``[0, 1]`` (``10 / 255^2``).

Not followed: their ZCA ``eps = 0.1``, set for 6×6 colour patches of natural images. On
whole 28×28 digits most of the 784 directions carry almost no variance, and
``eps = 0.1`` blows them up to the size of the strokes: the k-means distances are then
mostly noise. Validation on MNIST's 60k training images (50k fit / 10k held out,
``bench/baseline_defaults.py``) at 64 centroids: 77.9 % with ``eps_zca = 0.1``,
92.7 / 94.1 / 93.7 % with 1 / 10 / 100, 93.5 % unwhitened; so the default is 10.
"""

from __future__ import annotations

import torch

from .._checks import check_count, check_number
from .._sklearn import one_thread
from .base import FeatureLearner

WHITENING = ("zca", "standardize", "none")


def triangle_features(x: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """``max(0, mean_j z_j - z_k)`` with ``z_k = ||x - c_k||``; ``(n, D), (K, D) -> (n, K)``."""
    z = torch.cdist(x, centroids)
    return torch.relu(z.mean(1, keepdim=True) - z)


class TriangleKMeans(FeatureLearner):
    """Args:
        n_components: ``K`` centroids.
        whiten: ``"zca"`` (default, as the paper), ``"standardize"`` (per feature) or
            ``"none"``; each after the per-sample normalisation.
        eps_norm: the per-sample normalisation's regulariser.
        eps_zca: the ZCA whitening's regulariser, added to the eigenvalues of the
            normalised data's covariance (validated on MNIST, see the module).
        init: ``"random"`` (data points, as the authors' random start; fast for many
            centroids) or ``"k-means++"``.
        max_iter: k-means iterations (one run; the authors ran 50).
        seed: seeds the initial centroids.

    Examples:
        >>> km = TriangleKMeans(4, seed=0).fit(torch.rand(64, 9))
        >>> km.transform(torch.rand(5, 9)).shape
        torch.Size([5, 4])
    """

    def __init__(self, n_components: int, *, whiten: str = "zca", eps_norm: float = 10 / 255**2,
                 eps_zca: float = 10.0, init: str = "random", max_iter: int = 50,
                 seed: int = 0):  # fmt: skip
        if whiten not in WHITENING:
            raise ValueError(f"whiten must be one of {WHITENING}, got {whiten!r}")
        self.n_components = check_count(n_components, "n_components")
        self.whiten = whiten
        self.eps_norm = check_number(eps_norm, "eps_norm", strict=False)
        self.eps_zca = check_number(eps_zca, "eps_zca")
        if init not in ("random", "k-means++"):
            raise ValueError(f"init must be 'random' or 'k-means++', got {init!r}")
        self.init = init
        self.max_iter = check_count(max_iter, "max_iter")
        self.seed = seed

    def _per_sample(self, x: torch.Tensor) -> torch.Tensor:
        """Each sample centred and scaled: ``(x - mean(x)) / sqrt(var(x) + eps_norm)``."""
        return (x - x.mean(1, keepdim=True)) / torch.sqrt(x.var(1, keepdim=True) + self.eps_norm)

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (self._per_sample(x) - self.mean_) @ self.whitening_

    def _fit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        from sklearn.cluster import KMeans

        if x.shape[0] < self.n_components:
            raise ValueError(
                f"k-means needs at least n_components = {self.n_components} samples, got "
                f"{x.shape[0]}"
            )
        xn = self._per_sample(x)
        self.mean_ = xn.mean(0)
        xc = (xn - self.mean_).double()
        d = x.shape[1]
        if self.whiten == "zca":
            lam, v = torch.linalg.eigh(xc.T @ xc / (len(xc) - 1))
            self.whitening_ = ((v / torch.sqrt(lam.clamp_min(0) + self.eps_zca)) @ v.T).float()
        elif self.whiten == "standardize":
            self.whitening_ = torch.diag(1 / (xc.std(0) + 1e-8)).float()
        else:
            self.whitening_ = torch.eye(d)
        xw = (xn - self.mean_) @ self.whitening_
        km = KMeans(self.n_components, init=self.init, n_init=1, max_iter=self.max_iter,
                    random_state=self.seed)  # fmt: skip
        with one_thread():  # see implicit_em._sklearn
            km.fit(xw.numpy())
        self.centroids_ = torch.as_tensor(km.cluster_centers_, dtype=torch.float32)
        self.n_iter_ = int(km.n_iter_)

    def _transform(self, x: torch.Tensor) -> torch.Tensor:
        return triangle_features(self._normalise(x), self.centroids_)

    @property
    def n_parameters(self) -> int:
        """Centroids plus the whitening (mean and matrix)."""
        d = self.n_features_in_
        return self.n_components * d + d + d * d * (self.whiten != "none")
