"""Experiment ``dead_units``: do ReLU units die for good while soft units recover? (C9)

A two-hidden-layer MLP is trained on digits (and on MNIST when its files are present)
with ReLU, tanh, two derived activations (the posterior-mean gate ``z sigmoid(z)`` and
the Laplace posterior mean ``tanh(clip(z, -1, 1))``) and two competitive activations
(SoLU, grouped SoLU), with Adam and with SGD. A unit is *inactive* when its local
derivative ``|d a_j / d z_j|`` stays below ``tol`` on every probe input.

1. The inactive fraction of both hidden layers is recorded during training (Monitor).
2. Recovery test: the biases of half the first-layer units are shifted so that every
   pre-activation of those units is ``<= -margin``; we measure the gradient that still
   reaches them, then train again and count how many become active again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..activations import ACTIVATIONS, make_activation
from ..diagnostics import Monitor
from ..training import train
from .base import Experiment, Verdict, describe_image_data, image_dataset

STANDARD = {"relu": nn.ReLU, "tanh": nn.Tanh}
SOFT_DERIVED = ("gate_silu", "laplace")
COMPETITIVE = ("solu", "grouped_solu")


@dataclass
class Config:
    seed: int = 0
    datasets: tuple[str, ...] = ("digits", "mnist")
    activations: tuple[str, ...] = ("relu", "tanh", *SOFT_DERIVED, *COMPETITIVE)
    optimizers: tuple[str, ...] = ("adam", "sgd")
    hidden: int = 128
    epochs: int = 30
    recovery_epochs: int = 15
    batch_size: int = 128
    adam_lr: float = 1e-3
    sgd_lr: float = 0.05
    mnist_train: int = 8000  # sub-sample of MNIST's training images
    margin: float = 6.0  # shifted units: every pre-activation <= -margin
    tol: float = 1e-4  # inactive: |d a / d z| < tol on every probe input
    probe_size: int = 512
    monitor_every: int = 25


QUICK = {"epochs": 4, "recovery_epochs": 3, "datasets": ("digits",), "hidden": 64}


def _activation(name: str) -> nn.Module:
    return STANDARD[name]() if name in STANDARD else make_activation(name)


class MLP(nn.Module):
    def __init__(self, d_in: int, hidden: int, n_out: int, act: str):
        super().__init__()
        self.l1, self.a1 = nn.Linear(d_in, hidden), _activation(act)
        self.l2, self.a2 = nn.Linear(hidden, hidden), _activation(act)
        self.head = nn.Linear(hidden, n_out)
        self.elementwise = act in STANDARD or ACTIVATIONS[act].elementwise

    def pre_activations(self, x):
        z1 = self.l1(x)
        return z1, self.l2(self.a1(z1))

    def forward(self, x):
        return self.head(self.a2(self.l2(self.a1(self.l1(x)))))


def local_derivative(act: nn.Module, z: torch.Tensor, elementwise: bool) -> torch.Tensor:
    """``d a_j / d z_j`` for every input and unit, shape like ``z``."""
    z = z.detach()
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


def _data(name: str, cfg: Config):
    ds = image_dataset(name, cfg.seed, cfg.mnist_train)
    if ds is None:
        return None
    mean, std = ds.X_train.mean(0), ds.X_train.std(0) + 1e-6
    ds.X_train, ds.X_test = (ds.X_train - mean) / std, (ds.X_test - mean) / std
    return ds


def _optimizer(name: str, cfg: Config):
    if name == "adam":
        return lambda p: torch.optim.Adam(p, lr=cfg.adam_lr)
    if name == "sgd":
        return lambda p: torch.optim.SGD(p, lr=cfg.sgd_lr, momentum=0.9)
    raise ValueError(f"unknown optimizer {name!r}; use 'adam' or 'sgd'")


def _accuracy(model, x, y) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def one_run(ds, act: str, opt: str, cfg: Config, run_seed: int) -> tuple[dict, list[dict]]:
    x_tr, y_tr, x_te, y_te = ds.tensors()
    torch.manual_seed(run_seed)
    model = MLP(x_tr.shape[1], cfg.hidden, ds.n_classes, act)
    probe = x_tr[
        torch.randperm(len(x_tr), generator=torch.Generator().manual_seed(run_seed))[
            : cfg.probe_size
        ]
    ]

    def dead(m):
        d1, d2 = inactive_units(m, probe, cfg.tol)
        return {"layer1": float(d1.float().mean()), "layer2": float(d2.float().mean())}

    def loss(m, b):
        return F.cross_entropy(m(b[0]), b[1])

    def fit(epochs, seed, callbacks=(), stage=""):
        train(
            model,
            loss,
            (x_tr, y_tr),
            epochs=epochs,
            batch_size=cfg.batch_size,
            optimizer=_optimizer(opt, cfg),
            seed=seed,
            callbacks=callbacks,
            description=f"dead_units:{act}/{opt}{stage}",
        )

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
    model.zero_grad()
    loss(model, (x_tr, y_tr)).backward()
    row_grad = model.l1.weight.grad.norm(dim=1)
    keep = torch.ones(cfg.hidden, dtype=torch.bool)
    keep[shifted] = False
    grad_ratio = float(row_grad[shifted].mean() / row_grad[keep].mean().clamp_min(1e-30))
    zero_grad_units = float((row_grad[shifted] == 0).float().mean())
    acc_shifted = _accuracy(model, x_te, y_te)
    fit(cfg.recovery_epochs, run_seed + 1, stage=" recovery")
    d1_final, _ = inactive_units(model, probe, cfg.tol)
    was_off = d1_after_shift[shifted]
    recovered = (~d1_final[shifted]) & was_off
    history = [dict(r, activation=act, optimizer=opt) for r in monitor.history]
    return {
        "activation": act,
        "optimizer": opt,
        "test_accuracy": acc_before,
        "inactive_layer1_end_of_training": float(d1_before.float().mean()),
        "shifted_inactive_after_shift": float(was_off.float().mean()),
        "grad_to_shifted_vs_others": grad_ratio,
        "shifted_with_exactly_zero_grad": zero_grad_units,
        "accuracy_after_shift": acc_shifted,
        # None: the shift left no unit inactive (the activation keeps its gradient)
        "recovered_fraction": float(recovered.sum()) / int(was_off.sum())
        if was_off.any()
        else None,
        "accuracy_after_recovery": _accuracy(model, x_te, y_te),
    }, history


def run(cfg: Config, out_dir) -> dict:
    rows, history, skipped = [], [], []
    for d_i, name in enumerate(cfg.datasets):
        ds = _data(name, cfg)
        if ds is None:
            skipped.append(name)
            continue
        for a_i, act in enumerate(cfg.activations):
            for o_i, opt in enumerate(cfg.optimizers):
                seed = cfg.seed * 10_000 + 100 * d_i + 10 * a_i + o_i
                row, hist = one_run(ds, act, opt, cfg, seed)
                rows.append({"dataset": name, **row})
                history += [dict(h, dataset=name) for h in hist]
    return summarise(rows, history, skipped, cfg)


def summarise(rows, history, skipped, cfg) -> dict:
    relu = [r for r in rows if r["activation"] == "relu"]
    soft = [r for r in rows if r["activation"] != "relu"]
    relu_recovered = max((r["recovered_fraction"] or 0.0 for r in relu), default=float("nan"))
    relu_grad = max((r["grad_to_shifted_vs_others"] for r in relu), default=float("nan"))
    gradless = sorted({r["activation"] for r in soft if r["shifted_with_exactly_zero_grad"] > 0})
    soft_grad = {r["activation"]: r["grad_to_shifted_vs_others"] for r in soft}
    best_soft = {}
    for r in soft:
        prev, cur = best_soft.get(r["activation"]), r["recovered_fraction"]
        best_soft[r["activation"]] = cur if prev is None else max(prev, cur or 0.0)
    relu_dies = relu_recovered <= 0.01 and relu_grad == 0
    if not relu_dies:
        verdict = "refuted"
    elif gradless:
        verdict = "partly"
    else:
        verdict = "confirmed"
    evidence = (
        f"after the shift, shifted ReLU units get exactly zero gradient (ratio {relu_grad:.1e}) "
        f"and at most {relu_recovered:.0%} recover; "
        + ", ".join(
            f"{a}: gradient ratio {soft_grad[a]:.1e}, "
            + ("never inactive" if best_soft[a] is None else f"up to {best_soft[a]:.0%} recover")
            for a in best_soft
        )
        + (f"; exactly zero gradient also for: {', '.join(gradless)}" if gradless else "")
        + (f" (skipped datasets without files: {', '.join(skipped)})" if skipped else "")
        + "."
    )
    return {
        "metrics": {"relu_max_recovered": relu_recovered, "skipped_datasets": skipped},
        "tables": {"runs": rows, "inactive_over_training": history},
        "verdicts": [
            Verdict(
                "C9",
                verdict,
                relu_recovered,
                "confirmed iff shifted ReLU units get zero gradient and <= 1% recover while every "
                "other activation keeps a nonzero gradient; partly iff some other activation also "
                "gets exactly zero gradient",
                evidence,
            )
        ],
        "data": "; ".join(describe_image_data(n, cfg.mnist_train) for n in cfg.datasets),
        "summary": (
            "Inactive units during training, and a recovery test after pushing half of the "
            "first-layer units into their off region, for standard, derived and competitive "
            "activations under Adam and SGD."
        ),
    }


def plot(result: dict, out_dir) -> list[dict]:
    from ..report.figures import new_figure, save_figure

    hist = result["tables"]["inactive_over_training"]
    runs = result["tables"]["runs"]
    panels = sorted({(h["dataset"], h["optimizer"]) for h in hist})
    fig, axes = new_figure(1, len(panels), width=4.6 * len(panels), height=3.6, sharey=True)
    for ax, (ds, opt) in zip(axes, panels, strict=True):
        for act in dict.fromkeys(h["activation"] for h in hist):
            pts = [
                h for h in hist if (h["dataset"], h["optimizer"], h["activation"]) == (ds, opt, act)
            ]
            ax.plot([p["step"] for p in pts], [p["inactive.layer1"] for p in pts], label=act)
        ax.set(title=f"{ds} / {opt}", xlabel="step")
    axes[0].set_ylabel("inactive fraction (layer 1)")
    axes[-1].legend(fontsize=7)
    save_figure(fig, out_dir, "inactive_over_training.png")

    fig, (ax,) = new_figure(1, 1, width=8, height=3.6)
    labels = [f"{r['dataset']}\n{r['activation']}\n{r['optimizer']}" for r in runs]
    ax.bar(
        range(len(runs)),
        [r["recovered_fraction"] or 0.0 for r in runs],
        color=["#c0392b" if r["activation"] == "relu" else "#2e86c1" for r in runs],
    )
    ax.set_xticks(range(len(runs)), labels, fontsize=6)
    ax.set(ylabel="recovered fraction of shifted units", ylim=(0, 1.05))
    save_figure(fig, out_dir, "recovery.png")
    return [
        {
            "file": "inactive_over_training.png",
            "caption": "Share of inactive first-layer units during training.",
        },
        {
            "file": "recovery.png",
            "caption": "Recovery test: share of the shifted units that are active again after "
            "retraining (red: ReLU).",
        },
    ]


EXPERIMENT = Experiment(
    name="dead_units",
    title="Dead units: ReLU vs soft and competitive activations",
    claims=("C9",),
    config=Config,
    run=run,
    quick=QUICK,
    plot=plot,
    description=__doc__.splitlines()[0],
)
