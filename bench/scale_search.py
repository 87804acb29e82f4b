"""Does the layer work at any input scale? The README loop on scikit-learn's digits,
scaled by 0.01, 1 and 100, against the raw pixels under the same probe.

    python bench/scale_search.py [--quick] [--seeds 3] [--epochs 1 20]

The digits (1797 images of 8 x 8, pixels / 16 in [0, 1]) are split once into 1437
fitted and 360 validation images (seeded; no test set is involved). Each row trains an
``ImplicitEMLayer(64, 64, **settings)`` by the README's loop (Adam, lr 1e-3, batch 256,
``--epochs``, ``sum(layer.objective(x).values())``) and scores
:func:`implicit_em.diagnostics.linear_probe` on the validation images, beside the same
probe on the raw pixels. :func:`implicit_em.diagnostics.stack_diagnostics` gives each
row's responsibility entropy (1: uniform, the means merge into the data mean) and the
distances' spread over ``T``: the diagnostic behind the rows (issue 35, item 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import report
from implicit_em.diagnostics import linear_probe, stack_diagnostics
from implicit_em.layers import ImplicitEMLayer

# label -> ImplicitEMLayer keyword arguments
RAW = {"input_norm": None, "temperature": 1.0}  # the layer's defaults before issue 35
GRID: dict[str, dict] = {
    "default": {},
    "no input_norm, T = 1 (the default before)": RAW,
    "relative T 0.1": {"input_norm": None, "relative_temperature": 0.1},
    "relative T 0.2": {"input_norm": None, "relative_temperature": 0.2},
    "relative T 0.4": {"input_norm": None, "relative_temperature": 0.4},
    "input_norm scale, T 0.2": {"input_norm": "scale", "temperature": 0.2},
    "input_norm scale, T 0.4": {"input_norm": "scale", "temperature": 0.4},
    "input_norm sample, T = 1": {"input_norm": "sample", "temperature": 1.0},
    "input_norm batch, T = 1": {"input_norm": "batch", "temperature": 1.0},
}
SCALES = (0.01, 1.0, 100.0)


def _digits(seed: int = 0) -> tuple:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.as_tensor(x / 16.0, dtype=torch.float32)
    order = torch.as_tensor(np.random.default_rng(seed).permutation(len(x)))
    fit, val = order[:1437], order[1437:]
    return x[fit], torch.as_tensor(y)[fit], x[val], torch.as_tensor(y)[val]


def measure(settings: dict, data: tuple, scale: float, epochs: int, seed: int) -> dict:
    """Validation accuracy and diagnostics of one layer."""
    x, y, xv, yv = data
    x, xv = x * scale, xv * scale
    torch.manual_seed(seed)
    layer = ImplicitEMLayer(64, 64, **settings)
    opt = torch.optim.Adam(layer.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    layer.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=g).split(256):
            loss = sum(layer.objective(x[idx]).values())
            opt.zero_grad()
            loss.backward()
            opt.step()
    layer.eval()
    with torch.no_grad():
        f, fv = layer(x), layer(xv)
    diag = stack_diagnostics(layer, xv)[0]
    return {"val_accuracy": linear_probe(f, y, fv, yv)["test_accuracy"],
            "responsibility_entropy": diag["responsibility_entropy"],
            "spread_over_T": diag["spread_over_T"]}  # fmt: skip


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one seed, one epoch, two rows")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, nargs="+", default=[1, 20])
    a = p.parse_args(argv)
    seeds, epochs = (1, [1]) if a.quick else (a.seeds, a.epochs)
    labels = list(GRID)[:2] if a.quick else list(GRID)
    data = _digits()
    rows = []
    for scale in SCALES:
        raw = linear_probe(data[0] * scale, data[1], data[2] * scale, data[3])
        rows.append({"scale": scale, "setting": "raw pixels", "epochs": None,
                     "val_accuracy": raw["test_accuracy"]})  # fmt: skip
        for label in labels:
            for e in epochs:
                runs = [measure(GRID[label], data, scale, e, s) for s in range(seeds)]
                mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
                rows.append({"scale": scale, "setting": label, "epochs": e, **mean,
                             "val_min": min(r["val_accuracy"] for r in runs),
                             "beats_raw": mean["val_accuracy"] > raw["test_accuracy"]})  # fmt: skip
    meta = {"quick": a.quick, "data": "scikit-learn digits / 16, 1437 fitted / 360 validation",
            "seeds": seeds, "loop": "README: Adam 1e-3, batch 256", "K": 64}  # fmt: skip
    report("scale_search-quick" if a.quick else "scale_search", rows, meta)
    return rows


if __name__ == "__main__":
    main()
