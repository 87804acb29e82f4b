"""Experiment ``em_structure``: where does implicit EM live in standard models? (C17)

Four classifiers are trained on scikit-learn's digits with the library's training loop
and mapped with :func:`implicit_em.diagnostics.em_structure` on the test set:

* ``relu_mlp`` -- Linear/ReLU x2 + Linear, cross-entropy head;
* ``tanh_mlp`` -- the same with tanh;
* ``attention`` -- the 8 image rows as tokens: embedding, multi-head self-attention,
  LayerNorm, a GELU feed-forward block, mean pooling, linear head;
* ``competitive`` -- Linear/SoLU, Linear/GroupedSoLU(8), Linear (library activations);

and two controls, mapped untrained: a module hiding a hand-written softmax (the map
must find EM in it) and a lookalike that exponentiates without normalising (it must
not).

EM is judged from behaviour, not from op names: an op shows EM where its measured
Jacobian has the responsibility form (across units) or the two-hypothesis form
(inside a unit). The claim holds if that happens exactly at the ops that contain a
log-sum-exp normalisation over alternatives (``RULES``, on :func:`c17_counts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from typing_extensions import override

from ..activations import GroupedSoLU, SoLU
from ..data import load_dataset
from ..diagnostics import em_structure
from ..diagnostics.em_structure import EM, GATE, HARD, LINEAR, NORM
from ..training import train
from .base import Experiment, describe_image_data
from .rules import COUNT, UNIT, Rule


@dataclass
class Config:
    """Full-size settings (``QUICK`` shrinks them for ``--quick``)."""

    seed: int = 0
    epochs: int = 40
    hidden: int = 64
    batch_size: int = 64
    lr: float = 2e-3


QUICK = {"epochs": 6}


class AttentionClassifier(nn.Module):
    """Digits as 8 tokens of 8 pixels -> self-attention block -> linear head."""

    def __init__(self, width: int = 32, heads: int = 2, n_classes: int = 10):
        super().__init__()
        self.embed = nn.Linear(8, width)
        self.pos = nn.Parameter(torch.zeros(8, width))
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm1 = nn.LayerNorm(width)
        self.ff = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))
        self.norm2 = nn.LayerNorm(width)
        self.head = nn.Linear(width, n_classes)

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x.reshape(-1, 8, 8)) + self.pos
        a, _ = self.attn(h, h, h)
        h = self.norm1(h + a)
        h = self.norm2(h + self.ff(h))
        return self.head(h.mean(1))


class HiddenSoftmax(nn.Module):
    """Control: a softmax written out by hand, under a name no lookup table knows."""

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        e = torch.exp(z - z.amax(-1, keepdim=True))
        return e / e.sum(-1, keepdim=True)


class Lookalike(nn.Module):
    """Control: exponentiates like a softmax but never normalises."""

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.exp(z.clamp(max=20.0)) / z.shape[-1]


# ops whose formula holds a log-sum-exp over alternatives that the name does not show:
# tanh(z) = r+ - r- and sigmoid(z) = r+ over two hypotheses (claim C5)
TWO_HYPOTHESIS_LSE = {"Tanh", "tanh", "Sigmoid", "sigmoid"}
CONTROLS = {"HiddenSoftmax": True, "Lookalike": False}  # op -> must the map find EM?


def has_lse(row: dict) -> bool:
    """Ground truth from what the op computes: a declared normalisation over
    alternatives (softmax family, the library's soft competition) or a two-hypothesis
    posterior (tanh, sigmoid), or the hidden-softmax control."""
    return row["kind"] == EM or row["op"] in TWO_HYPOTHESIS_LSE or CONTROLS.get(row["op"], False)


def build_models(hidden: int) -> dict[str, nn.Module]:
    """The models the EM-structure map is drawn for, at hidden width ``hidden``."""

    def mlp(act1, act2):
        return nn.Sequential(nn.Linear(64, hidden), act1, nn.Linear(hidden, hidden), act2,
                             nn.Linear(hidden, 10))  # fmt: skip

    return {"relu_mlp": mlp(nn.ReLU(), nn.ReLU()), "tanh_mlp": mlp(nn.Tanh(), nn.Tanh()),
            "attention": AttentionClassifier(),
            "competitive": mlp(SoLU(), GroupedSoLU(8))}  # fmt: skip


def run(cfg: Config, out_dir: Path) -> dict:
    """One seed's measurements at ``cfg``'s sizes (the runner stores them in ``out_dir``)."""
    ds = load_dataset("digits", seed=cfg.seed, standardize=True)
    x_tr, y_tr, x_te, y_te = ds.tensors()
    torch.manual_seed(cfg.seed)
    models = build_models(cfg.hidden)
    map_rows, summary = [], []
    for name, model in models.items():
        result = train(model, lambda m, b: F.cross_entropy(m(b[0]), b[1]), (x_tr, y_tr),
                       epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed,
                       description=f"em_structure:{name}")  # fmt: skip
        model.eval()
        with torch.no_grad():
            acc = float((model(x_te).argmax(1) == y_te).float().mean())
        emap = em_structure(model, x_te, head="cross_entropy")
        rows = [dict(model=name, **r) for r in emap.to_rows()]
        map_rows += rows
        internal = [r for r in rows if r["name"] != "loss"]
        gate_dead = [r["dead_fraction"] for r in internal if r["kind"] == GATE]
        summary.append({"model": name, "test_accuracy": acc,
                        "final_train_loss": result.history[-1]["loss"], "traced_with": emap.method,
                        "internal_em_ops": sum(r["em"] for r in internal),
                        "internal_em_behaviour_ops": sum(bool(r["em_behaviour"]) for r in internal),
                        "gates": sum(r["kind"] == GATE for r in internal),
                        "hard_competition_ops": sum(r["kind"] == HARD for r in internal),
                        "norm_ops": sum(r["kind"] == NORM for r in internal),
                        "em_at_head": any(r["em"] for r in rows if r["name"] == "loss"),
                        "max_gate_dead_fraction": max(gate_dead, default=None)})  # fmt: skip
    controls = nn.Sequential(nn.Linear(x_tr.shape[1], cfg.hidden), HiddenSoftmax(),
                             nn.Linear(cfg.hidden, cfg.hidden), Lookalike(),
                             nn.Linear(cfg.hidden, 10))  # fmt: skip
    map_rows += [dict(model="controls", **r) for r in em_structure(controls, x_te).to_rows()]
    for r in map_rows:
        r["shape"] = "x".join(map(str, r["shape"])) if isinstance(r["shape"], list) else r["shape"]
    measured = sum(r.get("em_behaviour") is not None for r in map_rows)
    tables = {"models": summary, "maps": map_rows, "c17": [c17_counts(map_rows)]}
    return {"metrics": {"measured_ops": measured}, "tables": tables}


def c17_counts(rows: list[dict]) -> dict:
    """From map rows whose Jacobian form was measured (``em_behaviour`` not None): whether
    both controls behave (the hidden softmax shows EM, the lookalike does not), and the
    ops that show EM behaviour without a log-sum-exp (:func:`has_lse`) and the reverse."""
    measured = [r for r in rows if r.get("em_behaviour") is not None]
    controls = {r["op"]: r["em_behaviour"] for r in measured if r["op"] in CONTROLS}
    em_only = [f"{r['model']}:{r['op']}" for r in measured if r["em_behaviour"] and not has_lse(r)]
    lse_only = [f"{r['model']}:{r['op']}" for r in measured if has_lse(r) and not r["em_behaviour"]]
    return {"controls_ok": float(controls == CONTROLS), "em_without_lse": len(em_only),
            "lse_without_em": len(lse_only), "em_without_lse_ops": ", ".join(em_only),
            "lse_without_em_ops": ", ".join(lse_only)}  # fmt: skip


# C17: EM behaviour (judged from each op's measured Jacobian) shows exactly at the ops
# that hold a log-sum-exp: no op without one shows it, and no op with one lacks it.
# Open unless the controls behave: until then the criterion could not fail.
_COUNT: dict[str, Any] = {"claim": "C17", "table": "c17", "op": "<=", "threshold": 0,
                          "bounds": COUNT}  # fmt: skip
RULES = (
    Rule("C17", "c17", "controls_ok", ">", 0.5, kind="share", bounds=UNIT, gate=True,
         says="the hidden-softmax control shows EM and the lookalike does not"),
    Rule(stat="em_without_lse", primary=True,
         says="ops showing EM behaviour without an LSE", **_COUNT),
    Rule(stat="lse_without_em", says="ops holding an LSE without EM behaviour", **_COUNT),
)  # fmt: skip


SHOWN = (("responsibility_entropy", "H"), ("dead_fraction", "dead"), ("coupling", "c"))
COLORS = {EM: "#3c9d5d", HARD: "#8e6cc4", GATE: "#e08a2c", LINEAR: "#9aa3b5", NORM: "#4a7fd0"}


def plot(result: dict, out_dir: Path) -> list:
    """The four maps side by side: one coloured box per op, annotated with measurements."""
    from matplotlib.patches import FancyBboxPatch, Patch

    from .figures import new_figure, save_figure

    rows = result["tables"]["maps"]
    models = [s["model"] for s in result["tables"]["models"]]
    depth = max(sum(r["model"] == m for r in rows) for m in models)
    fig, axes = new_figure(1, len(models), width=3.3 * len(models), height=0.55 * depth + 1.6)
    for ax, m in zip(axes, models, strict=True):
        ops = [r for r in rows if r["model"] == m]
        for i, r in enumerate(ops):
            y = depth - i
            box = FancyBboxPatch((0.03, y - 0.42), 0.94, 0.84, boxstyle="round,pad=0.01",
                                 color=COLORS.get(r["kind"], "#c9ced8"), alpha=0.9)  # fmt: skip
            ax.add_patch(box)
            info = [f"{short}={r[key]:.2f}" for key, short in SHOWN if r[key] is not None]
            info += ["EM by J"] if r.get("em_behaviour") else []
            label = f"{r['name']}: {r['op']}" + (f"\n{'  '.join(info)}" if info else "")
            ax.text(0.5, y, label, ha="center", va="center", fontsize=7.5,
                    color="white" if r["kind"] in (EM, HARD, NORM) else "black")  # fmt: skip
        ax.set(xlim=(0, 1), ylim=(0.3, depth + 0.7), title=m)
        ax.axis("off")
    handles = [Patch(color=c, label=k) for k, c in COLORS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    save_figure(fig, out_dir, "em_maps.png")
    return [("em_maps.png", "EM-structure maps of the trained models (input at the top). "
             "Green: normalisation over alternatives (EM); orange: element-wise gates; blue: "
             "normalisation without alternatives. H = mean normalised responsibility entropy, "
             "dead = dead fraction, c = cross-unit Jacobian coupling; 'EM by J': the measured "
             "Jacobian has the responsibility or two-hypothesis form.")]  # fmt: skip


EXPERIMENT = Experiment.declared_in(
    __name__,
    "Where implicit EM lives: EM-structure maps of standard models",
    summary="Four classifiers trained on digits (ReLU MLP, tanh MLP, a self-attention block, an "
    "MLP with the library's SoLU and grouped-SoLU activations), each mapped on the test set: "
    "which ops normalise over alternatives (EM), which are element-wise gates, and what each "
    "measures (responsibility entropy, dead fraction, cross-unit Jacobian coupling).",
    data=describe_image_data("digits", 0) + " (standardised)",
)
