r"""The theory's author's decoder-free encoder (Oursland, "implicit EM in neural
activations", encoder study): one ReLU layer, no decoder, trained on

    ``L = λ_lse (-sum_n log sum_j exp(-a_nj)) + λ_var (-sum_j log(Var(a_j) + eps))
          + λ_tc sum_{i != j} Corr(a)_ij^2``

(the LSE term's gradient is the responsibilities; the variance and decorrelation terms
are its volume control). Followed: ``encoder_study/src/losses.py`` and
``config/benchmark.yaml`` of ``alanoursland/implicit_em_in_neural_activations``
(784 -> 64, all weights 1, ``eps = 1e-6``, the LSE summed over the batch, Adam
``lr = 1e-3``, batch 128, 100 epochs, pixels in ``[0, 1]``). The terms are the
library's :func:`~implicit_em.lse.lse_loss`,
:func:`~implicit_em.objectives.log_variance_loss` and
:func:`~implicit_em.objectives.decorrelation_loss`.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from .. import objectives as O
from .._checks import check_count, check_number
from ..lse import lse_loss
from .base import FeatureLearner, fit_module


def encoder_loss(a: torch.Tensor, lse: float = 1.0, var: float = 1.0, tc: float = 1.0,
                 eps: float = 1e-6) -> dict[str, torch.Tensor]:  # fmt: skip
    """The named, weighted terms of ``L`` for activations ``a`` ``(n, K)``."""
    terms = {}
    if lse:
        terms["lse"] = lse * lse_loss(a, reduction="sum")
    if var:
        terms["var"] = var * O.log_variance_loss(a, eps=eps)
    if tc:
        terms["tc"] = tc * O.decorrelation_loss(a)
    return terms


class DecoderFreeEncoder(FeatureLearner):
    """Args:
        n_components: units ``K``.
        lse: the LSE term's weight ``λ`` (0 drops it; all three 0 is refused).
        var: the variance term's weight.
        tc: the total-correlation (decorrelation) term's weight.
        epochs: passes over the data.
        batch_size: mini-batch size.
        lr: Adam's learning rate.
        seed: seeds the initialisation and the batch order.

    Attributes:
        module_: the trained ``Linear + ReLU``; ``weight_`` its ``(K, D)`` weights.

    Examples:
        >>> enc = DecoderFreeEncoder(8, epochs=1).fit(torch.rand(256, 16))
        >>> enc.transform(torch.rand(3, 16)).shape
        torch.Size([3, 8])
    """

    def __init__(self, n_components: int, *, lse: float = 1.0, var: float = 1.0,
                 tc: float = 1.0, epochs: int = 100, batch_size: int = 128, lr: float = 1e-3,
                 seed: int = 0):  # fmt: skip
        self.n_components = check_count(n_components, "n_components")
        self.lse = check_number(lse, "lse", strict=False)
        self.var = check_number(var, "var", strict=False)
        self.tc = check_number(tc, "tc", strict=False)
        if not (self.lse or self.var or self.tc):
            raise ValueError("at least one of lse, var, tc must be > 0")
        self.epochs = check_count(epochs, "epochs")
        self.batch_size = check_count(batch_size, "batch_size")
        self.lr = check_number(lr, "lr")
        self.seed = seed

    def _fit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        torch.manual_seed(self.seed)
        linear = nn.Linear(x.shape[1], self.n_components)
        self.module_ = nn.Sequential(linear, nn.ReLU())
        with warnings.catch_warnings():  # ReLU units silent on a whole batch: eps floors them
            warnings.filterwarnings("ignore", ".*feature\\(s\\) are constant", RuntimeWarning)
            fit_module(self.module_, lambda m, b: encoder_loss(m(b[0]), self.lse, self.var,
                       self.tc), (x,), epochs=self.epochs, batch_size=self.batch_size,
                       lr=self.lr, seed=self.seed, description="decoder-free encoder")  # fmt: skip
        self.weight_ = linear.weight.detach()

    def _transform(self, x: torch.Tensor) -> torch.Tensor:
        return self.module_(x)

    @property
    def n_parameters(self) -> int:
        """Number of learned parameters (for the per-parameter comparison)."""
        return self.n_components * (self.n_features_in_ + 1)
