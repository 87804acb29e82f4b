"""Experiment ``competition``: competitive activations inside a network trained end to end
(C25, C26, C28, C29, C30, C31).

A two-hidden-layer MLP of width ``K`` is trained on cross-entropy (digits, and MNIST when
its files are present) with each hidden activation: element-wise (ReLU, tanh), soft
competition (SoLU ``z softmax(z)``, grouped softmax), hard competition (LWTA), softmin over
the layer (``softmax(-z)``) and attention over ``K`` learned prototypes
(``softmax(z P^T / sqrt K) V``, the competition C25 compares with). Measured per
activation on the first hidden layer: test accuracy; the median time of a training step;
the Jacobian coupling ``||offdiag J|| / ||J||`` of the activation and the normalised usage
entropy of ``softmax(z)``, at initialisation and over training; the share of duplicate
units (a partner with ``|corr| > dup_corr`` on the test images); at ReLU's sparsity
(inactive = below the quantile that leaves ReLU's share of active entries) the share of
inactive entries whose local derivative is not zero; an untrained ReLU network's
duplicate units; the coupling of the initial network with its first layer scaled to the
trained pre-activations' size (C26's control: softmax coupling changes with ``|z|`` alone);
the class selectivity of the first layer's units (C26's specialisation); and how much of
the output's zero-sum competition each hidden layer's gradient inherits (C31,
:func:`zero_sum_ratio`).
"""

from __future__ import annotations

import copy
import math
import statistics
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from typing_extensions import override

from ..activations import make_activation
from ..diagnostics import Monitor, responsibility_stats
from ..training import train
from .base import Experiment, centre_and_scale, image_tensors
from .config import bounded
from .rules import COUNT, UNIT, Rule, contrast

SOFT = ("solu", "grouped_softmax")  # soft competition
COMPETITIVE = (*SOFT, "lwta")  # and hard (winner-take-all in groups of 4)
ACTIVATIONS = ("relu", "tanh", *COMPETITIVE, "softmin", "prototype_attention")


@dataclass
class Config:
    """Full-size settings (``QUICK`` shrinks them for ``--quick``)."""

    seed: int = 0
    datasets: tuple[str, ...] = ("mnist", "digits")
    width: int = 128
    mnist_train: int = 8000
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    monitor_every: int = 50
    probe_size: int = 64  # inputs for the Jacobians
    timing_steps: int = 30
    dup_corr: float = bounded(0.9, gt=0.0, lt=1.0)  # duplicate: a partner above this |corr|
    # C25: accuracy lost that still counts as a drop-in, per dataset: twice this ReLU
    # network's seed-to-seed SD on the calibration seeds 100-104 (runs/calibration-amd:
    # MNIST 0.0018, digits 0.0100; python -m implicit_em.experiments.calibration)
    tolerance_mnist: float = bounded(0.0036, min=0.0)
    tolerance_digits: float = bounded(0.02, min=0.0)
    kept_share: float = bounded(0.5, gt=0.0, max=1.0)  # C26: share of the competition kept
    # C31: a layer inherits no zero-sum pressure while its gradient's sum keeps at least
    # this share of independent units' (1: independent, 0: the output's exact competition;
    # the measure's own scale, not calibrated on any run)
    independent_share: float = bounded(0.5, gt=0.0, max=1.0)
    gradient_share_min: float = bounded(0.5, gt=0.0, max=1.0)  # C28: inactive entries with gradient
    massive_share: float = bounded(0.1, gt=0.0, max=1.0)  # C30: "many units" duplicated


QUICK = {"datasets": ("digits",), "width": 64, "monitor_every": 20, "timing_steps": 10}


class Softmin(nn.Module):
    """``softmax(-z)`` over the layer: the activation C29 asks about."""

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.softmax(-z, -1)


class PrototypeAttention(nn.Module):
    """Attention of each input's ``z`` over ``K`` learned prototypes: ``softmax(z P^T /
    sqrt K) V`` (``P``, ``V``: ``(K, K)``)."""

    def __init__(self, k: int):
        super().__init__()
        self.keys = nn.Parameter(torch.randn(k, k) / math.sqrt(k))
        self.values = nn.Parameter(torch.randn(k, k) / math.sqrt(k))

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.softmax(z @ self.keys.T / math.sqrt(len(self.keys)), -1) @ self.values


def activation(name: str, k: int) -> nn.Module:
    """The hidden activation ``name`` for a layer of ``k`` units."""
    simple = {"relu": nn.ReLU, "tanh": nn.Tanh, "softmin": Softmin}
    if name in simple:
        return simple[name]()
    return PrototypeAttention(k) if name == "prototype_attention" else make_activation(name)


def mlp(d: int, k: int, n_classes: int, name: str) -> nn.Sequential:
    """``Linear(d, k) -> act -> Linear(k, k) -> act -> Linear(k, n_classes)``."""
    return nn.Sequential(nn.Linear(d, k), activation(name, k), nn.Linear(k, k),
                         activation(name, k), nn.Linear(k, n_classes))  # fmt: skip


def jacobians(act: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """``d act(z)_i / d z_j`` per input ``(n, K, K)``, for the activation of one layer."""
    with warnings.catch_warnings():  # vmap's fallback for LWTA's scatter: slower, exact
        warnings.filterwarnings("ignore", "There is a performance drop", UserWarning)
        return torch.func.vmap(torch.func.jacrev(lambda v: act(v[None])[0]))(z.detach())


def coupling(act: nn.Module, z: torch.Tensor) -> float:
    """The Jacobian coupling ``||offdiag J|| / ||J||`` of activation ``act`` at the rows of
    ``z`` (0 for an element-wise activation)."""
    jac = jacobians(act, z).detach()
    eye = torch.eye(jac.shape[-1], dtype=torch.bool)
    return float((jac[:, ~eye].square().sum() / jac.square().sum().clamp_min(1e-30)).sqrt())


def layer_stats(model: nn.Sequential, x: torch.Tensor, probe: torch.Tensor, dup: float) -> dict:
    """The first hidden layer's coupling and usage entropy on ``probe``, and its duplicate
    units on ``x``."""
    with torch.no_grad():
        z, zp = model[0](x), model[0](probe)
        h = model[1](z)
    return {"coupling": coupling(model[1], zp), "duplicates": duplicate_share(h, dup),
            "usage_entropy": responsibility_stats(-z)["usage_entropy_normalized"]}  # fmt: skip


def duplicate_share(h: torch.Tensor, threshold: float) -> float:
    """Share of live units (not constant on ``h``'s rows) with a partner whose activations
    correlate above ``threshold`` in absolute value."""
    live = h[:, h.std(0) > 1e-8].double()
    if live.shape[1] < 2:
        return 0.0
    corr = torch.corrcoef(live.T).abs().fill_diagonal_(0)
    return float((corr > threshold).any(1).double().mean())


def zero_sum_ratio(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> dict:
    """How much each layer's gradient competes, as the output's does (C31).

    For per-input gradients ``g`` of the cross-entropy with respect to a layer's
    pre-activations ``(n, K)``: ``sum_n (sum_j g_nj)^2 / sum_n sum_j g_nj^2``. The logits'
    ``g = softmax - onehot`` sums to 0 (exact competition: 0); independent zero-mean
    entries give 1; co-signed ones more. Keys ``zero_sum_z1``, ``zero_sum_z2`` (the hidden
    layers) and ``zero_sum_logits``.
    """
    z1 = model[0](x)
    z2 = model[2](model[1](z1))
    logits = model[4](model[3](z2))
    grads = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), [z1, z2, logits])
    out = {}
    for name, g in zip(("z1", "z2", "logits"), grads, strict=True):
        g = g.double()
        out[f"zero_sum_{name}"] = float(
            g.sum(1).square().sum() / g.square().sum().clamp_min(1e-300)
        )
    return out


def selectivity(h: torch.Tensor, y: torch.Tensor) -> float:
    """Mean class selectivity of a layer's units ``h`` ``(n, K)`` (C26's specialisation):
    per unit, with its activations shifted to a minimum of 0 and ``mu_c`` its mean on class
    ``c``, ``(max_c mu_c - mean of the others) / (max_c mu_c + mean of the others)``; 0 for
    a unit blind to the class, 1 for one that fires on one class only. Units constant on
    ``h`` are left out."""
    a = (h - h.min(0).values).double()
    onehot = F.one_hot(y, int(y.max()) + 1).double()
    mu = (onehot.T @ a) / onehot.sum(0).clamp_min(1)[:, None]  # (C, K)
    top = mu.max(0).values
    rest = (mu.sum(0) - top) / (len(mu) - 1)
    live = top + rest > 1e-12
    return float(((top - rest)[live] / (top + rest)[live]).mean()) if live.any() else 0.0


def matched_gradient_share(model: nn.Sequential, probe: torch.Tensor, active: float) -> float:
    """Of the first layer's entries below the quantile that leaves an ``active`` share
    above it (ReLU's sparsity), the share whose local derivative ``d h_j / d z_j`` is not 0."""
    with torch.no_grad():
        z = model[0](probe)
        h = model[1](z)
    diag = torch.diagonal(jacobians(model[1], z).detach(), dim1=-2, dim2=-1)
    # the lower quantile: with ReLU's own share, exactly its zeros
    t = torch.quantile(h.flatten().double(), 1 - active, interpolation="lower")
    inactive = h <= t.to(h.dtype)
    return float((diag[inactive].abs() > 1e-6).double().mean()) if inactive.any() else 0.0


def step_ms(model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: Config) -> float:
    """Median wall time (ms) of one Adam step on a batch, on a copy of ``model``."""
    m = copy.deepcopy(model).train()
    opt = torch.optim.Adam(m.parameters(), lr=cfg.lr)
    times = []
    for i in range(cfg.timing_steps):
        b = slice((i * cfg.batch_size) % (len(x) - cfg.batch_size), None)
        xb, yb = x[b][: cfg.batch_size], y[b][: cfg.batch_size]
        t0 = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(m(xb), yb).backward()
        opt.step()
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def one_fit(name: str, data: tuple, cfg: Config, seed: int) -> tuple[dict, list, nn.Sequential]:
    """Train the MLP with activation ``name``: its row, its history over training, and the
    trained model."""
    x, y, xt, yt = data
    torch.manual_seed(seed)
    model = mlp(x.shape[1], cfg.width, int(y.max()) + 1, name)
    probe = xt[: cfg.probe_size]
    start = layer_stats(model, xt, probe, cfg.dup_corr)
    initial = copy.deepcopy(model)
    monitor = Monitor({"l1": lambda m: layer_stats(m, xt, probe, cfg.dup_corr)},
                      every=cfg.monitor_every)  # fmt: skip
    train(model, lambda m, b: F.cross_entropy(m(b[0]), b[1]), (x, y), epochs=cfg.epochs,
          batch_size=cfg.batch_size, lr=cfg.lr, seed=seed, callbacks=[monitor],
          description=f"competition:{name}")  # fmt: skip
    model.eval()
    with torch.no_grad():
        h = model[1](model[0](probe))  # the entries matched_gradient_share looks at
        acc = float((model(xt).argmax(1) == yt).double().mean())
        features = {"selectivity": selectivity(model[1](model[0](xt)), yt),
                    "selectivity_init": selectivity(initial[1](initial[0](xt)), yt)}  # fmt: skip
    row = {"activation": name, "accuracy": acc, "step_ms": step_ms(model, x, y, cfg),
           **{f"{k}_init": v for k, v in start.items()},
           **layer_stats(model, xt, probe, cfg.dup_corr), **features,
           "coupling_scaled_init": scaled_coupling(initial, model, probe),
           **zero_sum_ratio(model, xt, yt),
           **{f"{k}_init": v for k, v in zero_sum_ratio(initial, xt, yt).items()},
           "active_share": float((h > 0).double().mean())}  # fmt: skip
    return row, [dict(r, activation=name) for r in monitor.history], model


def scaled_coupling(initial: nn.Sequential, trained: nn.Sequential, probe: torch.Tensor) -> float:
    """The Jacobian coupling of the *initial* network's first activation, with its first
    layer scaled so that its pre-activations on ``probe`` have the trained ones' RMS: what
    the change of ``|z|`` alone does to the coupling (C26's control)."""
    with torch.no_grad():
        scale = trained[0](probe).square().mean().sqrt() / initial[0](probe).square().mean().sqrt()
        z = initial[0](probe) * scale
    return coupling(initial[1], z)


def run(cfg: Config, out_dir: Path) -> dict:
    """One seed's measurements at ``cfg``'s sizes (the runner stores them in ``out_dir``)."""
    rows: list[dict] = []
    history: list[dict] = []
    for i, (ds_name, ds, x, xt) in enumerate(
        image_tensors(cfg.datasets, cfg.seed, cfg.mnist_train)
    ):
        x, xt = centre_and_scale(x, xt)  # one scale: no 1e6 outlier pixels
        data = (x, torch.as_tensor(ds.y_train), xt, torch.as_tensor(ds.y_test))
        probe, relu_active = xt[: cfg.probe_size], 0.0
        for j, name in enumerate(ACTIVATIONS):  # ReLU first: its sparsity is matched
            row, hist, model = one_fit(name, data, cfg, cfg.seed * 1000 + 100 * i + j)
            relu_active = row["active_share"] if name == "relu" else relu_active
            row["inactive_with_gradient"] = matched_gradient_share(model, probe, relu_active)
            rows.append({"dataset": ds_name, **row})
            history += [dict(h, dataset=ds_name) for h in hist]
        torch.manual_seed(cfg.seed * 1000 + 100 * i + 99)
        untrained = mlp(x.shape[1], cfg.width, int(data[1].max()) + 1, "relu")
        rows.append({"dataset": ds_name, "activation": "relu (untrained)",
                     **layer_stats(untrained, xt, probe, cfg.dup_corr)})  # fmt: skip
    return {"tables": {**claim_tables(rows), "fits": rows, "over_training": history}}


def claim_tables(rows: list[dict]) -> dict:
    """The cells the rules read (one seed): each activation against ReLU, tanh and
    prototype attention (``{stat}_below_ref``: the reference's minus its), and how much of
    the soft competition's initial coupling and usage entropy training keeps (``c26``)."""
    per = ("dataset",)
    trained = [r for r in rows if "accuracy" in r]
    kept = [{"dataset": r["dataset"], "activation": r["activation"],
             "coupling_kept": r["coupling"] / max(r["coupling_init"], 1e-12),
             "coupling_vs_scaled": r["coupling"] / max(r["coupling_scaled_init"], 1e-12),
             "entropy_kept": r["usage_entropy"] / max(r["usage_entropy_init"], 1e-12),
             "selectivity_gain": r["selectivity"] - r["selectivity_init"]}
            for r in trained if r["activation"] in SOFT]  # fmt: skip
    return {"vs_relu": contrast(rows, "activation", "relu",
                                ["accuracy", "duplicates", "selectivity"], per),
            "vs_tanh": contrast(trained, "activation", "tanh", ["accuracy"], per),
            "vs_attention": contrast(trained, "activation", "prototype_attention",
                                     ["step_ms"], per), "c26": kept}  # fmt: skip


def _on(activation: str, **where: Any) -> dict[str, Any]:
    """A rule's rows: one activation, a cell per dataset (unless ``where`` fixes it)."""
    return {"where": {"activation": activation, **where}, "cells": () if where else ("dataset",)}


_ZERO_SUM = "gradient's sum, relative to independent units' (0: zero-sum competition)"


def _rules() -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for c in COMPETITIVE:
        # C25: a drop-in (accuracy within the dataset's tolerance of ReLU's), cheaper than
        # attention over K prototypes, and coupled like it
        # (the primary test: the notes' candidates, SoLU and grouped softmax, as drop-ins
        # that cost less than attention; LWTA and the coupling are secondary)
        rules += [Rule("C25", "vs_relu", "accuracy_below_ref", "<=", f"tolerance_{d}",
                       primary=c in SOFT, bounds=(-1.0, 1.0),
                       says="test accuracy: ReLU minus this activation",
                       **_on(c, dataset=d)) for d in ("mnist", "digits")]  # fmt: skip
        rules += [Rule("C25", "vs_attention", "step_ms_below_ref", ">", 0, primary=c in SOFT,
                       says="ms per "
                       "training step: prototype attention minus this activation", **_on(c)),
                  Rule("C25", "fits", "coupling", ">", 0, bounds=UNIT, says="Jacobian "
                       "coupling ||offdiag J|| / ||J|| after training", **_on(c))]  # fmt: skip
    for c in SOFT:
        # C26: training keeps the soft competition: the trained coupling against what the
        # growth of |z| alone gives the initial network (primary; the control for softmax
        # coupling changing with scale whatever the training), against the initial
        # coupling, usage entropy kept; and its units specialise: class selectivity gained
        # over training, and above the competition-free ReLU network's (the negative
        # control); C28: its inactive entries, at ReLU's sparsity, still have a local
        # derivative (they can learn)
        rules += [Rule("C26", "c26", stat, ">=", "kept_share", bounds=COUNT, says=says,
                       kind="median", primary=stat == "coupling_vs_scaled", **_on(c))
                  for stat, says in (
                  ("coupling_vs_scaled", "Jacobian coupling: trained over the initial "
                   "network's at the trained |z|"),
                  ("coupling_kept", "Jacobian coupling: trained over initial"),
                  ("entropy_kept", "usage entropy: trained over initial"))]  # fmt: skip
        rules += [Rule("C26", "c26", "selectivity_gain", ">", 0, bounds=(-1.0, 1.0),
                       says="class selectivity of the units: trained minus initial", **_on(c)),
                  Rule("C26", "vs_relu", "selectivity_below_ref", "<", 0, bounds=(-1.0, 1.0),
                       says="class selectivity: ReLU minus this activation (ReLU: no "
                       "competition, the negative control)", **_on(c))]  # fmt: skip
        rules.append(Rule("C28", "fits", "inactive_with_gradient", ">=", "gradient_share_min",
                          primary=True,
                          bounds=UNIT, says="inactive entries (ReLU's sparsity) with a "
                          "non-zero local derivative", **_on(c)))  # fmt: skip
    return (
        *rules,
        Rule("C28", "fits", "inactive_with_gradient", "<=", 0, bounds=UNIT, says="ReLU's "
             "inactive entries with a non-zero local derivative", **_on("relu")),
        # C29: softmin is no remedy: a softmin network is less accurate than tanh's and ReLU's
        Rule("C29", "vs_tanh", "accuracy_below_ref", ">", 0, bounds=(-1.0, 1.0),
             says="test accuracy: tanh minus softmin", **_on("softmin")),
        Rule("C29", "vs_relu", "accuracy_below_ref", ">", 0, bounds=(-1.0, 1.0), primary=True,
             says="test accuracy: ReLU minus softmin", **_on("softmin")),
        # C30: a trained ReLU network is massively redundant: many duplicated units, more
        # than an untrained one and than a soft-competitive one (SoLU)
        Rule("C30", "fits", "duplicates", ">=", "massive_share", bounds=UNIT, primary=True,
             says="trained ReLU units with a duplicate partner", **_on("relu")),
        *(Rule("C30", "vs_relu", "duplicates_below_ref", ">", 0, bounds=(-1.0, 1.0),
               says=f"share of duplicated units: trained ReLU minus {other}", **_on(other))
          for other in ("relu (untrained)", "solu")),
        # C31: the output's competition does not reach the ReLU network's hidden layers:
        # their gradients sum like independent units' (primary: the layer behind the
        # output); a tanh network likewise; a SoLU layer competes on its own (contrast);
        # the measure sees the output's exact competition (control)
        Rule("C31", "fits", "zero_sum_z2", ">=", "independent_share", primary=True,
             bounds=COUNT, says=_ZERO_SUM + " (second hidden layer)",
             **_on("relu")),
        Rule("C31", "fits", "zero_sum_z1", ">=", "independent_share", bounds=COUNT,
             says=_ZERO_SUM + " (first hidden layer)", **_on("relu")),
        Rule("C31", "fits", "zero_sum_z2", ">=", "independent_share", bounds=COUNT,
             says=_ZERO_SUM + " (second hidden layer)", **_on("tanh")),
        Rule("C31", "fits", "zero_sum_z2", "<", "independent_share", bounds=COUNT,
             says=_ZERO_SUM + " (second hidden layer, SoLU: competes)", **_on("solu")),
        Rule("C31", "fits", "zero_sum_logits", "<", "independent_share", gate=True,
             bounds=COUNT, says=_ZERO_SUM + " (the logits: exact competition)",
             **_on("relu")),
    )  # fmt: skip


RULES = _rules()


WHY = {
    "C25": "a drop-in keeps the accuracy, costs less than attention over K prototypes, and "
    "couples its units as attention does.",
    "C26": "the global objective overrides competition if the trained coupling falls below "
    "half of what the growth of |z| alone gives the initial network (softmax coupling "
    "changes with scale whatever the training); specialisation is class selectivity, with "
    "the competition-free ReLU network as the negative control.",
    "C28": "matched sparsity separates the two: the same share of inactive entries, and "
    "whether they can still learn; recovery after a forced shift is the experiment "
    "dead_units'.",
    "C29": "softmin is no remedy if the network with it is less accurate than with tanh, "
    "the EM-preserving activation, and than with ReLU.",
    "C30": "massive redundancy is many duplicated units, more than before training and more "
    "than with competition.",
    "C31": "the output's competition is a zero-sum gradient (softmax minus one-hot sums to "
    "0); a hidden layer inherits that pressure only if its own gradient sums to much less "
    "than independent units' would.",
}


EXPERIMENT = Experiment.declared_in(
    __name__,
    "Competitive activations inside a network trained end to end",
    summary="A two-hidden-layer MLP trained on cross-entropy with element-wise, soft- and "
    "hard-competitive, softmin and prototype-attention activations: accuracy, step time, "
    "Jacobian coupling and usage entropy over training, duplicate units, and the gradient "
    "that reaches inactive units at ReLU's sparsity.",
)
