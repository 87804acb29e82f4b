"""Benchmark: what the bad-input checks cost, as ratios against the same call without them.

    python bench/checks.py [--quick]

* ``train``: :func:`implicit_em.training.train` on a 784-256-10 MLP (cross-entropy),
  with the non-finite-gradient check before every optimiser step vs the same loop with
  the check replaced by a no-op (goal: <= 1.05x).
* ``objective``: forward + backward of three objectives on a (4096, 256) batch with the
  one-reduction input check (``max |z|``) vs without it (goal: <= 1.10x).

Both variants run in the same process, alternating, best of ``repeats``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
import implicit_em.objectives as O
import implicit_em.objectives._moments as moments
import implicit_em.training.loop as loop
from _common import median_seconds, report


def _train_seconds(x, y, steps_epochs: int) -> float:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(x.shape[1], 256), nn.ReLU(), nn.Linear(256, 10))
    start = time.perf_counter()
    loop.train(
        net,
        lambda m, b: nn.functional.cross_entropy(m(b[0]), b[1]),
        (x, y),
        epochs=steps_epochs,
        batch_size=128,
        progress=False,
    )
    return time.perf_counter() - start


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    a = p.parse_args(argv)
    n, repeats, batch = (1024, 2, 512) if a.quick else (8192, 5, 4096)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 784, generator=g), torch.randint(0, 10, (n,), generator=g)
    rows = []

    checked, unchecked = [], []
    original = loop.check_finite_gradients
    try:
        for _ in range(repeats):
            loop.check_finite_gradients = original
            checked.append(_train_seconds(x, y, 2))
            loop.check_finite_gradients = lambda *args: None
            unchecked.append(_train_seconds(x, y, 2))
    finally:
        loop.check_finite_gradients = original
    rows.append(
        {
            "part": "train",
            "case": f"MLP 784-256-10, {2 * n // 128} steps",
            "checked_s": min(checked),
            "unchecked_s": min(unchecked),
            "ratio": min(checked) / min(unchecked),
        }
    )

    z = torch.randn(batch, 256, generator=g, requires_grad=True)
    original = moments.check_finite
    for name, fn in (
        ("decorrelation_loss", O.decorrelation_loss),
        ("gaussian_infomax", O.gaussian_infomax),
        ("variance_hinge", O.variance_hinge),
    ):

        def step(fn=fn):
            fn(z).backward()

        try:
            moments.check_finite = original
            with_check = median_seconds(step, 0.2 if a.quick else 1.0)
            moments.check_finite = lambda *args, **kw: None
            without = median_seconds(step, 0.2 if a.quick else 1.0)
        finally:
            moments.check_finite = original
        rows.append(
            {
                "part": "objective",
                "case": f"{name} fwd+bwd ({batch}, 256)",
                "checked_s": with_check,
                "unchecked_s": without,
                "ratio": with_check / without,
            }
        )
    report("checks-quick" if a.quick else "checks", rows, {"quick": a.quick})
    return rows


if __name__ == "__main__":
    main()
