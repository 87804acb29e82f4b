"""Benchmark: an implicit-EM layer's training step vs a sparse autoencoder's; greedy
layer-wise training with cached vs recomputed frozen inputs.

    python bench/layers.py [--quick]

``ImplicitEMLayer(784, 256)`` with the LSE term + Gaussian InfoMax (covariance) vs a
same-width sparse ReLU autoencoder 784 -> 256 -> 784 (MSE + L1), what a user would pick
instead: forward, backward and an Adam step at batch 512. Rounds alternate the two, each
from freshly initialised weights (a step on a batch the model has already fitted for
hundreds of steps is not a training step: the InfoMax layer's scale grows and ``exp``
starts to meet subnormal numbers); the ratio is the median over rounds. Goal: <= 0.6x.
The FLOP ratio it is measured against counts the matrix products of forward + backward:
the layer's ``x W^T`` and ``dW`` (``2 x 2 n D K``; ``x`` needs no gradient) and the
covariance's Gram forward and backward (``2 x 2 n K^2``), against the autoencoder's
five ``2 n D K`` products (encoder forward and ``dW``; decoder forward, ``dW`` and
``dh``). ``lapack_ms`` is the Cholesky factor and inverse of the ``K x K`` covariance
(the log-det's value and gradient) timed alone in the same run: ``O(K^3)`` work that
the FLOP count leaves out.

``throughput``: training samples per second of the implicit-EM layer at its defaults
(one epoch), SoftHebb (its one epoch), the sparse autoencoder (one epoch) and triangle
k-means (3 iterations) at K = 2000 on 60k MNIST rows; then the implicit-EM layer's
whole default training (5 epochs) against SoftHebb's (goal: ratio <= 1).

``greedy``: :func:`implicit_em.training.train_layerwise` on 784-256-256-256 implicit-EM
layers (LSE + InfoMax), 10 epochs per layer at batch 256 on 8000 MNIST images (the
test-set files under ``IEM_DATA``; random data of the same shape without them). Goal:
<= 60 s on 2 cores; the ratio is against recomputing the frozen layers every batch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_seconds, report
from implicit_em.layers import ImplicitEMLayer, build
from implicit_em.training import train_layerwise


class SparseAutoencoder(nn.Module):
    def __init__(self, d: int, k: int, l1: float = 1e-3):
        super().__init__()
        self.enc, self.dec, self.l1 = nn.Linear(d, k), nn.Linear(k, d), l1

    def loss(self, x):
        h = torch.relu(self.enc(x))
        return nn.functional.mse_loss(self.dec(h), x) + self.l1 * h.abs().sum(1).mean()


def _step(model, loss, x):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss(x).backward()
        opt.step()

    return step


def _per_step(step, steps: int) -> float:
    """Seconds per step over ``steps`` steps after two warm-up steps."""
    step(), step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def _mnist(n: int) -> tuple[torch.Tensor, str]:
    from implicit_em.data import find_mnist, load_dataset

    if find_mnist() is None:
        return torch.randn(n, 784, generator=torch.Generator().manual_seed(0)), "random"
    ds = load_dataset("mnist", seed=0, download=False, n_train=n)
    x = torch.as_tensor(ds.X_train[:n], dtype=torch.float32)
    return (x - x.mean(0)) / (x.std(0) + 1e-3), "MNIST"


def _greedy(quick: bool) -> dict:
    lin = ":iem(distance=linear)"  # the linear layers this was measured with
    n, epochs, width = (1000, 1, 32) if quick else (8000, 10, 256)
    spec = "784" + f"-{width}{lin}" * 3
    x, source = _mnist(n)
    seconds = {}
    for name, cache in (("cached", 2**31), ("recomputed", 0)):
        torch.manual_seed(0)
        net = build(spec)
        res = train_layerwise(
            net, x, epochs=epochs, batch_size=256, cache_bytes=cache, progress=False
        )
        seconds[name] = res.wall_s
    return {
        "part": "greedy",
        "case": f"{spec}, {n} {source} rows, {epochs} epochs per layer",
        "cached_s": seconds["cached"],
        "recomputed_s": seconds["recomputed"],
        "ratio": seconds["cached"] / seconds["recomputed"],
        "goal_s": 60.0,
    }


def _throughput(quick: bool) -> list[dict]:
    """Training samples per second of each learner at its class defaults (one pass;
    k-means: its first iterations), at the benchmark's width on MNIST rows; the goal row
    times the implicit-EM layer's whole default training (its epochs) on the rows
    against SoftHebb's whole default training (its one epoch) on the same rows."""
    from implicit_em.baselines import (
        ImplicitEMFeatures,
        SoftHebb,
        SparseAutoencoder,
        TriangleKMeans,
    )

    n, k = (600, 64) if quick else (60_000, 2000)
    x, source = _mnist(n)
    x = (x - x.min()) / (x.max() - x.min())  # pixel scale, as the benchmark gives them
    default_iem = ImplicitEMFeatures(k).epochs
    learners = {
        "implicit EM (default layer)": (lambda: ImplicitEMFeatures(k, epochs=1), 1),
        "SoftHebb": (lambda: SoftHebb(k), SoftHebb(k).epochs),
        "sparse autoencoder": (lambda: SparseAutoencoder(k, epochs=1), 1),
        "triangle k-means": (lambda: TriangleKMeans(k, max_iter=3), 3),
    }
    rows, seconds = [], {}
    for name, (make, passes) in learners.items():
        start = time.perf_counter()
        make().fit(x)
        seconds[name] = time.perf_counter() - start
        rows.append({
            "part": "throughput", "case": f"{name}, K={k}, {n} {source} rows",
            "samples_per_s": passes * n / seconds[name],
        })  # fmt: skip
    start = time.perf_counter()
    ImplicitEMFeatures(k).fit(x)
    whole = time.perf_counter() - start
    rows.append({
        "part": "throughput",
        "case": f"implicit EM's default training ({default_iem} epochs) vs SoftHebb's (1 epoch)",
        "iem_s": whole, "softhebb_s": seconds["SoftHebb"],
        "ratio": whole / seconds["SoftHebb"], "goal": 1.0,
    })  # fmt: skip
    return rows


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    a = p.parse_args(argv)
    n, d, k, rounds, steps = (64, 784, 32, 3, 5) if a.quick else (512, 784, 256, 9, 30)
    torch.manual_seed(0)
    x = torch.randn(n, d)
    t_iem, t_sae = [], []
    for r in range(rounds):
        torch.manual_seed(r)
        layer = ImplicitEMLayer(d, k, objective="infomax", distance="linear")  # as measured
        sae = SparseAutoencoder(d, k)
        t_iem.append(
            _per_step(_step(layer, lambda b, m=layer: sum(m.objective(b).values()), x), steps)
        )
        t_sae.append(_per_step(_step(sae, sae.loss, x), steps))
    ratios = [i / s for i, s in zip(t_iem, t_sae, strict=True)]
    c = torch.cov(torch.randn(n, k).T)
    eye = torch.eye(k)

    def log_det_and_inverse():  # what the log-det's forward and backward factorise
        inv = torch.linalg.solve_triangular(torch.linalg.cholesky_ex(c)[0], eye, upper=False)
        return inv.mT @ inv

    t_lapack = median_seconds(log_det_and_inverse, 0.5)
    flops_iem = 2 * (2 * n * d * k) + 2 * (2 * n * k * k)
    flops_sae = 5 * (2 * n * d * k)
    rows = [
        {
            "part": "step",
            "case": f"step, batch {n}, {d}->{k}, {rounds} rounds of {steps} steps",
            "iem_ms": 1e3 * statistics.median(t_iem),
            "sparse_ae_ms": 1e3 * statistics.median(t_sae),
            "ratio": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
            "flop_ratio": flops_iem / flops_sae,
            "lapack_ms": 1e3 * t_lapack,
            "goal": 0.6,
        }
    ]
    rows.append(_greedy(a.quick))
    rows += _throughput(a.quick)
    report("layers-quick" if a.quick else "layers", rows, {"quick": a.quick})
    return rows


if __name__ == "__main__":
    main()
