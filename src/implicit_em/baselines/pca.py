"""PCA features (scikit-learn's ``PCA``) on tensors: the linear, second-order baseline."""

from __future__ import annotations

import torch

from .._checks import check_count
from .base import FeatureLearner


class PCA(FeatureLearner):
    """Args:
        n_components: ``K <= min(n, D)`` principal components.
        whiten: scale each component to unit variance.
        seed: for the randomised solver scikit-learn may pick.

    Examples:
        >>> PCA(2).fit(torch.randn(50, 5)).transform(torch.randn(3, 5)).shape
        torch.Size([3, 2])
    """

    def __init__(self, n_components: int, *, whiten: bool = False, seed: int = 0):
        self.n_components = check_count(n_components, "n_components")
        self.whiten = bool(whiten)
        self.seed = seed

    def _fit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        from sklearn.decomposition import PCA as _SkPCA

        if self.n_components > min(x.shape):
            raise ValueError(
                f"n_components = {self.n_components} exceeds min(n_samples, n_features) = "
                f"{min(x.shape)}"
            )
        self.model_ = _SkPCA(self.n_components, whiten=self.whiten, random_state=self.seed)
        self.model_.fit(x.numpy())

    def _transform(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.model_.transform(x.numpy()), dtype=torch.float32)

    @property
    def n_parameters(self) -> int:
        """Number of learned parameters (for the per-parameter comparison)."""
        return self.n_components * self.n_features_in_ + self.n_features_in_
