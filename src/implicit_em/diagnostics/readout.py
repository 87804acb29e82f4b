r"""Linear read-out of wide frozen features: SoftHebb's classifier, for every learner.

For the flattened outputs of a conv stack (tens of thousands of features, where
:func:`~implicit_em.diagnostics.linear_probe`'s L-BFGS is slow): each feature
standardised on the training set (so that no learner's feature scale matters), dropout
``p``, one linear layer, cross-entropy, Adam at ``lr`` halved at 20, 35, 50, 60, 70, 80
and 90 % of ``epochs`` -- the authors' ``demo.py`` classifier (50 epochs, batch 64,
``lr = 1e-3``, dropout 0.5) on standardised inputs.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import check_count, check_number, check_tensor

HALVINGS = (0.2, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9)


def _checked(x, y, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    check_tensor(x, f"{name}_features", min_ndim=2)
    y = torch.as_tensor(y)
    if y.ndim != 1 or len(y) != len(x) or len(x) == 0:
        raise ValueError(f"{name}_features must be (n, ...) with n >= 1 and {name}_labels "
                         f"(n,), got {tuple(x.shape)} and {tuple(y.shape)}")  # fmt: skip
    x = x.detach().flatten(1)  # features may carry a model's graph: not ours
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name}_features contains NaN or Inf")
    if x.numel() and float(x.abs().max()) > torch.finfo(torch.float32).max:
        raise ValueError(f"{name}_features has values beyond float32's range (up to "
                         f"{float(x.abs().max()):.3g}): rescale them")  # fmt: skip
    if y.is_complex():
        raise TypeError(f"{name}_labels must be integer class indices, got {y.dtype}")
    y = y.long() if y.dtype == torch.bool else y  # two classes, as linear_probe takes them
    if y.is_floating_point() and not bool((y == y.round()).all()):  # NaN fails too
        raise ValueError(f"{name}_labels must be whole class indices, got non-integer values")
    if len(y) and int(y.min()) < 0:
        raise ValueError(f"{name}_labels must be class indices >= 0, got {int(y.min())}")
    if x.shape[1] == 0:
        raise ValueError(f"{name}_features has no features (shape {tuple(x.shape)})")
    return x.float(), y.long()


def _checked_split(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The training and test features (flattened, float32) and labels (long), with a
    clear error for bad input or feature counts that differ: what every read-out checks."""
    xtr, ytr = _checked(train_features, train_labels, "train")
    xte, yte = _checked(test_features, test_labels, "test")
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(
            f"train_features has {xtr.shape[1]} features but test_features {xte.shape[1]}"
        )
    return xtr, ytr, xte, yte


def _kept(shape: torch.Size, p: float, g: torch.Generator) -> torch.Tensor:
    """A Bernoulli(1 - p) keep-mask; for ``p = 0.5`` each random byte gives eight fair
    bits (2-3x faster than one uniform number per element, the read-out's main cost)."""
    n = math.prod(shape)
    if p != 0.5:
        return torch.rand(shape, generator=g) >= p
    words = torch.randint(0, 256, ((n + 7) // 8,), dtype=torch.uint8, generator=g)
    bits = (words[:, None] >> torch.arange(8, dtype=torch.uint8)) & 1
    return bits.flatten()[:n].view(shape)


def _moments(x: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean and standard deviation (unbiased), by row chunks in float64 (a
    column reduction of a wide matrix is ten times slower). The floor is relative, so
    that no feature scale matters: ``1e-7`` of the largest std (a nearly dead feature,
    say a responsibility of 1e-30, is not blown up to order 1), ``1e-6 |mean|`` (a
    constant feature's rounding noise stays small), and 1 where every feature is
    exactly constant."""
    s1 = x.new_zeros(x.shape[1], dtype=torch.float64)
    s2 = torch.zeros_like(s1)
    for rows in x.split(chunk):
        r = rows.double()
        s1 += r.sum(0)
        s2 += r.square().sum(0)
    n = len(x)
    mean = s1 / n
    var = (s2 - n * mean.square()).clamp_min(0) / max(n - 1, 1)
    std = var.sqrt()
    floor = torch.maximum(1e-7 * std.max(), 1e-6 * mean.abs())  # scales with the features
    std = torch.maximum(std, floor)
    return mean.float(), torch.where(std > 0, std, 1.0).float()


def linear_readout(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    epochs: int = 50,
    batch_size: int = 64,
    lr: float = 1e-3,
    dropout: float = 0.5,
    seed: int = 0,
) -> dict:
    """Train the read-out on ``(n, ...)`` features (flattened) and score it.

    Args:
        train_features: the training features, ``(n, ...)``.
        train_labels: their integer labels ``(n,)``.
        test_features: the test features, the same shape past ``n``.
        test_labels: their labels.
        epochs: passes over the training features.
        batch_size: the mini-batch.
        lr: Adam's initial rate.
        dropout: the dropout probability on the features.
        seed: seeds the initialisation, dropout and batch order.

    Returns:
        ``train_accuracy``, ``test_accuracy`` and ``n_features``.

    Examples:
        >>> x = torch.randn(400, 3, 2, 2, generator=torch.Generator().manual_seed(0))
        >>> y = (x[:, 0, 0, 0] > 0).long()
        >>> linear_readout(x, y, x, y, epochs=20, lr=1e-2)["test_accuracy"] > 0.9
        True
    """
    xtr, ytr, xte, yte = _checked_split(train_features, train_labels, test_features, test_labels)
    epochs, batch_size = check_count(epochs, "epochs"), check_count(batch_size, "batch_size")
    lr = check_number(lr, "lr")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    mean, std = _moments(xtr)  # standardised batch by batch (no copy of the features)
    scale = 1 / (std * (1 - dropout))  # inverted dropout: the kept inputs scaled up
    g = torch.Generator().manual_seed(seed)
    n_classes = int(max(ytr.max(), yte.max())) + 1
    with torch.random.fork_rng(devices=[]):  # seeded, and the caller's RNG left as it was
        torch.manual_seed(seed)
        model = nn.Linear(xtr.shape[1], n_classes)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    halve_at = {int(epochs * r) for r in HALVINGS}
    for epoch in range(epochs):
        if epoch in halve_at and epoch > 0:
            for group in opt.param_groups:
                group["lr"] *= 0.5
        for idx in torch.randperm(len(xtr), generator=g).split(batch_size):
            xb = xtr[idx].sub_(mean).mul_(scale)  # standardised, and scaled for dropout
            if dropout:
                xb.mul_(_kept(xb.shape, dropout, g))
            loss = nn.functional.cross_entropy(model(xb), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        acc = [float(torch.cat([model((b - mean) / std).argmax(1) for b in x.split(4096)])
                     .eq(y).float().mean()) for x, y in ((xtr, ytr), (xte, yte))]  # fmt: skip
    return {"train_accuracy": acc[0], "test_accuracy": acc[1], "n_features": xtr.shape[1]}
