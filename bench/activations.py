"""Benchmark: forward+backward of every registered activation at (8192, 1024) float32.

    python bench/activations.py [--rows 8192] [--cols 1024] [--min-run-time 0.5]

Ratios against torch.relu and torch.tanh measured in the same run, in eager mode and
compiled with torch.compile (inductor fuses each activation's element-wise passes into
one kernel; eager pays one memory pass per op). Goals: closed-form derived activations
<= 1.5x tanh; competitive activations <= 3x relu; the numeric (log-sum-exp over
hypotheses) path <= 10x its own closed form. ``--no-compile`` skips the compiled column.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_seconds, report
from implicit_em.activations import ACTIVATIONS, make_activation, posterior_activation
from implicit_em.activations.derived import ContinuousModel


def fwd_bwd(fn, x):
    def step():
        x.grad = None
        fn(x).sum().backward()

    return step


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=8192)
    p.add_argument("--cols", type=int, default=1024)
    p.add_argument("--min-run-time", type=float, default=0.5)
    p.add_argument("--no-compile", action="store_true")
    a = p.parse_args(argv)
    x = torch.randn(a.rows, a.cols, generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    t = {
        "relu": median_seconds(fwd_bwd(torch.relu, x), a.min_run_time),
        "tanh": median_seconds(fwd_bwd(torch.tanh, x), a.min_run_time),
    }
    rows = []
    for name, spec in ACTIVATIONS.items():
        act = make_activation(name)
        sec = median_seconds(fwd_bwd(act, x), a.min_run_time)
        row = {
            "activation": name,
            "kind": spec.kind,
            "eager_ms": 1e3 * sec,
            "eager_x_relu": sec / t["relu"],
            "eager_x_tanh": sec / t["tanh"],
        }
        best = sec
        if not a.no_compile:
            torch._dynamo.reset()  # fresh caches: no recompile-limit fallback to eager
            comp = median_seconds(fwd_bwd(torch.compile(act), x), a.min_run_time)
            row.update(compiled_x_relu=comp / t["relu"], compiled_x_tanh=comp / t["tanh"])
            best = min(sec, comp)
        if spec.kind == "derived":
            row["goal"] = "<= 1.5x tanh"
            row["met"] = best / t["tanh"] <= 1.5
            built = act.energy_model()
            if not isinstance(built, ContinuousModel):
                num = median_seconds(
                    fwd_bwd(lambda z, m=built: posterior_activation(z, m, method="numeric"), x),
                    a.min_run_time,
                )
                row["numeric_x_closed_eager"] = num / sec
                row["numeric_met"] = num / sec <= 10
        else:
            row["goal"] = "<= 3x relu"
            row["met"] = best / t["relu"] <= 3
        rows.append(row)
    report(
        "activations",
        rows,
        {
            "shape": [a.rows, a.cols],
            "dtype": "float32",
            "relu_ms": 1e3 * t["relu"],
            "tanh_ms": 1e3 * t["tanh"],
        },
    )


if __name__ == "__main__":
    main()
