r"""Krotov & Hopfield's competing hidden units (PNAS 2019): a local, unsupervised rule.

Per mini-batch, with ``<w, x>_p = sum_i sign(w_i) |w_i|^{p-1} x_i`` the unit's input
current: the strongest unit for a sample gets ``g = 1``, the ``k``-th strongest
``g = -delta`` (anti-Hebbian), all others 0, and

    ``ΔW = g^T x - (sum_n g_n <w, x_n>_p) ⊙ W``,  ``W += lr_t ΔW / max|ΔW|``

with ``lr_t`` decaying linearly to 0 over the epochs. The weights drift to the unit
``p``-sphere. Features: ``relu(<w, x>_p)^power``. Followed: the authors' notebook
``Unsupervised_learning_algorithm_MNIST.ipynb`` (``DimaKrotov/Biological_Learning``:
``p = 2, k = 2, delta = 0.4``, ``lr = 0.02``, batch 100, ``W ~ N(0, 1)``, pixels in
``[0, 1]``); the paper's MNIST network with 2000 units uses ``p = 3, k = 7`` and
``power = 4.5``.

Defaults: the authors' own settings for the width asked for (:data:`PAPER_WIDTH`), with
the notebook's 200 epochs. The features are the paper's hidden activations
``relu(<w, x>_p)^4.5``. Its supervised top layer reads the plain currents of unit-length
inputs (:meth:`KrotovHopfield.currents`, the authors' answer in their repository's issue
4) through that power: :func:`~implicit_em.diagnostics.power_readout`. The power is the
authors' read-out, not a setting chosen here: under the linear probe every learner gets,
a middle power probes better (MNIST validation, ``bench/baseline_defaults.py``: at 64
units 91.6 / 94.5 / 94.0 % for power 1 / 3 / 4.5), which the benchmark reports under each
read-out rather than moving into this default.
"""

from __future__ import annotations

import torch

from .._checks import check_count, check_number
from ..progress import track
from .base import FeatureLearner, batches

# from this many units on, the defaults are the paper's 2000-unit network's (p 3, k 7);
# below, the authors' notebook's (p 2, k 2, written for 100 units). MNIST validation (50k
# fit / 10k held out, 200 epochs, bench/baseline_defaults.py): at 64 units p 2, k 2
# probes 94.0 % against 91.2 % for p 3, k 7; at 2000 units 97.3 % for p 3, k 7 against
# 94.9 % for the notebook's settings at 20 epochs
PAPER_WIDTH = 1000


def p_current(
    w: torch.Tensor, x: torch.Tensor, p: float, out: torch.Tensor | None = None
) -> torch.Tensor:
    """``<w_k, x_n>_p = sum_i sign(w_ki) |w_ki|^{p-1} x_ni``: ``(K, D), (n, D) -> (n, K)``.
    The paper's ``p = 3`` and the notebook's ``p = 2`` take one pass over ``W`` or none
    (``w |w|`` and ``w`` are the same numbers as ``sign(w) |w|^{p-1}``); ``out``, a
    ``(K, D)`` buffer, holds the weighted ``W`` instead of a new tensor."""
    if p == 2:
        v = w
    elif p == 3:
        v = w * w.abs() if out is None else torch.abs(w, out=out).mul_(w)
    else:
        v = torch.sign(w) * w.abs() ** (p - 1)
    return x @ v.T


def krotov_update(
    w: torch.Tensor,
    x: torch.Tensor,
    p: float,
    k: int,
    delta: float,
    *,
    buffer: torch.Tensor | None = None,
) -> torch.Tensor:
    """``ΔW / max|ΔW|`` for one mini-batch ``x`` ``(n, D)`` (``W``: ``(K, D)``).

    ``g`` has two non-zeros a row (``1`` at the strongest unit, ``-delta`` at the
    ``k``-th), so ``g^T x`` and ``sum_n g_n <w, x_n>_p`` are scattered row sums
    (``index_add_``), not a dense ``(K, n) @ (n, D)`` product: the same sums in another
    order. ``buffer``, a ``(K, D)`` tensor, receives ``ΔW`` (and is returned): a step then
    allocates nothing the size of ``W``, whose fresh pages cost as much as the product."""
    cur = p_current(w, x, p, out=buffer)  # (n, K)
    top = cur.topk(k, dim=1).indices  # (n, k)
    first, kth = top[:, 0], top[:, k - 1]
    rows = torch.arange(len(x))
    dw = torch.zeros_like(w) if buffer is None else buffer.zero_()
    dw.index_add_(0, first, x).index_add_(0, kth, x, alpha=-delta)
    s = w.new_zeros(len(w)).index_add_(0, first, cur[rows, first])
    s.index_add_(0, kth, cur[rows, kth], alpha=-delta)
    dw.addcmul_(s[:, None], w, value=-1)
    lo, hi = torch.aminmax(dw)  # max |dW| without an |dW| tensor
    return dw.div_(torch.maximum(-lo, hi).clamp_min(1e-30))


class KrotovHopfield(FeatureLearner):
    """Args:
        n_components: hidden units ``K``.
        p: the Lebesgue norm the weights are normalised in (``>= 2``); ``None``: the
            authors' for this width (see :data:`PAPER_WIDTH`).
        k: the rank of the anti-Hebbian unit (``2 <= k <= K``); ``None``: the authors'.
        delta: anti-Hebbian strength.
        lr: initial learning rate (decays linearly to 0).
        epochs: passes over the data.
        batch_size: mini-batch size.
        seed: seeds the initialisation and the batch order.
        power: the features' ``relu(.)^power`` (the paper's hidden activation).

    Examples:
        >>> kh = KrotovHopfield(8, epochs=2, seed=0).fit(torch.rand(200, 16))
        >>> kh.transform(torch.rand(3, 16)).shape
        torch.Size([3, 8])
    """

    def __init__(self, n_components: int, *, p: float | None = None, k: int | None = None,
                 delta: float = 0.4, lr: float = 0.02, epochs: int = 200,
                 batch_size: int = 100, power: float = 4.5, seed: int = 0):  # fmt: skip
        self.n_components = check_count(n_components, "n_components")
        paper = self.n_components >= PAPER_WIDTH  # the authors' setting for this width
        p = (3.0 if paper else 2.0) if p is None else p
        k = (7 if paper else 2) if k is None else k
        self.p = check_number(p, "p", low=2.0, strict=False)
        self.k = check_count(k, "k")
        if not 2 <= k <= n_components:
            raise ValueError(f"k must be in [2, n_components = {n_components}], got {k}")
        self.delta = check_number(delta, "delta", strict=False)
        self.lr = check_number(lr, "lr")
        self.epochs = check_count(epochs, "epochs")
        self.batch_size = check_count(batch_size, "batch_size")
        self.power = check_number(power, "power")
        self.seed = seed

    def _fit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        g = torch.Generator().manual_seed(self.seed)
        w = torch.randn(self.n_components, x.shape[1], generator=g)
        buffer = torch.empty_like(w)
        for epoch in track(range(self.epochs), "krotov-hopfield"):
            lr = self.lr * (1 - epoch / self.epochs)
            for idx in batches(len(x), self.batch_size, g):
                step = krotov_update(w, x[idx], self.p, self.k, self.delta, buffer=buffer)
                w.add_(step, alpha=lr)
        self.weight_ = w

    def _transform(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(p_current(self.weight_, x, self.p)) ** self.power

    def currents(self, x: torch.Tensor) -> torch.Tensor:
        """``h = W x / ||x||`` ``(n, K)``: what the paper's top layer reads (plain dot
        products of unit-length inputs with the learned weights, before the power)."""
        x = self._check_x(x, fitting=False)  # a clear error before fit
        return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12) @ self.weight_.T

    @property
    def n_parameters(self) -> int:
        """Number of learned parameters (for the per-parameter comparison)."""
        return self.n_components * self.n_features_in_
