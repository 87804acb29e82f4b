"""Benchmark: cost of the volume-control / InfoMax objectives.

    python bench/objectives.py [--device cpu] [--quick]

1. Forward+backward of each objective on activations ``(1024, K)``, K in {64, 256,
   1024}, as a ratio against a plain MSE loss step on the same tensor.
2. A training step of a 784-256 linear layer at batch 512 (forward, MSE to a target,
   backward, Adam step) with and without Gaussian InfoMax + decorrelation added
   (goal, issue 26: the objectives add <= 40%).
3. HSIC between two 8-D variables, exact (biased, ``n x n`` kernels) vs random Fourier
   features (256 per variable), batch 512 ... 16384, with the growth exponent of each
   (goal: random features >= 20x faster than exact at 16384).
4. The author's encoder's training step at K = 2000 (784 -> 2000 ReLU, batch 128, its
   LSE + variance + decorrelation loss, backward, Adam step) as computed today (variances
   without the covariance matrix, the decorrelation term on its rows' route: the batch is
   narrower than its features) against the two ``(K, K)`` covariances it computed before
   (issue 36: make its 100 epochs affordable).
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_seconds, report
from implicit_em import objectives as O


def objective_cases(k: int):
    """(name, fn(z, w)) for activations of width ``k``; memory-bound cases are dropped."""
    cases = [
        ("gaussian_infomax", lambda z, w: O.gaussian_infomax(z, 0.1)),
        ("gaussian_infomax (corr)", lambda z, w: O.gaussian_infomax(z, correlation=True)),
        ("decorrelation", lambda z, w: O.decorrelation_loss(z)),
        ("log_variance", lambda z, w: O.log_variance_loss(z)),
        ("variance_hinge", lambda z, w: O.variance_hinge(z)),
        ("responsibility_entropy", lambda z, w: O.responsibility_entropy(z, "balance")),
        ("bell_sejnowski (extended)", lambda z, w: O.bell_sejnowski_infomax(z, w, "extended")),
        ("weight_orthogonality", lambda z, w: O.weight_orthogonality(w)),
    ]
    if k <= 256:  # (K m)^2 covariance of the random features
        cases.append(("pairwise_hsic (16 RFF)", lambda z, w: O.pairwise_hsic(z, n_features=16)))
    return cases


def step(fn, z, w):
    """One forward+backward of ``fn(z, w)``."""

    def run():
        z.grad = w.grad = None
        fn(z, w).backward()

    return run


def per_objective(device, widths, min_run_time):
    rows = []
    g = torch.Generator().manual_seed(0)
    for k in widths:
        z = torch.randn(1024, k, generator=g).to(device).requires_grad_(True)
        w = (torch.randn(k, k, generator=g) / math.sqrt(k)).to(device).requires_grad_(True)
        target = torch.randn(1024, k, generator=g).to(device)

        base = median_seconds(step(lambda z, w, t=target: F.mse_loss(z, t), z, w), min_run_time)
        for name, fn in objective_cases(k):
            t = median_seconds(step(fn, z, w), min_run_time)
            rows.append(
                {"part": "objective", "case": name, "K": k, "ms": 1e3 * t, "x_mse": t / base}
            )
        print(f"K={k} done", flush=True)
    return rows


def training_step(device, min_run_time):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(512, 784, generator=g).to(device)
    target = torch.randn(512, 256, generator=g).to(device)
    layer = torch.nn.Linear(784, 256).to(device)
    opt = torch.optim.Adam(layer.parameters(), lr=1e-4)

    def separate(z):
        return O.gaussian_infomax(z, 0.1) + O.decorrelation_loss(z)

    def shared(z):  # the same value from one covariance
        return O.covariance_objective(z, logdet=1.0, offdiag=0.1, decorrelation=1.0)[0]

    def make(extra):
        def run():
            opt.zero_grad(set_to_none=True)
            z = layer(x)
            loss = F.mse_loss(z, target)
            if extra is not None:
                loss = loss + 1e-3 * extra(z)
            loss.backward()
            opt.step()

        return run

    base = median_seconds(make(None), min_run_time)
    rows = []
    for name, extra in (("separate calls", separate), ("covariance_objective", shared)):
        t = median_seconds(make(extra), min_run_time)
        rows.append(
            {
                "part": "train_step",
                "case": f"784-256 Adam step + gaussian_infomax + decorrelation ({name})",
                "K": 256,
                "ms": 1e3 * t,
                "x_mse": t / base,
                "baseline_ms": 1e3 * base,
                "overhead": t / base - 1,
                "goal": "<= 0.40",
                "met": t / base - 1 <= 0.40,
            }
        )
    return rows


def hsic_scaling(device, sizes, min_run_time):
    rows, exact_t, rff_t = [], {}, {}
    g = torch.Generator().manual_seed(2)
    for n in sizes:
        x = torch.randn(n, 8, generator=g).to(device)
        y = torch.tanh(x[:, :4] @ torch.randn(4, 8, generator=g).to(device)) + 0.5 * torch.randn(
            n, 8, generator=g
        ).to(device)
        exact_t[n] = median_seconds(lambda x=x, y=y: O.hsic(x, y), min_run_time)
        rff_t[n] = median_seconds(lambda x=x, y=y: O.hsic_rff(x, y, n_features=256), min_run_time)
        rows.append(
            {
                "part": "hsic",
                "case": "exact vs 256 RFF",
                "n": n,
                "exact_ms": 1e3 * exact_t[n],
                "rff_ms": 1e3 * rff_t[n],
                "rff_speedup": exact_t[n] / rff_t[n],
            }
        )
        print(f"hsic n={n} done", flush=True)
    lo, hi = sizes[0], sizes[-1]
    span = math.log(hi / lo)
    rows.append(
        {
            "part": "hsic",
            "case": "growth exponent (log t / log n)",
            "n": f"{lo}-{hi}",
            "exact_exponent": math.log(exact_t[hi] / exact_t[lo]) / span,
            "rff_exponent": math.log(rff_t[hi] / rff_t[lo]) / span,
            "goal": ">= 20x at 16384",
            "met": exact_t[hi] / rff_t[hi] >= 20 if hi >= 16384 else None,
        }
    )
    return rows


def encoder_step(device, min_run_time, k: int = 2000, batch: int = 128):
    """Section 4: the encoder's step as today, or through two ``(K, K)`` covariances."""
    from implicit_em.baselines.decoder_free_encoder import encoder_loss
    from implicit_em.objectives._moments import correlation, moments, off_diagonal_sq

    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 784, generator=g).to(device)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, k), torch.nn.ReLU()).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def make(by_covariance: bool):
        def run():
            a = net(x)
            if by_covariance:  # the same terms, each through a (K, K) covariance, as before
                loss = (encoder_loss(a, var=0.0, tc=0.0)["lse"]
                        - torch.log(torch.diagonal(moments(a)[2]) + 1e-6).sum()
                        + off_diagonal_sq(correlation(moments(a)[2], 1e-6)))  # fmt: skip
            else:
                loss = sum(encoder_loss(a).values())
            opt.zero_grad()
            loss.backward()
            opt.step()

        return run

    with warnings.catch_warnings():  # ReLU units silent on a batch: the variance floor
        warnings.filterwarnings("ignore", ".*feature\\(s\\) are constant", RuntimeWarning)
        before = median_seconds(make(True), min_run_time)
        after = median_seconds(make(False), min_run_time)
    return [{"part": "encoder_step",
             "case": f"encoder step K={k} batch {batch}: (K, K) covariances (before)",
             "ms": before * 1e3},
            {"part": "encoder_step",
             "case": f"encoder step K={k} batch {batch}: variances, rows' Gram (today)",
             "ms": after * 1e3, "ratio": after / before, "goal": 1.0}]  # fmt: skip


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    p.add_argument("--min-run-time", type=float, default=0.5)
    a = p.parse_args(argv)
    widths = [64] if a.quick else [64, 256, 1024]
    sizes = [256, 512] if a.quick else [512, 1024, 2048, 4096, 8192, 16384]
    mrt = 0.05 if a.quick else a.min_run_time
    rows = per_objective(a.device, widths, mrt)
    rows += training_step(a.device, mrt)
    rows += hsic_scaling(a.device, sizes, mrt)
    rows += encoder_step(a.device, mrt, k=256 if a.quick else 2000)
    report("objectives" + ("-quick" if a.quick else ""), rows, {"device": a.device})
    return rows


if __name__ == "__main__":
    main()
