"""Validation search at depth 1-3 behind the implicit-EM conv stack of the experiment
``conv``, on MNIST's standard training set, with the per-depth diagnostic.

    python bench/conv_depth_search.py [--quick] [--fit 10000] [--width-scale 0.25]
                                      [--rows LABEL ...] [--seeds 0 1 2]

Each row of :data:`GRID` builds the experiment's greedy stack (SoftHebb's skeleton at
``--width-scale`` of its widths, :func:`implicit_em.experiments.conv.layers`): block ``d``
learns on the frozen outputs of blocks ``1..d-1``. Implicit-EM rows set
:class:`~implicit_em.layers.ImplicitEMConv2d`'s keyword arguments (one dict for every
depth, or a list of one dict per depth) and are trained as the experiment trains them;
the SoftHebb and conv k-means rows are the experiment's baselines on the same images.
Fitted on ``--fit`` of the first 50k training images, scored after every depth by the
experiment's read-out (:func:`~implicit_em.diagnostics.linear_readout`,
``--readout-epochs``) on the last 10k; the test images are never used. Per depth the
row also records the implicit-EM block's diagnostic
(:func:`~implicit_em.diagnostics.stack_diagnostics` on validation images) and, for every
learner, the near-duplicate channel share of its outputs (the experiment's
``channel_health``). Without MNIST or with ``--quick``, random images stand in and the
numbers mean nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import report
from implicit_em.diagnostics import linear_readout, stack_diagnostics
from implicit_em.experiments import conv as C
from implicit_em.layers import ImplicitEMConv2d

# label -> ("iem", kwargs or [kwargs per depth]) | ("softhebb", {}) | ("kmeans", {}); an
# implicit-EM row's kwargs may set the loop's _epochs and _lr (the experiment's 1 and 1e-3)
B = {"input_norm": "batch"}  # the experiment's: each channel standardised first
O = {**B, "objective": "balance"}  # the layer's objective before this search
GRID: dict[str, tuple[str, dict | list]] = {
    "default": ("iem", B),  # patch_norm on, LSE + balance + decorrelation (since this search)
    "balance only": ("iem", O),
    "no patch norm": ("iem", {**O, "patch_norm": False}),
    "no patch norm, relative T 0.2": (
        "iem",
        {**O, "patch_norm": False, "relative_temperature": 0.2},
    ),
    "no patch norm, relative T 0.1": (
        "iem",
        {**O, "patch_norm": False, "relative_temperature": 0.1},
    ),
    "balance only, relative T 0.2": ("iem", {**O, "relative_temperature": 0.2}),
    "balance only, whiten": ("iem", {**O, "whiten": True}),
    "balance only, whiten, relative T 0.2": (
        "iem",
        {**O, "whiten": True, "relative_temperature": 0.2},
    ),
    "balance only, 3 epochs": ("iem", {**O, "_epochs": 3}),
    "balance only, lr 1e-2": ("iem", {**O, "_lr": 1e-2}),
    "balance + infomax": ("iem", {**B, "objective": "balance+infomax"}),
    "balance + decorrelation x4": (
        "iem",
        {**B, "objective": {"balance": 1.0, "decorrelation": 4.0}},
    ),
    "3 epochs": ("iem", {**B, "_epochs": 3}),
    "epochs 1 / 1 / 5": ("iem", [B, B, {**B, "_epochs": 5}]),
    "epochs 3 / 3 / 10": ("iem", [{**B, "_epochs": 3}, {**B, "_epochs": 3}, {**B, "_epochs": 10}]),
    "SoftHebb": ("softhebb", {}),
    "conv k-means": ("kmeans", {}),
}
DIAGNOSTIC = ("duplicate_prototypes", "never_nearest", "near_duplicate_share", "usage_entropy",
              "responsibility_entropy", "spread_over_T", "input_rank_share")  # fmt: skip


def _data(n_fit: int, n_val: int, quick: bool) -> tuple[tuple, str]:
    from implicit_em.data import find_mnist, load_dataset

    found = find_mnist()
    if quick or found is None or not found[1]:
        g = torch.Generator().manual_seed(0)
        x = torch.rand(n_fit + n_val, 1, 28, 28, generator=g)
        y = torch.randint(0, 10, (len(x),), generator=g)
        return (x[:n_fit], y[:n_fit], x[n_fit:], y[n_fit:]), "random"
    ds = load_dataset("mnist", download=False, n_test=10)  # the 60k in their order
    x, y = torch.as_tensor(ds.X_train).view(-1, 1, 28, 28), torch.as_tensor(ds.y_train)
    return (x[:n_fit], y[:n_fit], x[-n_val:], y[-n_val:]), "MNIST training images"


def _block(kind: str, kw: dict, c_in: int, spec: dict, cfg: C.Config, index: int):
    if kind == "softhebb":
        return C.make_block(C.SOFTHEBB, c_in, spec, cfg, index)
    if kind == "kmeans":
        return C.make_block(C.KMEANS, c_in, spec, cfg, index)
    torch.manual_seed(1000 * cfg.seed + index)
    return ImplicitEMConv2d(c_in, spec["out_channels"], spec["kernel_size"],
                            padding=spec["padding"], pool=spec["pool"], **kw)  # fmt: skip


def measure(label: str, data: tuple, cfg: C.Config) -> list[dict]:
    """One row per depth of :data:`GRID`'s ``label``: validation accuracy, fit seconds,
    the near-duplicate channel share and (implicit EM) the block's diagnostic."""
    kind, kws = GRID[label]
    x, y, xv, yv = data
    rows = []
    for index, spec in enumerate(C.layers(cfg)):
        kw = dict(kws[index] if isinstance(kws, list) else kws)
        loop = {
            "iem_epochs": (kw.pop("_epochs"),) if "_epochs" in kw else cfg.iem_epochs,
            "iem_lr": kw.pop("_lr", cfg.iem_lr),
        }
        block = _block(kind, kw, x.shape[1], spec, cfg, index)
        fit_s = C.fit_block(label, block, x, dataclasses.replace(cfg, **loop), index)
        diag = {}
        if isinstance(block, ImplicitEMConv2d):
            found = stack_diagnostics(block, xv[:2000], seed=cfg.seed)[0]
            diag = {k: found[k] for k in DIAGNOSTIC}
        x, xv = C.outputs(block, x), C.outputs(block, xv)
        score = linear_readout(x, y, xv, yv, epochs=cfg.readout_epochs, seed=cfg.seed)
        health = C.channel_health(xv, cfg.redundant_corr)
        rows.append({"setting": label, "seed": cfg.seed, "depth": index + 1,
                     "channels": spec["out_channels"], "val_accuracy": score["test_accuracy"],
                     "train_accuracy": score["train_accuracy"], "fit_s": fit_s,
                     "dead_channels": health["dead_channels"],
                     "redundant_share": health["redundant_share"], **diag,
                     "kwargs": kws[index] if isinstance(kws, list) else kws})  # fmt: skip
        print(f"  {label} seed {cfg.seed} depth {index + 1}: {score['test_accuracy']:.4f} "
              f"({fit_s:.0f} s) {diag}", flush=True)  # fmt: skip
    return rows


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    p.add_argument("--fit", type=int, default=10000, help="training images fitted")
    p.add_argument("--val", type=int, default=10000, help="validation images (the last)")
    p.add_argument("--width-scale", type=float, default=0.25)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--readout-epochs", type=int, default=10)
    p.add_argument("--seeds", type=int, nargs="*", default=[0])
    p.add_argument("--rows", nargs="*", default=list(GRID), help="GRID labels to measure")
    p.add_argument("--name", default="conv_depth_search", help="results/NAME.json")
    a = p.parse_args(argv)
    if a.quick:
        a.fit, a.val, a.readout_epochs, a.width_scale, a.depth = 64, 32, 1, 0.1, 2
        a.rows, a.seeds = ["default", "SoftHebb"], [0]
    data, source = _data(a.fit, a.val, a.quick)
    meta = {"quick": a.quick, "images": source, "fit": a.fit, "validation": a.val,
            "width_scale": a.width_scale, "readout_epochs": a.readout_epochs,
            "seeds": a.seeds}  # fmt: skip
    rows: list[dict] = []
    for seed in a.seeds:
        cfg = C.Config(seed=seed, depth=a.depth, width_scale=a.width_scale,
                       readout_epochs=a.readout_epochs, kmeans_patches=100_000)  # fmt: skip
        for label in a.rows:  # the table so far is written after every row: a stopped
            rows += measure(label, data, cfg)  # search keeps what it measured
            report(f"{a.name}-quick" if a.quick else a.name, rows, meta)
    return rows


if __name__ == "__main__":
    main()
