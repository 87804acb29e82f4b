"""Benchmark: forward+backward of the LSE ops against their torch counterparts.

    python bench/lse.py [--rows 8192] [--cols 1024] [--device cpu]

Each library op is timed against the torch op it replaces, in the same run, and the
ratio (library / torch) is printed. The library ops validate their input (one fused
check) and compute the LSE with a held max-shift so the gradient stays exact at |d|~1e6.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_seconds, report
from implicit_em import lse


def fwd_bwd(fn, x):
    def step():
        x.grad = None
        fn(x).backward()

    return step


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=8192)
    p.add_argument("--cols", type=int, default=1024)
    p.add_argument("--device", default="cpu")
    p.add_argument("--min-run-time", type=float, default=1.0)
    a = p.parse_args(argv)
    g = torch.Generator().manual_seed(0)
    d = torch.randn(a.rows, a.cols, generator=g).to(a.device).requires_grad_(True)
    y = torch.randint(0, a.cols, (a.rows,), generator=g).to(a.device)
    cases = [
        (
            "lse_objective",
            lambda x: lse.lse_objective(x).sum(),
            "torch.logsumexp",
            lambda x: torch.logsumexp(-x, -1).sum(),
        ),
        (
            "responsibilities",
            lambda x: (lse.responsibilities(x) ** 2).sum(),
            "torch.softmax",
            lambda x: (torch.softmax(-x, -1) ** 2).sum(),
        ),
        (
            "distance_cross_entropy",
            lambda x: lse.distance_cross_entropy(x, y),
            "F.cross_entropy",
            lambda x: F.cross_entropy(-x, y),
        ),
    ]
    rows = []
    for name, fn, base_name, base in cases:
        t_base = median_seconds(fwd_bwd(base, d), a.min_run_time)
        t = median_seconds(fwd_bwd(fn, d), a.min_run_time)
        rows.append(
            {
                "op": name,
                "baseline": base_name,
                "ms": t * 1e3,
                "baseline_ms": t_base * 1e3,
                "ratio": t / t_base,
            }
        )
    report("lse", rows, {"shape": [a.rows, a.cols], "dtype": "float32", "device": a.device})


if __name__ == "__main__":
    main()
