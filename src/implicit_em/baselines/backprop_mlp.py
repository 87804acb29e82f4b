r"""End-to-end backprop: ``relu(W x + b)`` then a linear read-out, trained on the labels
by cross-entropy (the supervised upper reference for every local learner of the same
width). ``transform`` gives the hidden layer; ``predict`` the classes."""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_count, check_number
from .base import FeatureLearner, fit_module


class BackpropMLP(FeatureLearner):
    """Args:
        n_components: hidden units ``K``.
        epochs: passes over the data.
        batch_size: mini-batch size.
        lr: Adam's learning rate.
        seed: seeds the initialisation and the batch order.

    Examples:
        >>> x, y = torch.rand(256, 16), torch.randint(0, 3, (256,))
        >>> mlp = BackpropMLP(8, epochs=1).fit(x, y)
        >>> mlp.transform(x[:3]).shape, mlp.predict(x[:3]).shape
        (torch.Size([3, 8]), torch.Size([3]))
    """

    def __init__(self, n_components: int, *, epochs: int = 20, batch_size: int = 128,
                 lr: float = 1e-3, seed: int = 0):  # fmt: skip
        self.n_components = check_count(n_components, "n_components")
        self.epochs = check_count(epochs, "epochs")
        self.batch_size = check_count(batch_size, "batch_size")
        self.lr = check_number(lr, "lr")
        self.seed = seed

    def fit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> BackpropMLP:
        """Train on ``x`` ``(n, D)`` and integer labels ``y`` ``(n,)``."""
        if y is None:
            raise ValueError("BackpropMLP is supervised: call fit(x, y) with the labels")
        return super().fit(x, y)

    def _fit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        y = torch.as_tensor(y)
        if y.shape != (len(x),) or y.is_floating_point():
            raise ValueError(f"y must hold {len(x)} integer labels, got shape {tuple(y.shape)}")
        y = y.long()
        self.classes_ = torch.unique(y)
        target = torch.searchsorted(self.classes_, y)
        torch.manual_seed(self.seed)
        k, c = self.n_components, len(self.classes_)
        self.module_ = nn.Sequential(nn.Linear(x.shape[1], k), nn.ReLU(), nn.Linear(k, c))
        fit_module(self.module_, lambda m, b: nn.functional.cross_entropy(m(b[0]), b[1]),
                   (x, target), epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                   seed=self.seed, description="backprop MLP")  # fmt: skip

    def _transform(self, x: torch.Tensor) -> torch.Tensor:
        return self.module_[:2](x)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class labels ``(n,)``."""
        x = self._check_x(x, fitting=False)
        with torch.no_grad():
            return self.classes_[self.module_(x).argmax(1)]

    @property
    def n_parameters(self) -> int:
        """Number of learned parameters (for the per-parameter comparison)."""
        k, d = self.n_components, self.n_features_in_
        return k * (d + 1) + len(self.classes_) * (k + 1)
