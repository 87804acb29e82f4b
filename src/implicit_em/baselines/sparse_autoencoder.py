r"""Sparse ReLU autoencoder: ``a = relu(W x + b)``, ``x̂ = V a + c``, trained on
``mean((x̂ - x)^2) + l1 mean|a|`` (the author's benchmark baseline,
``encoder_study/src/losses.py::sae_loss``, ``l1 = 0.01``)."""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_count, check_number
from .base import FeatureLearner, fit_module


def sae_loss(
    model: nn.Sequential, batch: tuple[torch.Tensor, ...], l1: float
) -> dict[str, torch.Tensor]:
    """``{"mse", "l1"}`` for ``model = Sequential(encoder, decoder)`` on ``batch[0]``."""
    a = model[0](batch[0])
    return {"mse": nn.functional.mse_loss(model[1](a), batch[0]), "l1": l1 * a.abs().mean()}


class SparseAutoencoder(FeatureLearner):
    """Args:
        n_components: hidden units ``K``.
        l1: weight of the mean absolute activation.
        epochs: passes over the data.
        batch_size: mini-batch size.
        lr: Adam's learning rate.
        seed: seeds the initialisation and the batch order.

    Attributes:
        encoder_, decoder_: the trained ``Linear + ReLU`` and ``Linear``.

    Examples:
        >>> sae = SparseAutoencoder(8, epochs=1).fit(torch.rand(256, 16))
        >>> sae.transform(torch.rand(3, 16)).shape
        torch.Size([3, 8])
    """

    def __init__(self, n_components: int, *, l1: float = 0.01, epochs: int = 100,
                 batch_size: int = 128, lr: float = 1e-3, seed: int = 0):  # fmt: skip
        self.n_components = check_count(n_components, "n_components")
        self.l1 = check_number(l1, "l1", strict=False)
        self.epochs = check_count(epochs, "epochs")
        self.batch_size = check_count(batch_size, "batch_size")
        self.lr = check_number(lr, "lr")
        self.seed = seed

    def _fit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        torch.manual_seed(self.seed)
        d, k = x.shape[1], self.n_components
        linear = nn.Linear(d, k)
        self.encoder_ = nn.Sequential(linear, nn.ReLU())
        self.decoder_ = nn.Linear(k, d)
        model = nn.Sequential(self.encoder_, self.decoder_)
        fit_module(model, lambda m, b: sae_loss(m, b, self.l1), (x,), epochs=self.epochs,
                   batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                   description="sparse autoencoder")  # fmt: skip
        self.weight_ = linear.weight.detach()

    def _transform(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder_(x)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``x̂`` through the trained decoder (no gradient)."""
        a = self.transform(x)
        with torch.no_grad():
            return self.decoder_(a)

    @property
    def n_parameters(self) -> int:
        """Number of learned parameters (for the per-parameter comparison)."""
        return 2 * self.n_components * self.n_features_in_ + self.n_components + self.n_features_in_
