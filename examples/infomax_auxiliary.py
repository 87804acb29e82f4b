"""Use an InfoMax objective as an auxiliary loss in an ordinary classifier.

The Gaussian InfoMax loss ``-log det C`` on a hidden layer's batch covariance ``C`` is
volume control: it keeps units from dying or duplicating each other.
Added to cross-entropy with a small weight, it shapes the hidden layer while the task is
learnt (``train`` accepts a dict of named terms and records each one). The script trains
the same classifier without and with it and counts the dead hidden units.
Run: ``python examples/infomax_auxiliary.py``.
"""

import warnings

import torch
from torch import nn

from _size import size
from implicit_em import objectives as O
from implicit_em.data import load_dataset
from implicit_em.diagnostics import unit_health
from implicit_em.training import train

ds = load_dataset("digits", seed=0)
x, y, xt, yt = ds.tensors()
mean, scale = x.mean(0), x.std()
x, xt = (x - mean) / scale, (xt - mean) / scale


def fit(weight: float) -> tuple[float, dict]:
    """Train a 64-48-10 ReLU classifier with ``weight`` x InfoMax on its hidden layer."""
    torch.manual_seed(0)
    hidden, head = nn.Sequential(nn.Linear(64, 48), nn.ReLU()), nn.Linear(48, 10)

    def loss_fn(m: nn.Module, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        xb, yb = batch
        h = m[0](xb)
        task = nn.functional.cross_entropy(m[1](h), yb)
        infomax = O.gaussian_infomax(h)  # -log det Cov: also rewards variance (live units)
        return {"loss": task + weight * infomax, "task": task, "infomax": infomax.detach()}

    model = nn.Sequential(hidden, head)
    with warnings.catch_warnings():  # dead units are what this example counts
        warnings.simplefilter("ignore", RuntimeWarning)
        train(model, loss_fn, (x, y), epochs=size(40, 2), batch_size=64, lr=1e-2, seed=0,
              progress=False)  # fmt: skip
    with torch.no_grad():
        acc = float((model(xt).argmax(1) == yt).float().mean())
        return acc, unit_health(hidden(xt))


for weight in (0.0, 0.002):
    acc, health = fit(weight)
    print(
        f"InfoMax weight {weight:<4}: test accuracy {acc:.1%}, "
        f"dead hidden units {health['dead_activity']} of {health['n_units']}"
    )
