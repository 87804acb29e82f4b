"""The implicit-EM layer as a feature learner, by the baselines' interface.

:class:`ImplicitEMFeatures` trains an :class:`~implicit_em.layers.ImplicitEMLayer` the
way the README does (Adam on the sum of its objective's terms, over shuffled batches) and
gives its output as the features, so that benchmarks score it exactly as they score
:mod:`implicit_em.baselines`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from .._checks import check_count, check_number
from ..layers import ImplicitEMLayer
from ..training.loop import make_optimizer
from .base import FeatureLearner


class ImplicitEMFeatures(FeatureLearner):
    """An :class:`ImplicitEMLayer` (its defaults unless ``**layer`` says otherwise)
    trained by the README's plain loop -- ``Adam(lr)`` on ``sum(layer.objective(x).values())``
    over shuffled batches -- as a feature learner; the features are the layer's output.

    ``on_epoch(epoch, learner)``, if given, is called after each epoch in eval mode (the
    benchmark's accuracy-against-time curve); ``train_s_`` is the training time so far,
    without the callbacks."""

    def __init__(self, n_components: int, *, epochs: int = 5, batch_size: int = 256,
                 lr: float = 1e-3, seed: int = 0, on_epoch: Callable | None = None,
                 **layer: Any):  # fmt: skip
        self.n_components = check_count(n_components, "n_components")
        self.epochs = check_count(epochs, "epochs")
        self.batch_size = check_count(batch_size, "batch_size")
        self.lr = check_number(lr, "lr")
        self.seed, self.on_epoch, self.layer = seed, on_epoch, layer

    def _fit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        torch.manual_seed(self.seed)
        g = torch.Generator().manual_seed(self.seed)
        layer = self.module_ = ImplicitEMLayer(x.shape[1], self.n_components, **self.layer)
        opt = make_optimizer("adam", list(layer.parameters()), self.lr)
        self.train_s_, steps = 0.0, 0
        for epoch in range(self.epochs):
            t0 = time.perf_counter()
            layer.train()
            for idx in torch.randperm(len(x), generator=g).split(self.batch_size):
                loss = self._objective(x[idx], epoch, stepped=steps > 0)
                opt.zero_grad()
                loss.backward()
                opt.step()
                steps += 1
            layer.eval()
            self.train_s_ += time.perf_counter() - t0
            if not torch.isfinite(loss):
                raise self._diverged(epoch)
            if self.on_epoch is not None:
                self.on_epoch(epoch + 1, self)
        with torch.no_grad():  # the weights after the last step still give finite distances
            self._objective(x[: self.batch_size], self.epochs - 1, stepped=True)

    def _objective(self, xb: torch.Tensor, epoch: int, stepped: bool) -> torch.Tensor:
        """The summed objective on the batch ``xb``; the layer's refusal of non-finite
        distances after a step (``x`` passed its checks) means training diverged."""
        try:
            return torch.stack(list(self.module_.objective(xb).values())).sum()
        except ValueError as err:
            if not stepped:
                raise
            raise self._diverged(epoch) from err

    def _diverged(self, epoch: int) -> FloatingPointError:
        return FloatingPointError(f"ImplicitEMFeatures: training diverged in epoch {epoch + 1} "
                                  f"(the weights or the objective left the finite range at "
                                  f"lr = {self.lr:g}); lower lr")  # fmt: skip

    def _transform(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.module_(b) for b in x.split(8192)])

    @property
    def n_parameters(self) -> int:
        """Number of learned parameters (for the per-parameter comparison)."""
        return sum(p.numel() for p in self.module_.parameters())
