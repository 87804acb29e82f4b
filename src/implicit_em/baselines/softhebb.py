r"""SoftHebb (Moraitis et al. 2022; Journé et al., ICLR 2023): soft winner-take-all
Hebbian learning, a Bayesian / EM-like rule with no feedback.

Per mini-batch, ``u = x W^T (+ b)``, ``y = softmax(t_invert u)`` (the soft winner:
responsibilities) and

    ``ΔW = y^T x - (sum_n y_n ⊙ u_n) ⊙ W``,  ``W_k += lr_k ΔW_k / max|ΔW|``

with the norm-seeking learning rate ``lr_k = lr |‖w_k‖ - 1|^{power_lr}`` (each unit slows
as its weight vector reaches the unit sphere). With ``bias=True`` the biases are log
priors, ``b = log(1/K) / t_invert`` at first and ``Δb = (sum_n y_n - N e^{t b}) / e^{t b}``
(normalised by its max, rate ``lr / t_invert``). Features: ``softmax(t_out u)``, or the
currents ``u`` with ``output="current"``.
Followed: ``hebblinear.py`` (``HebbSoftLinear``) and ``presets.json`` (model
``2SoftMlpMNIST``: 2000 units, ``t_invert = 12``, ``lr = 0.045``, ``power_lr = 0.2``,
``radius = 35`` giving ``W ~ U(0, sqrt(3 · 35² / D))``, pixels in ``[0, 1]``, trained as
the README runs it, ``--dataset-unsup MNIST_1-32``: **one epoch, batch 32**) of
``NeuromorphicComputing/SoftHebb``.

Every default is the authors', the output's too: ``softmax_5`` (``t_out = 5``) is their
block's activation, which feeds their linear classifier. It is nearly one-hot, and a
linear probe on standardised features reads it poorly as it is (72 % on MNIST's held-out
10k at 2000 units, ``bench/baseline_defaults.py``); how to read it is the read-out's
choice, not the learner's: :func:`~implicit_em.diagnostics.tuned_probe` chooses a feature
power on held-out rows, and power 0.1 turns ``softmax(5 u)`` into ``softmax(0.5 u)``
(97.0 %, the best ``t_out`` under the standardised probe).
"""

from __future__ import annotations

import math

import torch

from .._checks import check_count, check_number
from ..progress import track
from .base import FeatureLearner, batches

OUTPUTS = ("softmax", "current")


def softhebb_update(
    w: torch.Tensor, x: torch.Tensor, b: torch.Tensor | None, t_invert: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ΔW / max|ΔW|, y)`` for one mini-batch: ``(K, D), (n, D) -> (K, D), (n, K)``."""
    u = x @ w.T if b is None else x @ w.T + b
    y = torch.softmax(t_invert * u, dim=1)
    dw = y.T @ x - (y * u).sum(0)[:, None] * w
    return dw / dw.abs().max().clamp_min(1e-30), y


class SoftHebb(FeatureLearner):
    """Args:
        n_components: units ``K``.
        t_invert: the soft winner-take-all's inverse temperature.
        lr: scale of the norm-seeking learning rate ``lr |‖w_k‖ - 1|^power_lr``.
        power_lr: its exponent.
        radius: the initial weight norm (sets ``U(0, sqrt(3 radius² / D))``).
        bias: learn log-prior biases.
        epochs: passes over the data (the authors' one).
        batch_size: mini-batch size (the authors' 32).
        seed: seeds the initialisation and the batch order.
        output: ``"softmax"`` (``softmax(t_out u)``) or ``"current"`` (``u``).
        t_out: the output softmax's inverse temperature (the authors' ``softmax_5``).

    Examples:
        >>> sh = SoftHebb(8, epochs=2, seed=0).fit(torch.rand(200, 16))
        >>> sh.transform(torch.rand(3, 16)).shape
        torch.Size([3, 8])
    """

    def __init__(self, n_components: int, *, t_invert: float = 12.0, lr: float = 0.045,
                 power_lr: float = 0.2, radius: float = 35.0, bias: bool = False,
                 epochs: int = 1, batch_size: int = 32, output: str = "softmax",
                 t_out: float = 5.0, seed: int = 0):  # fmt: skip
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        self.n_components = check_count(n_components, "n_components")
        self.t_invert = check_number(t_invert, "t_invert")
        self.lr = check_number(lr, "lr")
        self.power_lr = check_number(power_lr, "power_lr", strict=False)
        self.radius = check_number(radius, "radius")
        self.bias = bool(bias)
        self.epochs = check_count(epochs, "epochs")
        self.batch_size = check_count(batch_size, "batch_size")
        self.output = output
        self.t_out = check_number(t_out, "t_out")
        self.seed = seed

    def _fit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        g = torch.Generator().manual_seed(self.seed)
        k, d = self.n_components, x.shape[1]
        w = math.sqrt(3 * self.radius**2 / d) * torch.rand(k, d, generator=g)
        b = torch.full((k,), math.log(1 / k) / self.t_invert) if self.bias else None
        for _ in track(range(self.epochs), "softhebb"):
            for idx in batches(len(x), self.batch_size, g):
                dw, y = softhebb_update(w, x[idx], b, self.t_invert)
                lr = self.lr * ((w.norm(dim=1) - 1).abs() + 1e-10) ** self.power_lr
                w += lr[:, None] * dw
                if b is not None:
                    prior = torch.exp(self.t_invert * b)
                    db = (y.sum(0) - len(idx) * prior) / prior
                    b += self.lr / self.t_invert * db / db.abs().max().clamp_min(1e-30)
        self.weight_, self.bias_ = w, b

    def _transform(self, x: torch.Tensor) -> torch.Tensor:
        u = x @ self.weight_.T if self.bias_ is None else x @ self.weight_.T + self.bias_
        return u if self.output == "current" else torch.softmax(self.t_out * u, dim=1)

    @property
    def n_parameters(self) -> int:
        """Number of learned parameters (for the per-parameter comparison)."""
        return self.n_components * (self.n_features_in_ + self.bias)
