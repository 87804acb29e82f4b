"""Experiment ``mechanism``: does InfoMax on ``z`` deliver responsibility-weighted updates? (C18)

The source notes' layer: ``z = W x + b``, ``r = softmax(-z)``, the InfoMax loss on
``z``, and "gradients flow through softmax to W. The chain rule delivers
responsibility-weighted updates." If the loss depends on ``z`` alone, the softmax is
not on the gradient path, and covariance terms do not even depend on ``b``. Measured on
standardised digits, for an :class:`~implicit_em.layers.ImplicitEMLayer` trained with:

* ``infomax(z)`` -- Gaussian InfoMax on ``z`` alone (the notes' architecture);
* ``lse+infomax(z)`` -- the LSE term added (its gradient in ``z`` is ``r / n``);
* ``infomax(log r)`` -- InfoMax on the log-responsibilities (through the softmax);
* ``lse(z)`` -- the LSE term alone: the control that must show the mechanism.

After training, on the training set: (a) bias sensitivity -- shift ``b`` so that ``r``
changes (mean total variation reported) and measure the relative change of
``dL/dW``; (b) the R^2 of the per-sample ``dL/dz_nj`` regressed on ``r_nj``; (c)
specialisation -- usage entropy, starved units, mean |corr| between units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import objectives as O
from ..data import load_dataset
from ..diagnostics import responsibility_stats
from ..layers import ImplicitEMLayer
from ..lse import lse_loss
from ..training import train
from .base import Experiment, describe_image_data
from .config import bounded
from .rules import COUNT, UNIT, Rule

VARIANTS = {  # name: loss on the distances d = z
    "infomax(z)": lambda d: O.gaussian_infomax(d),
    "lse+infomax(z)": lambda d: lse_loss(d) + O.gaussian_infomax(d),
    "infomax(log r)": lambda d: O.gaussian_infomax(torch.log_softmax(-d, 1)),
    "lse(z)": lambda d: lse_loss(d),
}
SEED_ARCHITECTURE, CONTROL = "infomax(z)", "lse(z)"


@dataclass
class Config:
    """Full-size settings (``QUICK`` shrinks them for ``--quick``)."""

    seed: int = 0
    units: int = 16
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-2
    shift: float = bounded(1.0, gt=0.0)  # bias shift, in units of each unit's std of z
    sensitivity_min: float = bounded(1e-3, gt=0.0)  # (a): dL/dW must move at least this
    r2_min: float = bounded(0.5, gt=0.0, max=1.0)  # (b): r must explain this much


QUICK = {"epochs": 4}


def _grad_w(layer: ImplicitEMLayer, loss, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    w = layer.weight.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss(x @ w.T + bias), w)
    return g


def measure(layer: ImplicitEMLayer, loss: Callable, x: torch.Tensor, shift: float) -> dict:
    """(a) bias sensitivity, (b) R^2 of dL/dz on r, (c) specialisation, on ``x``."""
    with torch.no_grad():
        z = layer.distances(x)
        r = torch.softmax(-z, 1)
    b = layer.bias.detach()
    delta = shift * z.std(0) * torch.randn(len(b), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        r_shifted = torch.softmax(-(z + delta), 1)
    g0, g1 = _grad_w(layer, loss, x, b), _grad_w(layer, loss, x, b + delta)
    zl = z.clone().requires_grad_(True)
    (gz,) = torch.autograd.grad(loss(zl), zl)
    design = torch.stack([torch.ones(r.numel()), r.flatten()], 1).double()
    target = gz.flatten().double()
    coef = torch.linalg.lstsq(design, target[:, None]).solution
    resid = target - (design @ coef).flatten()
    r2 = 1 - float(resid.square().sum() / (target - target.mean()).square().sum().clamp_min(1e-300))
    stats = responsibility_stats(z)  # r = softmax(-z); starved: usage < 0.1 / K
    k = r.shape[1]
    corr = torch.corrcoef(z.T)
    off = corr[~torch.eye(k, dtype=torch.bool)].abs()
    return {
        "bias_sensitivity": float((g1 - g0).norm() / g0.norm().clamp_min(1e-300)),
        "r_change_tv": float(0.5 * (r_shifted - r).abs().sum(1).mean()),
        "r2_grad_on_r": r2,
        "usage_entropy": stats["usage_entropy_normalized"],
        "starved_units": stats["starved_units"],
        "mean_abs_corr": float(off.nan_to_num(1.0).mean()),
    }  # fmt: skip


def run(cfg: Config, out_dir: Path) -> dict:
    """One seed's measurements at ``cfg``'s sizes (the runner stores them in ``out_dir``)."""
    ds = load_dataset("digits", seed=cfg.seed, standardize=True)
    x = torch.as_tensor(ds.X_train)
    rows = []
    for name, loss in VARIANTS.items():
        torch.manual_seed(cfg.seed)
        layer = ImplicitEMLayer(x.shape[1], cfg.units, objective=None, distance="linear",
                                output="responsibilities", input_norm=None,
                                temperature=1.0)  # fmt: skip
        train(layer, lambda m, b, loss=loss: loss(m.distances(b[0])), (x,), epochs=cfg.epochs,
              batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed,
              description=f"mechanism:{name}")  # fmt: skip
        rows.append({"variant": name, **measure(layer, loss, x, cfg.shift)})
    return {"tables": {"variants": rows}}


_ON: dict[str, Any] = {"where": {"variant": SEED_ARCHITECTURE}}
_CONTROL: dict[str, Any] = {"where": {"variant": CONTROL}, "gate": True}
_SENS: dict[str, Any] = {"table": "variants", "stat": "bias_sensitivity", "op": ">=",
        "threshold": "sensitivity_min", "bounds": COUNT,
        "says": "relative change of dL/dW when a bias shift changes r"}  # fmt: skip
_R2: dict[str, Any] = {"table": "variants", "stat": "r2_grad_on_r", "op": ">=",
                      "threshold": "r2_min", "bounds": UNIT,
                      "says": "R^2 of dL/dz regressed on r"}  # fmt: skip
# C18 on the notes' own architecture (InfoMax on z): the update must respond to r
# through b, and r must explain dL/dz; both hold -> confirmed, one -> partly. Open
# unless the LSE control shows both (a measurement blind to the mechanism decides nothing).
RULES = (Rule("C18", **_SENS, **_CONTROL), Rule("C18", **_R2, **_CONTROL),
        Rule("C18", **_SENS, **_ON, primary=True),
         Rule("C18", **_R2, **_ON, primary=True))  # fmt: skip


EXPERIMENT = Experiment.declared_in(
    __name__,
    "Is the EM mechanism present when InfoMax acts on z?",
    summary="Whether the EM mechanism (responsibility-weighted updates) is present in an "
    "implicit-EM layer trained with InfoMax on z, with the LSE term, with InfoMax on log r, "
    "and with the LSE term alone.",
    data=describe_image_data("digits", 0) + " (standardised)",
)
