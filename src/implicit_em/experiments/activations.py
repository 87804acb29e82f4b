"""Experiment ``activations``: which activations are posterior statistics? (C5-C8, C23)

Every built-in energy model is turned into an activation (posterior mean) and measured:
closed form against the generic numeric path (float64), shape properties (odd,
monotone, limits at |z| -> inf, redescending, zero-gradient share) and the nearest
standard activation ``a g(b z)`` with its maximum error; then the two-signed-Gaussian
mean against ``tanh(m z / sigma^2)`` (C5), how the Laplace means approach their limit
(C6), the Student-t and Cauchy means' shape (C7), the distance of ``z sigmoid(z / T)`` to
ReLU as ``T -> 0`` (C8) and the Huber means' saturation (C23). ``RULES`` decide.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._io import read_json, write_json
from ..activations.derived import EnergyModel, energy_model, posterior_activation
from ..diagnostics.shape import STANDARD_ACTIVATIONS, properties
from ..progress import track
from .base import Experiment
from .config import bounded
from .rules import COUNT, UNIT, Rule

MODELS: list[tuple[str, dict]] = [
    ("gaussian", {"m": 1.0, "sigma": 1.0}),
    ("gaussian", {"m": 2.0, "sigma": 0.7}),
    ("laplace", {"m": 1.0, "b": 1.0}),
    ("laplace", {"m": 3.0, "b": 2.0}),
    ("cauchy", {"m": 1.0, "sigma": 1.0}),
    ("student_t", {"m": 1.0, "sigma": 1.0, "nu": 3.0}),
    ("student_t", {"m": 1.0, "sigma": 1.0, "nu": 10.0}),
    ("student_t", {"m": 1.0, "sigma": 1.0, "nu": 30.0}),
    ("huber", {"m": 1.0, "sigma": 1.0, "delta": 1.0}),
    ("three_level", {"m": 3.0, "sigma": 1.0}),
    ("gate", {"link": "logistic", "output": "gated"}),
    ("gate", {"link": "probit", "output": "gated"}),
    ("gate", {"link": "logistic", "output": "probability"}),
    ("gaussian_prior", {"tau": 1.0, "sigma": 1.0}),
    ("laplace_prior", {"b": 1.0, "sigma": 1.0}),
]


@dataclass
class Config:
    """Full-size settings (``QUICK`` shrinks them for ``--quick``)."""

    seed: int = 0
    z_max: float = 10.0  # properties on [-z_max, z_max]
    n_points: int = 4001
    temperatures: tuple[float, ...] = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)
    gaussian_grid: int = 5  # m and sigma values per axis for the C5 check
    confirm_threshold: float = bounded(1e-12, gt=0.0)  # C5: float64 error below: confirmed
    partly_threshold: float = bounded(1e-6, gt=0.0)  # C5: below: partly
    consistency_max: float = bounded(1e-6, gt=0.0)  # C23: closed form vs numeric, at most
    linear_tol: float = bounded(0.05, gt=0.0)  # C23: "linear": off the tangent by at most
    relu_distance_max: float = bounded(1e-2, gt=0.0)  # C8: sup distance at the smallest T
    slope_tol: float = bounded(0.1, gt=0.0)  # C8: "like T": log-log slope within 1 +- this


QUICK = {"n_points": 1001, "gaussian_grid": 3}


def _label(name: str, params: dict) -> str:
    ps = ", ".join(f"{k}={v}" for k, v in params.items())
    return f"{name}({ps})"


def _fn(model):
    return lambda z: posterior_activation(z, model)


def run(cfg: Config, out_dir: Path) -> dict:
    """One seed's measurements at ``cfg``'s sizes (the runner stores them in ``out_dir``)."""
    zr = (-cfg.z_max, cfg.z_max)
    z = torch.linspace(*zr, cfg.n_points, dtype=torch.float64)
    zs = torch.linspace(*zr, 401, dtype=torch.float64)  # the drawn curves
    rows, curves = [], {}
    for name, params in track(MODELS, "activations: properties"):
        model, label = energy_model(name, **params), _label(name, params)
        numeric = posterior_activation(z, model, method="numeric")
        p = properties(_fn(model), zr, cfg.n_points)
        near, _ = p.pop("nearest"), p.pop("odd_error")
        errors = {f"{g}_error": near["errors"][g] for g in ("softsign", "hardtanh", "tanh")}
        rows.append({"activation": label, "model": name,
                     "closed_vs_numeric": float((posterior_activation(z, model) - numeric)
                                                .abs().max()),
                     **p, "nearest": near["name"], "nearest_a": near["a"], "nearest_b": near["b"],
                     "nearest_max_error": near["max_error"], **errors})  # fmt: skip
        g = STANDARD_ACTIVATIONS[near["name"]]
        curves[label] = {"z": zs.tolist(), "f": posterior_activation(zs, model).tolist(),
                         "nearest": (near["a"] * g(near["b"] * zs)).tolist()}  # fmt: skip
    write_json(Path(out_dir) / "curves.json", curves)  # drawn by plot() from disk
    # C5: numeric posterior mean of two signed Gaussians vs tanh(m z / sigma^2)
    grid = np.geomspace(0.3, 3.0, cfg.gaussian_grid)
    c5_errors = (posterior_activation(z, energy_model("gaussian", m=m, sigma=s), method="numeric")
                 - torch.tanh(m * z / s**2) for m in grid for s in grid)  # fmt: skip
    c5 = max(float(e.abs().max()) for e in c5_errors)
    huber = [huber_shape(energy_model("huber", m=m, sigma=1.0, delta=d), m + d,
                         f"huber(m={m}, delta={d})")
             for d in HUBER_GRID for m in HUBER_GRID]  # fmt: skip
    control = huber_shape(energy_model("gaussian", m=1.0, sigma=1.0), 2.0, "control: tanh(z)")
    tails = [{"activation": _label(n, ps), **tail_approach(_fn(energy_model(n, **ps)))}
             for n, ps in MODELS if n == "laplace"]  # fmt: skip
    tails += [{"activation": "control: softsign", **tail_approach(torch.nn.functional.softsign)},
              {"activation": "control: tanh", **tail_approach(torch.tanh)}]  # fmt: skip
    student = {_label(n, ps): tail_approach(_fn(energy_model(n, **ps)))
               for n, ps in MODELS if n in ("student_t", "cauchy")}  # fmt: skip
    temp_rows = temperature_rows(cfg.temperatures, z)
    tables = {"c5": [{"max_error": c5}], "tails": tails_table(tails),
              "student": student_table(_row(rows, "student_t(") + _row(rows, "cauchy("),
                                       student),
              "c8": [temperature_summary(temp_rows)], "properties": rows,
              "temperature": temp_rows, "huber": huber_table(huber, control)}  # fmt: skip
    return {"tables": tables}


HUBER_GRID = (0.5, 1.0, 2.0)  # m and delta (sigma = 1): thresholds m + delta in [1, 4]


def temperature_rows(temperatures: tuple[float, ...], z: torch.Tensor) -> list[dict]:
    """C8: ``sup |z sigmoid(z/T) - relu(z)|`` (and the posterior mode's distance to ReLU)
    at each ``T``, on ``z`` plus a grid that resolves the kink at that ``T``."""
    rows = []
    for t in temperatures:
        zt = torch.cat([z, t * torch.linspace(-20, 20, 4001, dtype=torch.float64)])
        soft = posterior_activation(zt, energy_model("soft_relu", temperature=t))
        mode = posterior_activation(zt, energy_model("soft_relu", temperature=t), "mode")
        rows.append({"temperature": t,
                     "sup_distance_to_relu": float((soft - torch.relu(zt)).abs().max()),
                     "mode_minus_relu": float((mode - torch.relu(zt)).abs().max())})  # fmt: skip
    return rows


def huber_shape(model: EnergyModel, threshold: float, label: str, n: int = 6001) -> dict:
    """Measurements of C23 for one activation on ``[-3t, 3t]`` (``t = threshold``, the
    Huber threshold ``m + delta sigma``): closed form vs numeric, relative deviation from
    the tangent at 0 on ``|z| <= t/2``, ``max |f'|`` beyond ``t`` and ``min |f'|`` inside."""
    z = torch.linspace(-3 * threshold, 3 * threshold, n, dtype=torch.float64)
    zg = z.clone().requires_grad_(True)
    f = posterior_activation(zg, model)
    (g,) = torch.autograd.grad(f.sum(), zg)
    f, zero = f.detach(), n // 2
    inner = (z.abs() <= threshold / 2) & (z != 0)
    numeric = posterior_activation(z, model, method="numeric")
    return {
        "activation": label,
        "threshold": threshold,
        "closed_vs_numeric": float((f - numeric).abs().max()),
        "linear_deviation": float(((f - g[zero] * z).abs() / f.abs())[inner].max()),
        "max_grad_beyond": float(g[z.abs() >= threshold * 1.0001].abs().max()),
        "min_grad_inside": float(g[z.abs() <= threshold * 0.999].abs().min()),
        "plateau": float(f[-1]),
    }


def huber_table(rows: list[dict], control: dict) -> list[dict]:
    """C23's cells: each Huber activation's :func:`huber_shape` row (and the tanh
    control's), with ``saturating`` (1/0): exactly flat beyond the Huber threshold and
    not flat before it."""
    return [{**r, "role": "control" if r is control else "huber",
             "saturating": float(r["max_grad_beyond"] <= 1e-12 and r["min_grad_inside"] > 1e-12)}
            for r in [*rows, control]]  # fmt: skip


def _row(rows, label_prefix):
    return [r for r in rows if r["activation"].startswith(label_prefix)]


TAIL_Z = (10.0, 30.0, 100.0, 300.0, 1000.0)  # where the approach to the limit is read


def tail_approach(fn: Callable) -> dict:
    """How ``fn`` approaches its limit as ``z -> inf`` (float64): the gap ``L - f(z)`` at
    ``TAIL_Z`` (``L = f(1e12)``), the smallest of those ``z`` where the gap is exactly 0
    (``flat_at``; ``None`` if never) and, when no gap is 0, the log-log slope of the gap
    (softsign: -1, a ``1/|z|`` approach)."""
    z = torch.tensor(TAIL_Z, dtype=torch.float64)
    with torch.no_grad():
        limit = float(fn(torch.tensor([1e12], dtype=torch.float64))[0])
        gap = (limit - fn(z)).abs()
    zero = [float(t) for t, g in zip(z, gap, strict=True) if float(g) == 0.0]
    slope = None
    if not zero:
        slope = float(np.polyfit(np.log(z.numpy()), np.log(gap.numpy()), 1)[0])
    return {"limit": limit, "flat_at": zero[0] if zero else None, "tail_slope": slope}


def tails_table(tails: list[dict]) -> list[dict]:
    """C6's cells from :func:`tail_approach` rows: ``soft_like`` (1/0) = approaches its
    limit like softsign, as a power of ``1/|z|`` (tail slope in [-1.5, -0.5]), never
    reaching it; ``role`` tells the Laplace activations from the controls."""

    def soft(t):
        slope = t["tail_slope"]
        return t["flat_at"] is None and slope is not None and -1.5 <= slope <= -0.5

    return [{**t, "role": t["activation"].split("(")[0].replace("control: ", "control "),
             "soft_like": float(soft(t))} for t in tails]  # fmt: skip


SLOW_SLOPE = -3.0  # C7: a "slow" approach is a power law no steeper than 1/|z|^3


def student_table(rows: list[dict], tails: dict[str, dict]) -> list[dict]:
    """C7's cells: each Student-t/Cauchy activation, ``odd``, ``saturating`` (monotone,
    tending to +-1), ``slow`` (its :func:`tail_approach` never reaches its limit at
    ``TAIL_Z`` and falls as a power of ``1/|z|`` no steeper than ``SLOW_SLOPE``, where
    tanh's gap is exactly 0 by ``z = 30``), and ``slow_saturating``: all three (1/0)."""
    out = []
    for r in rows:
        t = tails[r["activation"]]
        saturating = r["monotone"] != "no" and math.isclose(abs(r["limit_pos"]), 1.0,
                                                             abs_tol=1e-3)  # fmt: skip
        slow = t["flat_at"] is None and t["tail_slope"] >= SLOW_SLOPE
        out.append({"activation": r["activation"], "redescending": r["redescending"],
                    "tail_slope": t["tail_slope"], "odd": float(r["odd"]),
                    "saturating": float(saturating), "slow": float(slow),
                    "slow_saturating": float(r["odd"] and saturating and slow)})  # fmt: skip
    return out


def temperature_summary(temp_rows: list[dict]) -> dict:
    """C8's cell: does ``sup |z sigmoid(z/T) - relu(z)|`` decrease as ``T`` falls (1/0),
    its value at the smallest ``T``, and its log-log slope in ``T`` (and its distance to 1)."""
    ts = [r["temperature"] for r in temp_rows]
    d = [r["sup_distance_to_relu"] for r in temp_rows]
    slope = float(np.polyfit(np.log(ts), np.log(d), 1)[0])
    return {"decreasing": float(all(a > b for a, b in itertools.pairwise(d))),
            "distance_at_smallest_t": d[-1], "slope": slope,
            "slope_off_one": abs(slope - 1.0)}  # fmt: skip


_UNIT: dict[str, Any] = {"bounds": UNIT}
RULES = (
    # C5: the two-Gaussian posterior mean is tanh(m z / sigma^2), to float64 precision
    Rule("C5", "c5", "max_error", "<", "confirm_threshold", bounds=COUNT, primary=True,
         says="max |numeric posterior mean - tanh(m z/sigma^2)|"),
    Rule("C5", "c5", "max_error", "<", "partly_threshold", bounds=COUNT, primary=True,
         says="max |numeric posterior mean - tanh(m z/sigma^2)|"),
    # C6: every Laplace activation is soft-sign-like; controls: softsign is, tanh is not
    Rule("C6", "tails", "soft_like", ">", 0.5, kind="share", where={"role": "control softsign"},
         gate=True, says="approaches its limit like 1/|z|", **_UNIT),
    Rule("C6", "tails", "soft_like", "<", 0.5, kind="share", where={"role": "control tanh"},
         gate=True, says="approaches its limit like 1/|z|", **_UNIT),
    Rule("C6", "tails", "soft_like", ">", 0.5, kind="share", where={"role": "laplace"},
         primary=True,
         cells=("activation",), says="approaches its limit like 1/|z|", **_UNIT),
    # C7: every Student-t/Cauchy activation is slow-saturating: odd, monotone to +-1, and
    # slow (a power-law approach to its limit, where tanh's is exponential); each part
    # is also shown on its own (secondary)
    Rule("C7", "student", "slow_saturating", ">", 0.5, kind="share", cells=("activation",),
         primary=True, says="odd, monotone to +-1, and a power-law approach", **_UNIT),
    *(Rule("C7", "student", part, ">", 0.5, kind="share", cells=("activation",), says=says,
           **_UNIT) for part, says in (("odd", "odd"), ("saturating", "monotone, to +-1"),
                                       ("slow", "approaches its limit as a power law"))),
    # C8: the soft-ReLU family tends to ReLU as T -> 0, like T
    Rule("C8", "c8", "decreasing", ">", 0.5, kind="share", primary=True,
         says="sup distance falls with T", **_UNIT),
    Rule("C8", "c8", "distance_at_smallest_t", "<", "relu_distance_max", bounds=COUNT,
         primary=True,
         says="sup |z sigmoid(z/T) - relu(z)| at the smallest T"),
    Rule("C8", "c8", "slope_off_one", "<", "slope_tol", bounds=COUNT,
         says="|log-log slope of that distance in T - 1|"),
    # C23: every Huber activation saturates exactly beyond m + delta sigma and is linear
    # near 0; controls: closed form = numeric, tanh does not saturate exactly and is not
    # linear on the window
    Rule("C23", "huber", "closed_vs_numeric", "<=", "consistency_max", gate=True,
         cells=("activation",), bounds=COUNT, says="closed form vs numeric derivation"),
    Rule("C23", "huber", "saturating", "<", 0.5, kind="share", where={"role": "control"}, gate=True,
         says="exactly flat beyond the threshold", **_UNIT),
    Rule("C23", "huber", "saturating", ">", 0.5, kind="share", where={"role": "huber"},
         primary=True,
         cells=("activation",), says="exactly flat beyond the threshold", **_UNIT),
    Rule("C23", "huber", "linear_deviation", "<=", "linear_tol", where={"role": "huber"},
         cells=("activation",), bounds=COUNT, says="off the tangent at 0, on half the "
         "threshold (relative)"),
    # the window tells linear from not: tanh (the control, threshold 2) is off its
    # tangent by more than the tolerance on the same half-threshold window
    Rule("C23", "huber", "linear_deviation", ">", "linear_tol", where={"role": "control"},
         gate=True, bounds=COUNT, says="tanh (control): off the tangent at 0, on half the "
         "threshold (relative)"),
)  # fmt: skip


def plot(result: dict, out_dir: Path) -> list:
    """Draw ``result``'s figures into ``out_dir``; returns their files and captions."""
    from .figures import new_figure, save_figure

    curves = read_json(Path(out_dir) / "curves.json")
    near = {r["activation"]: r for r in result["tables"]["properties"]}
    n, rows = len(curves), (len(curves) + 4) // 5
    fig, axes = new_figure(rows, 5, width=15, height=2.6 * rows)
    for ax, (label, c) in zip(axes, curves.items(), strict=False):
        r = near[label]
        ax.plot(c["z"], c["f"], lw=1.8, label="posterior mean")
        ax.plot(c["z"], c["nearest"], "--", lw=1.2, label=f"{r['nearest']} (fit)")
        title = f"{label}\nnearest {r['nearest']}, max err {r['nearest_max_error']:.3f}"
        ax.set_title(title, fontsize=7.5)
        ax.tick_params(labelsize=7)
        ax.axhline(0, color="0.8", lw=0.6)
    for ax in axes[n:]:
        ax.axis("off")
    axes[0].legend(fontsize=7)
    save_figure(fig, out_dir, "gallery.png")
    t = result["tables"]["temperature"]
    fig, (ax,) = new_figure(1, 1, width=5, height=3.6)
    d = [r["sup_distance_to_relu"] for r in t]
    ax.loglog([r["temperature"] for r in t], d, "o-", label="sup |z sigmoid(z/T) - relu(z)|")
    ax.set(xlabel="temperature T", ylabel="distance to ReLU")
    ax.legend(fontsize=8)
    save_figure(fig, out_dir, "relu_limit.png")
    return [
        ("gallery.png", "Each derived activation (posterior mean, solid) beside its nearest "
         "standard activation a g(b z) (dashed, least-squares fit)."),
        ("relu_limit.png", "The distance of the gated posterior mean z sigmoid(z/T) to ReLU "
         "against the temperature."),
    ]  # fmt: skip


EXPERIMENT = Experiment.declared_in(
    __name__,
    "Activations as posterior statistics",
    stochastic=False,
    summary="Each energy model's posterior mean as an activation, with its measured shape and "
    "the nearest standard activation.",
)
