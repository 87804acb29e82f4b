"""What every baseline shares: scikit-learn's ``fit`` / ``transform`` on tensors.

Hyper-parameters are set in ``__init__`` and never changed by ``fit``; learned state
ends in ``_`` (``weight_``, ``n_features_in_``). ``fit`` returns ``self``;
``transform`` needs a fitted learner and an input of the width it was fitted on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import torch
from torch import nn

from .._checks import check_finite, check_tensor

if TYPE_CHECKING:  # imported inside fit_module at run time (no import cycle)
    from ..training import TrainResult

_L = TypeVar("_L", bound="FeatureLearner")


class FeatureLearner:
    """Base class: ``fit(x) -> self``, ``transform(x) -> (n, K)``, ``fit_transform``.

    Subclasses set ``n_components`` and implement ``_fit(x)`` and ``_transform(x)`` on a
    validated float32 ``(n, D)`` tensor, and ``n_parameters``.
    """

    n_components: int

    def _check_x(self, x, *, fitting: bool) -> torch.Tensor:
        check_tensor(x, "x", min_ndim=2)
        if x.ndim != 2:
            raise ValueError(f"x must be 2-D (n_samples, n_features), got shape {tuple(x.shape)}")
        if x.shape[1] == 0:
            raise ValueError(f"x has no features (shape {tuple(x.shape)})")
        if fitting and x.shape[0] < 2:
            raise ValueError(f"x needs at least 2 samples to fit, got {x.shape[0]}")
        x = x.detach().float()
        check_finite(x, "x", square_rows=max(len(x), 1))  # distances and moments stay finite
        if not fitting:
            if not hasattr(self, "n_features_in_"):
                raise RuntimeError(
                    f"this {type(self).__name__} is not fitted yet: call fit(x) first"
                )
            if x.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"x has {x.shape[1]} features, but {type(self).__name__} was fitted on "
                    f"{self.n_features_in_}"
                )
        return x

    def fit(self: _L, x: torch.Tensor, y: torch.Tensor | None = None) -> _L:
        """Learn from ``x`` ``(n, D)`` (``y`` is ignored by the unsupervised learners)."""
        x = self._check_x(x, fitting=True)
        self.n_features_in_ = x.shape[1]
        self._fit(x) if y is None else self._fit(x, y)
        learned = [v for k, v in vars(self).items() if k.endswith("_") and torch.is_tensor(v)]
        if not all(bool(torch.isfinite(v).all()) for v in learned):
            raise FloatingPointError(
                f"{self!r} diverged: its learned weights hold NaN/inf; a rate, exponent or "
                "scale among these settings is too large for the data: lower it"
            )
        return self

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``(n, n_components)`` of ``x`` (no gradient)."""
        x = self._check_x(x, fitting=False)
        if len(x) == 0:
            return x.new_zeros(0, self.n_components)
        with torch.no_grad():
            out = self._transform(x)
        if not bool(torch.isfinite(out).all()):
            raise FloatingPointError(
                f"{self!r} gives features with NaN/inf on this x: an exponent or scale among "
                "these settings overflows float32: lower it"
            )
        return out

    def fit_transform(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """``fit(x, y).transform(x)``."""
        return self.fit(x, y).transform(x)

    def _fit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:  # pragma: no cover
        raise NotImplementedError

    def _transform(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({args})"


def batches(n: int, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Shuffled index batches covering ``range(n)`` once (the last may be smaller)."""
    return torch.randperm(n, generator=generator).split(batch_size)


def fit_module(
    model: nn.Module,
    loss_fn: Callable,
    data: tuple[torch.Tensor, ...],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    description: str,
) -> TrainResult:
    """Adam through :func:`implicit_em.training.train` (seeded; eval mode after)."""
    from ..training import train

    torch.manual_seed(seed)
    result = train(model, loss_fn, data, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                   description=description)  # fmt: skip
    model.eval()
    return result
