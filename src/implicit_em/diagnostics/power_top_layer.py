r"""Krotov & Hopfield's supervised top layer, as a read-out of any frozen features.

Krotov & Hopfield (PNAS 2019, eq. 1) classify their unsupervised layer's currents ``h``
(``(n, K)``) with

    ``c = tanh(beta S relu(h)^n)``,  loss ``sum_alpha |c_alpha - t_alpha|^m``,

``t`` the one-hot labels as ``+1`` / ``-1``, ``n = 4.5``, ``m = 6``. Their ``h`` is a
dot product of unit-length inputs with the weights, at most about 1 in size; any other
learner's features are brought to that range by one number, ``max |h|`` over the
training rows, so that no learner's scale matters. The paper's optimiser settings were
not found in its text; those below are the common reimplementations' (Adam, ``lr``
``1e-3`` halved at a third, a half, two thirds and five sixths of 300 epochs, batch 100,
``beta = 0.01``, ``S`` at ``nn.Linear``'s initialisation, no bias).
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_count, check_number
from ..training.loop import make_optimizer
from .readout import _checked_split

HALVINGS = (1 / 3, 1 / 2, 2 / 3, 5 / 6)


def power_loss(c: torch.Tensor, labels: torch.Tensor, m: float) -> torch.Tensor:
    """``sum_alpha |c_alpha - t_alpha|^m`` averaged over the batch; ``c``: ``(b, classes)``,
    ``t = 2 onehot(labels) - 1``."""
    t = 2 * nn.functional.one_hot(labels, c.shape[1]).to(c.dtype) - 1
    return (c - t).abs().pow(m).sum(1).mean()


def power_gradient(
    f: torch.Tensor, targets: torch.Tensor, s: torch.Tensor, beta: float, m: float
) -> torch.Tensor:
    """The gradient in ``S`` of :func:`power_loss` for ``c = tanh(beta f S^T)``, by hand:
    ``f`` ``(b, K)`` hidden activations, ``targets`` ``(b, C)`` in ``{-1, +1}``, ``S``
    ``(C, K)`` -> ``(C, K)``,

        ``dL/dS = (beta / b) [m |c - t|^{m-1} sign(c - t) (1 - c^2)]^T f``

    (no autograd graph: the read-out's 180k small steps cost half as much)."""
    c = torch.tanh(beta * (f @ s.T))
    e = c - targets
    dz = (m * beta / len(f)) * e.abs().pow(m - 1) * e.sign() * (1 - c * c)
    return dz.T @ f


def power_readout(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    n: float = 4.5,
    m: float = 6.0,
    beta: float = 0.01,
    epochs: int = 300,
    batch_size: int = 100,
    lr: float = 1e-3,
    scale: float | None = None,
    seed: int = 0,
) -> dict:
    """Train the top layer on ``relu(h / scale)^n`` and score it.

    Args:
        train_features: the currents ``h`` of the training rows, ``(N, ...)``.
        train_labels: their integer labels ``(N,)``.
        test_features: the test rows' currents.
        test_labels: their labels.
        n: the hidden activation's power.
        m: the loss's power.
        beta: the output's gain inside ``tanh``.
        epochs: passes over the training rows (``lr`` halved at :data:`HALVINGS`).
        batch_size: the mini-batch.
        lr: Adam's initial rate.
        scale: divides the currents; ``None``: ``max |h|`` over the training rows (any
            learner's features in ``[-1, 1]``); 1 reads currents already on the paper's
            scale (``KrotovHopfield.currents``).
        seed: seeds ``S`` and the batch order.

    Returns:
        ``train_accuracy``, ``test_accuracy``, ``n_features`` and ``scale`` (``max |h|``).

    Examples:
        >>> g = torch.Generator().manual_seed(0)
        >>> h = torch.rand(400, 6, generator=g)  # currents of 6 units
        >>> y = h[:, :3].argmax(1)
        >>> power_readout(h, y, h, y, epochs=30, lr=1e-2)["test_accuracy"] > 0.8
        True
    """
    xtr, ytr, xte, yte = _checked_split(train_features, train_labels, test_features, test_labels)
    n, m = check_number(n, "n"), check_number(m, "m")
    beta, lr = check_number(beta, "beta"), check_number(lr, "lr")
    epochs, batch_size = check_count(epochs, "epochs"), check_count(batch_size, "batch_size")
    if scale is None:
        scale = float(xtr.abs().max())
        if scale == 0:
            raise ValueError("train_features are all zero: the read-out has nothing to read")
    scale = check_number(scale, "scale")

    def hidden(x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x / scale).pow(n)

    ftr, fte = hidden(xtr), hidden(xte)
    n_classes = int(max(ytr.max(), yte.max())) + 1
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # seeded, and the caller's RNG left as it was
        torch.manual_seed(seed)
        top = nn.Linear(ftr.shape[1], n_classes, bias=False)
    weight = top.weight
    opt = make_optimizer("adam", [weight], lr)
    targets = 2 * nn.functional.one_hot(ytr, n_classes).to(ftr.dtype) - 1
    halve_at = {int(epochs * r) for r in HALVINGS} - {0}
    for epoch in range(epochs):
        if epoch in halve_at:
            for group in opt.param_groups:
                group["lr"] *= 0.5
        for idx in torch.randperm(len(ftr), generator=g).split(batch_size):
            with torch.no_grad():
                weight.grad = power_gradient(ftr[idx], targets[idx], weight, beta, m)
            opt.step()
    with torch.no_grad():
        acc = [float(torch.cat([top(b).argmax(1) for b in f.split(8192)]).eq(y).float().mean())
               for f, y in ((ftr, ytr), (fte, yte))]  # fmt: skip
    return {"train_accuracy": acc[0], "test_accuracy": acc[1], "n_features": ftr.shape[1],
            "scale": scale}  # fmt: skip
