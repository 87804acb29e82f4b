"""Quickstart: an implicit-EM layer on your own data, and how to tell that it learned.

The layer trains as the README shows (Adam on the sum of its objective's terms, no labels),
then three checks a user should make on any data:

1. a linear probe of its features against the same probe on the raw inputs and on
   triangle k-means features of the same width (the strongest simple baseline);
2. the prototypes moved: each one's distance from where it was placed (the first
   training inputs), relative to the data's spread, and how many are still exactly a
   training input (a prototype that never moved learned nothing);
3. the units are used: the share of inputs each prototype wins.

Runs on scikit-learn's digits, and on MNIST when ``IEM_DATA`` points to its files.
Run: ``python examples/quickstart.py`` (about a minute; MNIST adds a few).
"""

import os

import torch

from _size import size
from implicit_em.baselines import TriangleKMeans
from implicit_em.data import load_dataset
from implicit_em.diagnostics import linear_probe
from implicit_em.layers import ImplicitEMLayer

K = 64


def train_layer(x: torch.Tensor, epochs: int, seed: int = 0):
    """The README's loop; returns the layer and its prototypes as first placed."""
    torch.manual_seed(seed)
    layer = ImplicitEMLayer(x.shape[1], K)
    opt = torch.optim.Adam(layer.parameters(), lr=1e-3)
    order = torch.Generator().manual_seed(seed)
    placed = None
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=order).split(256):
            loss = sum(layer.objective(x[idx]).values())  # the first call places the means
            if placed is None:
                placed = layer.weight.detach().clone()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return layer, placed


def check(name: str, x: torch.Tensor, y, xt: torch.Tensor, yt, epochs: int) -> None:
    layer, placed = train_layer(x, epochs)
    with torch.no_grad():
        f, ft = layer(x), layer(xt)
        means = layer.weight.detach()
        wins = layer.responsibilities(x).argmax(1).bincount(minlength=K)
    kmeans = TriangleKMeans(K, seed=0).fit(x)
    probes = {"raw inputs": linear_probe(x, y, xt, yt),
              f"triangle k-means, K = {K}": linear_probe(kmeans.transform(x), y,
                                                         kmeans.transform(xt), yt),
              f"implicit-EM layer, K = {K}": linear_probe(f, y, ft, yt)}  # fmt: skip
    print(f"\n{name}: {len(x)} training and {len(xt)} test rows of {x.shape[1]} features")
    for what, p in probes.items():
        print(f"  linear probe on {what:<28} {p['test_accuracy']:.1%} test accuracy")
    with torch.no_grad():  # the prototypes live where the layer sees x: after input_norm
        seen = layer.normalise(x)
    spread = float(seen.std(0).norm())  # the data's RMS distance from its mean
    moved = ((means - placed).norm(dim=1) / spread).median()
    copies = int((torch.cdist(means, seen).min(1).values == 0).sum())
    print(f"  prototypes moved a median {float(moved):.2f} of the data's spread from where "
          f"they were placed; {copies} of {K} are still exactly a training input")  # fmt: skip
    print(f"  units used: {int((wins > 0).sum())} of {K} win some training input; the busiest "
          f"wins {float(wins.max()) / len(x):.1%} of them")  # fmt: skip


digits = load_dataset("digits", seed=0)  # 8x8 digits, bundled with scikit-learn
as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
check("scikit-learn digits", as_tensor(digits.X_train), digits.y_train,
      as_tensor(digits.X_test), digits.y_test, epochs=size(20, 1))  # fmt: skip

if os.environ.get("IEM_DATA"):  # MNIST's standard split, pixels in [0, 1]
    n = size(60000, 2000)
    mnist = load_dataset("mnist", seed=0, n_train=n)
    check("MNIST", as_tensor(mnist.X_train), mnist.y_train, as_tensor(mnist.X_test),
          mnist.y_test, epochs=size(5, 1))  # fmt: skip
else:
    print("\nMNIST: set IEM_DATA to the folder of its files (or run `iem data mnist`) to "
          "check the layer there too")  # fmt: skip
