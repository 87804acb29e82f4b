"""Experiment ``dead_units``: do ReLU units die for good while soft units recover? (C9)

A two-hidden-layer MLP is trained on digits (and on MNIST when its files are present)
with ReLU, tanh, two derived activations (the posterior-mean gate ``z sigmoid(z)`` and
the Laplace posterior mean ``tanh(clip(z, -1, 1))``) and two competitive activations
(SoLU, grouped SoLU), with Adam and with SGD. A unit is *inactive* when its local
derivative ``|d a_j / d z_j|`` stays below ``tol`` on every probe input.

1. Ordinary training: the inactive fraction of both hidden layers over training
   (Monitor) and at its end -- do units die without being pushed?
2. Recovery test: the biases of half the first-layer units are shifted so that every
   pre-activation of those units is ``<= -margin``; we record which shifted units then get
   exactly zero local derivative in float32 and in float64 (an analytic zero, like the
   Laplace mean's plateau, is zero in both; an underflow, like tanh's at ``z = -10``, only
   in float32), train again and count the shifted units that are active afterwards.
3. Where each activation's float32 and float64 derivative reach exactly zero, on a grid
   of negative inputs (deterministic).

C9 is decided in three parts, as the seed states it: the declared ``RULES`` on the
per-activation table of :func:`c9_table`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from typing_extensions import override

from ..activations import ACTIVATIONS, make_activation
from ..data.dataset import Dataset
from ..diagnostics import Monitor
from ..training import train
from .base import Experiment, centre_and_scale, image_dataset
from .config import bounded
from .rules import UNIT, Rule

STANDARD = {"relu": nn.ReLU, "tanh": nn.Tanh}
SOFT_DERIVED = ("gate_silu", "laplace")
COMPETITIVE = ("solu", "grouped_solu")
ZERO_GRID = (-2.0, -4.0, -6.0, -8.0, -10.0, -15.0, -20.0, -40.0, -90.0, -110.0, -200.0, -800.0)


@dataclass
class Config:
    """Full-size settings (``QUICK`` shrinks them for ``--quick``)."""

    seed: int = 0
    datasets: tuple[str, ...] = ("digits", "mnist")
    activations: tuple[str, ...] = ("relu", "tanh", *SOFT_DERIVED, *COMPETITIVE)
    optimizers: tuple[str, ...] = ("adam", "sgd")
    hidden: int = 128
    epochs: int = 20
    recovery_epochs: int = 10
    batch_size: int = 128
    adam_lr: float = 1e-3
    sgd_lr: float = 0.05
    mnist_train: int = 8000  # sub-sample of MNIST's training images
    margin: float = 6.0  # shifted units: every pre-activation <= -margin
    tol: float = 1e-4  # inactive: |d a / d z| < tol on every probe input
    probe_size: int = 512
    monitor_every: int = 25
    recover_min: float = bounded(0.5, gt=0.0, max=1.0)  # C9: "recovers" = this share active
    stuck_max: float = bounded(0.01, min=0.0, max=1.0)  # C9: "cannot recover" = at most this


QUICK = {"epochs": 4, "recovery_epochs": 3, "datasets": ("digits",), "hidden": 64}


def _activation(name: str) -> nn.Module:
    return STANDARD[name]() if name in STANDARD else make_activation(name)


class MLP(nn.Module):
    """Two hidden layers with activation ``act`` and a linear head."""

    def __init__(self, d_in: int, hidden: int, n_out: int, act: str):
        super().__init__()
        self.l1, self.a1 = nn.Linear(d_in, hidden), _activation(act)
        self.l2, self.a2 = nn.Linear(hidden, hidden), _activation(act)
        self.head = nn.Linear(hidden, n_out)
        self.elementwise = act in STANDARD or ACTIVATIONS[act].elementwise

    def pre_activations(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The pre-activations ``(z1, z2)`` of the two hidden layers for inputs ``x``."""
        z1 = self.l1(x)
        return z1, self.l2(self.a1(z1))

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.a2(self.l2(self.a1(self.l1(x)))))


def local_derivative(act: nn.Module, z: torch.Tensor, elementwise: bool) -> torch.Tensor:
    """``d a_j / d z_j`` for every input and unit, shape like ``z``: autograd for
    element-wise activations, the closed form for competitive ones that give it, the
    full Jacobian's diagonal otherwise."""
    z = z.detach()
    jacobian_diagonal = getattr(act, "jacobian_diagonal", None)
    if jacobian_diagonal is not None:
        with torch.no_grad():
            return jacobian_diagonal(z)
    if elementwise:
        z = z.clone().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(act(z).sum(), z)
        return g
    jac = torch.func.vmap(torch.func.jacrev(act))(z)  # (n, k, k)
    return torch.diagonal(jac, dim1=-2, dim2=-1)


def inactive_units(model: MLP, x: torch.Tensor, tol: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Bool masks ``(k,)`` of inactive units in hidden layers 1 and 2."""
    with torch.no_grad():
        z1, z2 = model.pre_activations(x)
    d1 = local_derivative(model.a1, z1, model.elementwise)
    d2 = local_derivative(model.a2, z2, model.elementwise)
    return (d1.abs() < tol).all(0), (d2.abs() < tol).all(0)


def zero_derivative_units(model: MLP, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Bool masks ``(k,)`` of first-layer units whose local derivative is exactly 0 on
    every row of ``x``, computed in float32 and in float64 (a float64 copy of the model):
    zero in both is an analytic zero, zero in float32 only an underflow."""
    out = {}
    for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        m = model if dtype == torch.float32 else copy.deepcopy(model).double()
        with torch.no_grad():
            z1 = m.l1(x.to(dtype))
        out[name] = (local_derivative(m.a1, z1, m.elementwise) == 0).all(0)
    return out


def zero_derivative_grid(activations: Sequence[str]) -> list[dict]:
    """Part 3: where each activation's ``d a / d z`` first reaches exactly 0 on the inputs
    ``ZERO_GRID`` (descending), in float32 and in float64 (competitive activations: one
    unit at ``z`` among seven at 0). The same onset in both is an analytic zero (a
    plateau, ReLU's off side); a later onset in float64, or none, is an underflow."""
    rows = []
    for act in activations:
        onset = {}
        for dtype in (torch.float32, torch.float64):
            mod = _activation(act).to(dtype)
            elementwise = act in STANDARD or ACTIVATIONS[act].elementwise
            z = torch.zeros(len(ZERO_GRID), 8, dtype=dtype)
            z[:, 0] = torch.tensor(ZERO_GRID, dtype=dtype)
            d = local_derivative(mod, z, elementwise)[:, 0]
            zeros = [zv for zv, dv in zip(ZERO_GRID, d.tolist(), strict=True) if dv == 0]
            onset[dtype] = zeros[0] if zeros else None
        f32, f64 = onset[torch.float32], onset[torch.float64]
        kind = "none" if f32 is None else "analytic" if f32 == f64 else "underflow"
        rows.append({"activation": act, "first_zero_float32": f32, "first_zero_float64": f64,
                     "zero": kind})  # fmt: skip
    return rows


def _data(name: str, cfg: Config):
    ds = image_dataset(name, cfg.seed, cfg.mnist_train)
    if ds is None:
        return None
    ds.X_train, ds.X_test = centre_and_scale(ds.X_train, ds.X_test)  # no 1e6 outlier pixels
    return ds


OPTIMIZERS = {  # name: cfg -> (parameters -> optimiser)
    "adam": lambda cfg: lambda p: torch.optim.Adam(p, lr=cfg.adam_lr),
    "sgd": lambda cfg: lambda p: torch.optim.SGD(p, lr=cfg.sgd_lr, momentum=0.9),
}


def _accuracy(model, x, y) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def one_run(ds: Dataset, act: str, opt: str, cfg: Config, run_seed: int) -> tuple[dict, list[dict]]:
    """Train one MLP (activation ``act``, optimiser ``opt``) and measure its dead units; returns the
    row and its training history."""
    x_tr, y_tr, x_te, y_te = ds.tensors()
    torch.manual_seed(run_seed)
    assert ds.n_classes is not None  # labelled data only
    model = MLP(x_tr.shape[1], cfg.hidden, ds.n_classes, act)
    order = torch.randperm(len(x_tr), generator=torch.Generator().manual_seed(run_seed))
    probe = x_tr[order[: cfg.probe_size]]

    def dead(m):
        d1, d2 = inactive_units(m, probe, cfg.tol)
        return {"layer1": float(d1.float().mean()), "layer2": float(d2.float().mean())}

    def loss(m, b):
        return F.cross_entropy(m(b[0]), b[1])

    def fit(epochs, seed, callbacks=(), stage=""):
        train(model, loss, (x_tr, y_tr), epochs=epochs, batch_size=cfg.batch_size,
              optimizer=OPTIMIZERS[opt](cfg), seed=seed, callbacks=callbacks,
              description=f"dead_units:{act}/{opt}{stage}")  # fmt: skip

    monitor = Monitor({"inactive": dead}, every=cfg.monitor_every)
    fit(cfg.epochs, run_seed, [monitor])
    acc_before = _accuracy(model, x_te, y_te)
    d1_before, _ = inactive_units(model, probe, cfg.tol)

    # --- recovery test: push half of the first-layer units far into their "off" side
    rng = np.random.default_rng(run_seed)
    shifted = torch.as_tensor(rng.choice(cfg.hidden, cfg.hidden // 2, replace=False))
    with torch.no_grad():
        z1 = model.l1(x_tr)
        model.l1.bias[shifted] -= z1[:, shifted].amax(0) + cfg.margin
    d1_after_shift, _ = inactive_units(model, probe, cfg.tol)
    zero = zero_derivative_units(model, probe)
    model.zero_grad()
    loss(model, (x_tr, y_tr)).backward()
    assert model.l1.weight.grad is not None  # the backward above reached l1
    row_grad, keep = model.l1.weight.grad.norm(dim=1), torch.ones(cfg.hidden, dtype=torch.bool)
    keep[shifted] = False
    grad_ratio = float(row_grad[shifted].mean() / row_grad[keep].mean().clamp_min(1e-30))
    acc_shifted = _accuracy(model, x_te, y_te)
    fit(cfg.recovery_epochs, run_seed + 1, stage=" recovery")
    d1_final, _ = inactive_units(model, probe, cfg.tol)
    was_off = d1_after_shift[shifted]
    history = [dict(r, activation=act, optimizer=opt) for r in monitor.history]
    # recovered: the share of shifted units active after retraining, one rule for every
    # activation (a unit the shift could not switch off counts as active)
    return {"activation": act, "optimizer": opt, "test_accuracy": acc_before,
            "inactive_layer1_end_of_training": float(d1_before.float().mean()),
            "shifted_inactive_after_shift": float(was_off.float().mean()),
            "grad_to_shifted_vs_others": grad_ratio,
            **{f"shifted_zero_derivative_{t}": float(zero[t][shifted].float().mean())
               for t in ("float32", "float64")},
            "accuracy_after_shift": acc_shifted,
            "recovered_fraction": float((~d1_final[shifted]).float().mean()),
            "accuracy_after_recovery": _accuracy(model, x_te, y_te)}, history  # fmt: skip


def run(cfg: Config, out_dir: Path) -> dict:
    """One seed's measurements at ``cfg``'s sizes (the runner stores them in ``out_dir``)."""
    if unknown := sorted(set(cfg.optimizers) - set(OPTIMIZERS)):
        raise ValueError(f"unknown optimizer(s) {unknown}; use {sorted(OPTIMIZERS)}")
    rows: list[dict] = []
    history: list[dict] = []
    for d_i, name in enumerate(cfg.datasets):
        ds = _data(name, cfg)
        if ds is None:  # MNIST without its files: the data line says so
            continue
        for a_i, act in enumerate(cfg.activations):
            for o_i, opt in enumerate(cfg.optimizers):
                seed = cfg.seed * 10_000 + 100 * d_i + 10 * a_i + o_i
                row, hist = one_run(ds, act, opt, cfg, seed)
                rows.append({"dataset": name, **row})
                history += [dict(h, dataset=name) for h in hist]
    grid = zero_derivative_grid(cfg.activations)
    zero = {g["activation"]: g["zero"] for g in grid}
    tables = {"c9": c9_table(rows, zero), "runs": rows, "inactive_over_training": history,
              "zero_derivative_grid": grid}  # fmt: skip
    return {"tables": tables}


def c9_table(rows: list[dict], zero: dict[str, str]) -> list[dict]:
    """Per activation, over its runs (one seed): the largest inactive first-layer share at
    the end of ordinary training, the smallest share of forced-off units with exactly
    zero derivative in float64, the largest and mean share active after retraining, and
    whether its zero derivative is analytic (``zero``: :func:`zero_derivative_grid`)."""
    out = []
    for act in dict.fromkeys(r["activation"] for r in rows):
        mine = [r for r in rows if r["activation"] == act]
        recovered = [r["recovered_fraction"] for r in mine]
        out.append({
            "activation": act,
            "kind": "relu" if act == "relu" else "soft",
            "competitive": float(act in COMPETITIVE),
            "max_inactive_end": max(r["inactive_layer1_end_of_training"] for r in mine),
            "min_shifted_zero_f64": min(r["shifted_zero_derivative_float64"] for r in mine),
            "max_recovered": max(recovered),
            "mean_recovered": float(np.mean(recovered)),
            "analytic_zero": float(zero.get(act) == "analytic"),
        })  # fmt: skip
    return out


_RELU: dict[str, Any] = {"where": {"kind": "relu"}}
_SOFT: dict[str, Any] = {"where": {"kind": "soft"}, "cells": ("activation",)}
_SHARE: dict[str, Any] = {"claim": "C9", "table": "c9", "bounds": UNIT}
RULES = (
    # units die in ordinary training: ReLU ends some run with inactive units, no soft one does
    Rule(stat="max_inactive_end", op=">", threshold=0, says="inactive share, end of "
         "training (largest run)", **_SHARE, **_RELU),
    Rule(stat="max_inactive_end", op="<=", threshold=0, says="inactive share, end of "
         "training (largest run)", **_SHARE, **_SOFT),
    # forced-off ReLU units cannot recover: analytic zero, exactly zero derivative, stay off
    Rule(stat="analytic_zero", op=">", threshold=0.5, kind="share",
         says="zero derivative is analytic", **_SHARE, **_RELU),
    Rule(stat="min_shifted_zero_f64", op=">=", threshold=1, says="forced-off units with "
         "exactly zero derivative in float64", **_SHARE, **_RELU),
    Rule(stat="max_recovered", op="<=", threshold="stuck_max", primary=True,
         says="forced-off units "
         "active after retraining (largest run)", **_SHARE, **_RELU),
    # soft units keep gradient and recover
    Rule(stat="mean_recovered", op=">=", threshold="recover_min", primary=True,
         says="forced-off units "
         "active after retraining (mean over runs)", **_SHARE, **_SOFT),
    Rule(stat="analytic_zero", op="<", threshold=0.5, kind="share",
         says="zero derivative is analytic", **_SHARE, **_SOFT),
    # C28's recovery half: forced-off units of the competitive activations (SoLU, grouped
    # SoLU) recover, as sparsity from competition allows; ReLU's (hard gating) stay off
    Rule("C28", "c9", "mean_recovered", ">=", "recover_min", where={"competitive": 1.0},
         primary=True,
         cells=("activation",), bounds=UNIT, says="forced-off units active after retraining "
         "(mean over runs)"),
    Rule("C28", "c9", "max_recovered", "<=", "stuck_max", where={"kind": "relu"}, bounds=UNIT,
         primary=True,
         says="forced-off units active after retraining (largest run)"),
)  # fmt: skip


def plot(result: dict, out_dir: Path) -> list:
    """Draw ``result``'s figures into ``out_dir``; returns their files and captions."""
    from .figures import lines, new_figure, save_figure

    hist = result["tables"]["inactive_over_training"]
    runs = result["tables"]["runs"]
    panels = sorted({(h["dataset"], h["optimizer"]) for h in hist})
    fig, axes = new_figure(1, len(panels), width=4.6 * len(panels), height=3.6, sharey=True)
    for ax, (ds, opt) in zip(axes, panels, strict=True):
        mine = [h for h in hist if (h["dataset"], h["optimizer"]) == (ds, opt)]
        lines(ax, mine, "step", "inactive.layer1", "activation")
        ax.set(title=f"{ds} / {opt}", xlabel="step")
    axes[0].set_ylabel("inactive fraction (layer 1)")
    axes[-1].legend(fontsize=7)
    save_figure(fig, out_dir, "inactive_over_training.png")

    fig, (ax,) = new_figure(1, 1, width=8, height=3.6)
    labels = [f"{r['dataset']}\n{r['activation']}\n{r['optimizer']}" for r in runs]
    colors = ["#c0392b" if r["activation"] == "relu" else "#2e86c1" for r in runs]
    ax.bar(range(len(runs)), [r["recovered_fraction"] or 0.0 for r in runs], color=colors)
    ax.set_xticks(range(len(runs)), labels, fontsize=6)
    ax.set(ylabel="recovered fraction of shifted units", ylim=(0, 1.05))
    save_figure(fig, out_dir, "recovery.png")
    return [
        ("inactive_over_training.png", "Share of inactive first-layer units during training."),
        ("recovery.png", "Recovery test: share of the shifted units that are active again "
         "after retraining (red: ReLU)."),
    ]  # fmt: skip


WHY = {
    "C28": "sparsity from competition keeps EM if forced-off units come back; hard gating "
    "(ReLU) breaks it if they stay off.",
}


EXPERIMENT = Experiment.declared_in(
    __name__,
    "Dead units: ReLU vs soft and competitive activations",
    summary="Inactive units during ordinary training, a recovery test after pushing half of "
    "the first-layer units into their off region, and where each activation's derivative "
    "reaches exactly zero in float32 and float64, for standard, derived and competitive "
    "activations under Adam and SGD.",
)
