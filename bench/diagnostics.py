"""Benchmark: every diagnostic on a (20000, 1024) activation matrix (goal: < 2 s in all,
the linear probe excepted).

    python bench/diagnostics.py [--rows 20000] [--units 1024]

Baselines measured in the same run: one float32 Gram matrix ``A.T @ A`` (the
irreducible cost of any covariance statistic) and NumPy/SciPy reference
implementations (``np.linalg.svd`` for the effective rank, ``np.corrcoef`` for the
correlation, SciPy softmax + entropy for the responsibilities).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import report
from implicit_em import diagnostics as D


def seconds(fn, repeat: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--units", type=int, default=1024)
    p.add_argument("--inputs", type=int, default=784)
    a = p.parse_args(argv)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(a.rows, a.units, generator=g) + 0.3 * torch.randn(a.units, generator=g)
    acts = torch.relu(z)
    weight = torch.randn(a.units, a.inputs, generator=g)
    gram = seconds(lambda: acts.T @ acts)
    cases = {
        "unit_health": lambda: D.unit_health(acts),
        "activation_redundancy": lambda: D.activation_redundancy(acts),
        "weight_redundancy": lambda: D.weight_redundancy(weight),
        "responsibility_stats": lambda: D.responsibility_stats(z),
        "count_activation_patterns": lambda: D.count_activation_patterns(acts),
    }
    rows, total = [], 0.0
    for name, fn in cases.items():
        t = seconds(fn)
        total += t
        rows.append({"diagnostic": name, "seconds": t, "ratio_vs_gram": t / gram})
    rows.append(
        {"diagnostic": "TOTAL (goal < 2 s)", "seconds": total, "ratio_vs_gram": total / gram}
    )
    # NumPy/SciPy references for the heaviest statistics
    from scipy.special import softmax
    from scipy.stats import entropy

    x = acts.numpy()
    ref = {
        "effective_rank (ours, centred Gram)": (
            lambda: D.effective_rank(acts, center=True),
            lambda: np.linalg.svd(x - x.mean(0), compute_uv=False),
            "np.linalg.svd",
        ),
        "correlation_redundancy": (
            lambda: D.correlation_redundancy(acts),
            lambda: np.corrcoef(x.T),
            "np.corrcoef",
        ),
        "responsibility entropy": (
            lambda: D.responsibility_stats(z),
            lambda: entropy(softmax(-z.numpy(), axis=1), axis=1),
            "scipy softmax+entropy",
        ),
    }
    for name, (ours, theirs, label) in ref.items():
        t_ours, t_ref = seconds(ours, 2), seconds(theirs, 1)
        rows.append(
            {
                "diagnostic": f"{name} vs {label}",
                "seconds": t_ours,
                "ratio_vs_gram": t_ours / gram,
                "reference_s": t_ref,
                "speedup_vs_reference": t_ref / t_ours,
            }
        )
    report(
        "diagnostics",
        rows,
        {"shape": [a.rows, a.units], "gram_seconds": gram, "threads": torch.get_num_threads()},
    )
    print(f"total {total:.2f} s -> goal < 2 s: {'met' if total < 2 else 'MISSED'}")


if __name__ == "__main__":
    main()
