"""Validation search behind the implicit-EM conv block of the experiment ``conv``, on
MNIST's standard training set.

    python bench/conv_search.py [--quick] [--fit 20000] [--rows LABEL ...]

One factor at a time around the row ``default``: the experiment's first block
(:class:`~implicit_em.layers.ImplicitEMConv2d`, 96 filters of 5 x 5, padding 2, SoftHebb's
pool, the input batch-normalised) at the layer's defaults, trained as the experiment
trains it (Adam on its objective, lr 1e-3, batch 64, one epoch). Fitted on ``--fit`` of
the first 50k training images, scored by the experiment's read-out
(:func:`~implicit_em.diagnostics.linear_readout`, ``--readout-epochs``) on the last 10k;
the test images are never used. Without MNIST or with ``--quick``, random images stand in
and the numbers mean nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import report
from implicit_em.baselines.softhebb_conv import SOFTHEBB_LAYERS
from implicit_em.diagnostics import linear_readout
from implicit_em.layers import ImplicitEMConv2d

# label -> the layer's keyword arguments, plus the loop's: _lr, _batch, _epochs
GRID: dict[str, dict] = {
    "default": {},
    "temperature 0.5": {"temperature": 0.5},
    "temperature 2": {"temperature": 2.0},
    "temperature 5": {"temperature": 5.0},
    "relative temperature 0.1": {"relative_temperature": 0.1},
    "relative temperature 0.2": {"relative_temperature": 0.2},
    "relative temperature 0.4": {"relative_temperature": 0.4},
    "objective LSE only": {"objective": None},
    "objective balance + infomax": {"objective": "balance+infomax"},
    "output responsibilities": {"output": "responsibilities"},
    "output -log softmin": {"output": "neg_log_softmin"},
    "distance linear": {"distance": "linear"},
    "no input batch norm": {"input_norm": None},
    "lr 3e-3": {"_lr": 3e-3},
    "lr 3e-4": {"_lr": 3e-4},
    "batch 16": {"_batch": 16},
    "batch 256": {"_batch": 256},
    "2 epochs": {"_epochs": 2},
}


def _data(n_fit: int, quick: bool) -> tuple[tuple, str]:
    from implicit_em.data import find_mnist, load_dataset

    found = find_mnist()
    if quick or found is None or not found[1]:
        g = torch.Generator().manual_seed(0)
        x = torch.rand(n_fit + n_fit // 2, 1, 28, 28, generator=g)
        y = torch.randint(0, 10, (len(x),), generator=g)
        return (x[:n_fit], y[:n_fit], x[n_fit:], y[n_fit:]), "random"
    ds = load_dataset("mnist", download=False, n_test=10)  # the 60k in their order
    x, y = torch.as_tensor(ds.X_train).view(-1, 1, 28, 28), torch.as_tensor(ds.y_train)
    return (x[:n_fit], y[:n_fit], x[50000:], y[50000:]), "MNIST training images"


def measure(label: str, data: tuple, readout_epochs: int, seed: int = 0) -> dict:
    """Validation accuracy of one row of :data:`GRID`."""
    x, y, xv, yv = data
    kw = dict(GRID[label])
    lr, batch, epochs = kw.pop("_lr", 1e-3), kw.pop("_batch", 64), kw.pop("_epochs", 1)
    spec = SOFTHEBB_LAYERS[0]
    torch.manual_seed(seed)
    kw.setdefault("input_norm", "batch")
    layer = ImplicitEMConv2d(1, spec["out_channels"], spec["kernel_size"], padding=spec["padding"],
                             pool=spec["pool"], **kw)  # fmt: skip
    opt = torch.optim.Adam(layer.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    layer.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=g).split(batch):
            loss = torch.stack(list(layer.objective(x[idx]).values())).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    fit_s = time.perf_counter() - t0
    layer.eval()
    with torch.no_grad():
        f, fv = (torch.cat([layer(b) for b in a.split(500)]) for a in (x, xv))
    score = linear_readout(f, y, fv, yv, epochs=readout_epochs, seed=seed)
    return {"K": spec["out_channels"], "setting": label, "kwargs": GRID[label],
            "val_accuracy": score["test_accuracy"], "fit_s": fit_s}  # fmt: skip


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    p.add_argument("--fit", type=int, default=20000, help="training images fitted")
    p.add_argument("--readout-epochs", type=int, default=10)
    p.add_argument("--rows", nargs="*", default=list(GRID), help="GRID labels to measure")
    a = p.parse_args(argv)
    n_fit, epochs = (64, 1) if a.quick else (a.fit, a.readout_epochs)
    rows_wanted = ["default", "temperature 2"] if a.quick else a.rows
    data, source = _data(n_fit, a.quick)
    rows = [measure(label, data, epochs) for label in rows_wanted]
    meta = {"quick": a.quick, "images": source, "fit": n_fit, "validation": len(data[2]),
            "readout_epochs": epochs, "seeds": 1}  # fmt: skip
    report("conv_search-quick" if a.quick else "conv_search", rows, meta)
    return rows


if __name__ == "__main__":
    main()
