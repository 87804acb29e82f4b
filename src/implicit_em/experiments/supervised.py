"""Experiment ``supervised``: does a supervised signal combine with InfoMax? (C22)

The theory's author's supervised study: ``x -> Linear(784, 25) -> ReLU -> d ->
[-log softmin] -> Linear(25, 10) -> LayerNorm -> cross-entropy``, with the volume
control ``λ (-sum_j log Var(d_j) + ||Corr(d) - I||^2)`` (variance + decorrelation, the
InfoMax decomposition) on the hidden distances ``d`` as an auxiliary loss; its ablation
is ``PUBLISHED``. Here, on our data and seeds:

* the author's five configurations (baseline, NLS only, NLS + var, NLS + var + TC,
  var + TC only) at ``λ = 10^-3``;
* a sweep of ``λ`` for NLS + var + TC;
* the Gaussian InfoMax ``-log det Cov(d)`` as the auxiliary term instead.

Measured: test accuracy, dead units (variance of ``d`` < 0.01 over the test images),
redundancy ``||Corr(d) - I||_F^2`` and the responsibility entropy of ``softmax(-d)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from typing_extensions import override

from .. import objectives as O
from ..activations import make_activation
from ..diagnostics import correlation_redundancy, responsibility_stats
from ..training import train
from .base import Experiment, image_tensors
from .config import bounded
from .rules import Rule, contrast
from .verdicts import COUNT, UNIT, over_seeds, percent_interval

BASELINE, FULL = "baseline (CE only)", "NLS + var + TC"
# name: (neg-log-softmin, variance, decorrelation, gaussian infomax, λ multiplier)
CONFIGS = {
    BASELINE: (False, 0.0, 0.0, 0.0, 1.0),
    "NLS only": (True, 0.0, 0.0, 0.0, 1.0),
    "NLS + var": (True, 1.0, 0.0, 0.0, 1.0),
    FULL: (True, 1.0, 1.0, 0.0, 1.0),
    "var + TC only": (False, 1.0, 1.0, 0.0, 1.0),
    "NLS + var + TC, λ x 0.1": (True, 1.0, 1.0, 0.0, 0.1),
    "NLS + var + TC, λ x 10": (True, 1.0, 1.0, 0.0, 10.0),
    "NLS + Gaussian InfoMax": (True, 0.0, 0.0, 1.0, 1.0),
}
PUBLISHED = [  # the author's ablation: full MNIST, hidden 25, 50 epochs, 10 seeds
    {"config": c, "accuracy": a, "sd": sd, "dead_units": dead, "redundancy": red}
    for c, a, sd, dead, red in (
        (BASELINE, 0.9609, 0.0007, 1.4, 20.5),
        ("NLS only", 0.9614, 0.0017, 1.2, 24.9),
        ("NLS + var", 0.9575, 0.0021, 0.0, 187.0),
        (FULL, 0.9634, 0.0011, 0.0, 13.9),
        ("var + TC only", 0.9640, 0.0010, 0.1, 13.3),
    )
]


@dataclass
class Config:
    """Full-size settings (``QUICK`` shrinks them for ``--quick``)."""

    seed: int = 0
    datasets: tuple[str, ...] = ("mnist", "digits")
    hidden: int = 25
    mnist_train: int = 8000
    epochs: int = 50
    batch_size: int = 128
    lr: float = 1e-3
    lam: float = bounded(1e-3, gt=0.0)  # the author's λ_reg
    dead_variance: float = bounded(0.01, min=0.0)
    # C22: accuracy lost that still counts as kept, per dataset: twice the seed-to-seed SD
    # of CE alone's accuracy on the calibration seeds 100-104 (runs/calibration-amd: MNIST
    # 0.0038, digits 0.0094; one digits test image is 0.0028)
    tolerance_mnist: float = bounded(0.0076, min=0.0)
    tolerance_digits: float = bounded(0.019, min=0.0)


QUICK = {"mnist_train": 2000, "epochs": 10}


class SupervisedNet(nn.Module):
    """``Linear -> ReLU -> d -> [-log softmin] -> Linear -> LayerNorm``; ``forward``
    returns ``(logits, d)``."""

    def __init__(self, d_in: int, hidden: int, n_classes: int, nls: bool):
        super().__init__()
        self.hidden, self.head = nn.Linear(d_in, hidden), nn.Linear(hidden, n_classes)
        self.norm = nn.LayerNorm(n_classes)
        self.nls = make_activation("neg_log_softmin") if nls else nn.Identity()

    @override
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = torch.relu(self.hidden(x))
        return self.norm(self.head(self.nls(d))), d


def _loss(cfg: Config, var: float, tc: float, gauss: float, scale: float):
    lam = cfg.lam * scale

    def loss(m, b):
        logits, d = m(b[0])
        terms = {"ce": nn.functional.cross_entropy(logits, b[1])}
        if var:
            terms["var"] = lam * var * O.log_variance_loss(d)
        if tc:
            terms["tc"] = lam * tc * O.decorrelation_loss(d)
        if gauss:
            terms["infomax"] = lam * gauss * O.gaussian_infomax(d)
        return terms

    return loss


def one_fit(name: str, x: torch.Tensor, y: torch.Tensor, xt: torch.Tensor, yt: torch.Tensor,
            cfg: Config, seed: int, n_classes: int) -> dict:  # fmt: skip
    """Fit one model on the training split and measure it on the test split (one table row)."""
    nls, var, tc, gauss, scale = CONFIGS[name]
    torch.manual_seed(seed)
    net = SupervisedNet(x.shape[1], cfg.hidden, n_classes, nls)
    with warnings.catch_warnings():  # ReLU units silent on a batch: the variance floor
        warnings.filterwarnings("ignore", ".*feature\\(s\\) are constant", RuntimeWarning)
        train(net, _loss(cfg, var, tc, gauss, scale), (x, y), epochs=cfg.epochs,
              batch_size=cfg.batch_size, lr=cfg.lr, seed=seed,
              description=f"supervised:{name}")  # fmt: skip
    net.eval()
    with torch.no_grad():
        logits, d = net(xt)
    v = d.var(0)
    live = int((v >= cfg.dead_variance).sum())
    return {"config": name, "accuracy": float((logits.argmax(1) == yt).float().mean()),
            "dead_units": d.shape[1] - live, "min_variance": float(v.min()),
            "redundancy": correlation_redundancy(d, cfg.dead_variance) if live >= 2 else None,
            "responsibility_entropy": responsibility_stats(d)["mean_entropy"]}  # fmt: skip


# C22 on the author's own arm (NLS + var + TC) against CE alone, per dataset: the
# combination keeps the accuracy (at most ``tolerance`` below), has no more dead
# units, and less redundancy.
_ARM: dict[str, Any] = {"claim": "C22", "table": "below_baseline", "where": {"config": FULL},
       "cells": ("dataset",)}  # fmt: skip
RULES = (
    # C22 on the author's own arm (NLS + var + TC) against CE alone, per dataset: the
    # combination keeps the accuracy (at most the dataset's tolerance, twice CE alone's
    # seed-to-seed SD, below) and has no more dead units. A control: its redundancy is
    # lower -- the auxiliary loss penalises exactly that, so it shows the term acts, and
    # proves nothing about the combination
    Rule(stat="accuracy_below_ref", op="<=", threshold="tolerance_mnist", bounds=(-1.0, 1.0),
         primary=True,
         **{**_ARM, "where": {**_ARM["where"], "dataset": "mnist"}},
         says="test accuracy: CE alone minus CE + InfoMax"),
    Rule(stat="accuracy_below_ref", op="<=", threshold="tolerance_digits", bounds=(-1.0, 1.0),
         primary=True,
         **{**_ARM, "where": {**_ARM["where"], "dataset": "digits"}},
         says="test accuracy: CE alone minus CE + InfoMax"),
    Rule(stat="dead_units_below_ref", op=">=", threshold=0, says="dead units: CE alone "
         "minus CE + InfoMax", **_ARM),
    Rule(stat="redundancy_below_ref", op=">", threshold=0, gate=True, says="redundancy: CE "
         "alone minus CE + InfoMax", **_ARM),
)  # fmt: skip


def run(cfg: Config, out_dir: Path) -> dict:
    """One seed's measurements at ``cfg``'s sizes (the runner stores them in ``out_dir``)."""
    rows: list[dict] = []
    for ds_name, ds, x, xt in image_tensors(cfg.datasets, cfg.seed, cfg.mnist_train):
        y, yt = torch.as_tensor(ds.y_train), torch.as_tensor(ds.y_test)
        for name in CONFIGS:
            row = one_fit(name, x, y, xt, yt, cfg, cfg.seed, int(y.max()) + 1)
            rows.append({"dataset": ds_name, **row})
    below = contrast(rows, "config", BASELINE, ["accuracy", "dead_units", "redundancy"],
                     within=("dataset",))  # fmt: skip
    tables = {"configs": rows, "below_baseline": below, "published": PUBLISHED}
    return {"tables": tables}


def across_seeds(tables: dict, cfg: Config) -> dict:
    """Tables from every seed's rows together (shown first in the report)."""
    values = {"accuracy": UNIT, "dead_units": COUNT, "redundancy": COUNT,
              "responsibility_entropy": COUNT}  # fmt: skip
    summary = over_seeds(tables["configs"], ("dataset", "config"), values)
    for r in summary:
        r["accuracy_95"] = percent_interval(r, "accuracy")
    return {"summary_over_seeds": summary}


WHY = {
    "C22": "combining means keeping the accuracy (within twice its seed-to-seed SD) without "
    "dead units; lower redundancy is what the auxiliary term penalises, so it is the control.",
}


EXPERIMENT = Experiment.declared_in(
    __name__,
    "A supervised signal with InfoMax: the author's ablation and a λ sweep",
    fixed_tables=("published",),
    summary="The author's supervised ablation (784 -> 25 -> 10, an implicit-EM hidden layer by "
    "-log softmin, variance + decorrelation as an auxiliary loss) with a sweep of its weight "
    "and the Gaussian InfoMax instead.",
    data_note="pixels in [0, 1] (published: full MNIST)",
)
