"""Experiment ``passing_forward``: what should a competitive layer pass on? (C21)

The source notes ask what the right output of a competitive layer is: the
responsibilities lose the input's magnitude; raw activations after competition may
work; other competitive activations than softmax may work too. A depth-2 network
``x -> Linear -> φ -> Linear -> φ -> Linear -> classes`` of width ``K`` is trained end
to end (cross-entropy) with ``φ`` each of

* what an implicit-EM layer can pass on: the responsibilities ``softmax(z)``, the
  log-responsibilities ``log_softmax(z)``, the gated ``z ⊙ softmax(z)`` (SoLU), the raw
  distances ``z`` (no non-linearity), ``-log softmin(z)``;
* other competitions: grouped softmax (groups of 8), LWTA (groups of 4);
* element-wise references: the tanh posterior ``tanh(z)`` and ReLU.

Measured: test accuracy, and how much of the input's magnitude survives the first
layer's output ``φ(z_1)``: the R² of a ridge read-out (fitted on the training images,
scored on the test images) of ``||x||`` and of the input's five leading PCA
coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..activations import make_activation
from ..training import train
from .base import Experiment, Verdict, describe_image_data, image_tensors
from .config import bounded
from .verdicts import over_seeds

OUTPUTS = {
    "responsibilities": lambda: nn.Softmax(-1),
    "log-responsibilities": lambda: nn.LogSoftmax(-1),
    "gated z*softmax(z) (SoLU)": lambda: make_activation("solu"),
    "raw distances z": nn.Identity,
    "-log softmin": lambda: make_activation("neg_log_softmin"),
    "grouped softmax (G = 8)": lambda: make_activation("grouped_softmax"),
    "LWTA (groups of 4)": lambda: make_activation("lwta"),
    "tanh posterior": nn.Tanh,
    "ReLU": nn.ReLU,
}
RESPONSIBILITIES, RAW, REFERENCE = "responsibilities", "raw distances z", "ReLU"
COMPETITIVE = ("gated z*softmax(z) (SoLU)", "grouped softmax (G = 8)", "LWTA (groups of 4)")


@dataclass
class Config:
    """Settings of the ``passing_forward`` experiment at full size.

    The registered ``quick`` dict shrinks them for ``iem run --quick``.
    """

    seed: int = 0
    datasets: tuple[str, ...] = ("mnist", "digits")
    width: int = 64
    mnist_train: int = 8000
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    n_pcs: int = 5
    ridge: float = 1.0
    lost: float = bounded(0.1, gt=0.0)  # C21: R² of ||x|| lost by the responsibilities
    works: float = bounded(0.01, min=0.0)  # C21: accuracy within this of ReLU's


QUICK = {"mnist_train": 2000, "epochs": 5}


def ridge_r2(f: np.ndarray, t: np.ndarray, ft: np.ndarray, tt: np.ndarray, alpha: float) -> float:
    """R² on the test rows of a ridge read-out of targets ``t`` from standardised features
    (averaged over target columns)."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .._sklearn import one_thread

    with one_thread():
        model = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(f, t)
        return float(r2_score(tt, model.predict(ft)))


def one_fit(
    name: str,
    x: torch.Tensor,
    y: torch.Tensor,
    xt: torch.Tensor,
    yt: torch.Tensor,
    targets: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    cfg: Config,
    seed: int,
    n_classes: int,
) -> dict:
    """Fit one model on the training split and measure it on the test split (one table row)."""
    torch.manual_seed(seed)
    d, k = x.shape[1], cfg.width
    net = nn.Sequential(nn.Linear(d, k), OUTPUTS[name](), nn.Linear(k, k), OUTPUTS[name](),
                        nn.Linear(k, n_classes))  # fmt: skip
    train(net, lambda m, b: nn.functional.cross_entropy(m(b[0]), b[1]), (x, y),
          epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=seed,
          description=f"passing_forward:{name}")  # fmt: skip
    net.eval()
    with torch.no_grad():
        acc = float((net(xt).argmax(1) == yt).float().mean())
        f, ft = net[:2](x).numpy(), net[:2](xt).numpy()
    (t_norm, t_pcs), (tt_norm, tt_pcs) = targets
    return {
        "output": name,
        "accuracy": acc,
        "r2_norm": ridge_r2(f, t_norm, ft, tt_norm, cfg.ridge),
        "r2_pcs": ridge_r2(f, t_pcs, ft, tt_pcs, cfg.ridge),
    }


def decide_c21(rows: list[dict], lost: float, works: float) -> tuple[str, dict]:
    """C21's three parts, per dataset: (a) the responsibilities lose magnitude -- their
    R² of ``||x||`` is >= ``lost`` below the raw distances'; (b) raw activations after
    competition work -- SoLU's accuracy within ``works`` of ReLU's; (c) other
    competitions work -- grouped softmax and LWTA within ``works`` of ReLU's. Confirmed
    iff all parts hold on every dataset, refuted iff none holds anywhere, else partly.
    Returns the verdict and the share of datasets where each part holds."""
    parts: dict[str, list[bool]] = {"a": [], "b": [], "c": []}
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        at = {r["output"]: r for r in rows if r["dataset"] == ds}
        ref = at[REFERENCE]["accuracy"]
        parts["a"].append(at[RESPONSIBILITIES]["r2_norm"] <= at[RAW]["r2_norm"] - lost)
        parts["b"].append(at[COMPETITIVE[0]]["accuracy"] >= ref - works)
        parts["c"].append(all(at[c]["accuracy"] >= ref - works for c in COMPETITIVE[1:]))
    if not parts["a"]:
        return "open", {}
    held = [v for p in parts.values() for v in p]
    verdict = "confirmed" if all(held) else "refuted" if not any(held) else "partly"
    return verdict, {k: float(np.mean(v)) for k, v in parts.items()}


def run(cfg: Config, out_dir: Path) -> dict:
    """Run one seed at ``cfg``'s sizes.

    Returns the result (tables, metrics, verdicts) that the runner stores in ``out_dir``.
    """
    from sklearn.decomposition import PCA

    rows: list[dict] = []
    skipped: list[str] = []
    for ds_name, ds, x, xt in image_tensors(cfg.datasets, cfg.seed, cfg.mnist_train, skipped):
        y, yt = torch.as_tensor(ds.y_train), torch.as_tensor(ds.y_test)
        pca = PCA(cfg.n_pcs, random_state=cfg.seed).fit(ds.X_train)
        targets = (
            (np.linalg.norm(ds.X_train, axis=1), pca.transform(ds.X_train)),
            (np.linalg.norm(ds.X_test, axis=1), pca.transform(ds.X_test)),
        )
        n_classes = int(y.max()) + 1
        for name in OUTPUTS:
            row = one_fit(name, x, y, xt, yt, targets, cfg, cfg.seed, n_classes)
            rows.append({"dataset": ds_name, **row})
    verdict, shares = decide_c21(rows, cfg.lost, cfg.works)
    at = {(r["dataset"], r["output"]): r for r in rows}
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    evidence = "; ".join(
        f"{d}: R² of ||x|| from r {at[d, RESPONSIBILITIES]['r2_norm']:.2f} vs z "
        f"{at[d, RAW]['r2_norm']:.2f}; accuracy ReLU {at[d, REFERENCE]['accuracy']:.2%}, "
        + ", ".join(f"{c.split(' (')[0]} {at[d, c]['accuracy']:.2%}" for c in COMPETITIVE)
        + f", responsibilities {at[d, RESPONSIBILITIES]['accuracy']:.2%}"
        for d in datasets
    )
    value = float(np.mean(list(shares.values()))) if shares else None
    return {
        "metrics": {f"c21_part_{k}": v for k, v in shares.items()}
        | {"skipped_datasets": ", ".join(skipped) or "none"},
        "tables": {"outputs": rows},
        "verdicts": [
            Verdict(
                "C21",
                verdict,
                value,
                f"(a) the responsibilities lose magnitude: their R² of ||x|| >= {cfg.lost} below "
                f"the raw distances'; (b) the gated output z*softmax(z) works: accuracy within "
                f"{cfg.works:.0%} of ReLU's; (c) grouped softmax and LWTA work: the same. "
                "Confirmed iff all hold on every dataset, refuted iff none anywhere, else "
                "partly (value: the mean share of parts held)",
                evidence + ".",
            )
        ],
        "data": "; ".join(describe_image_data(d, cfg.mnist_train) for d in cfg.datasets)
        + "; pixels in [0, 1]",
        "summary": (
            "A depth-2 network trained end to end with each thing a competitive layer can "
            "pass on: accuracy, and how much of the input's magnitude survives."
        ),
    }


def across_seeds(tables: dict, cfg: Config) -> dict:
    """Tables from every seed's rows together (shown first in the report)."""
    return {
        "summary_over_seeds": over_seeds(
            tables["outputs"], ("dataset", "output"), ("accuracy", "r2_norm", "r2_pcs")
        )
    }


EXPERIMENT = Experiment(
    name="passing_forward",
    title="What a competitive layer should pass on",
    claims=("C21",),
    config=Config,
    run=run,
    quick=QUICK,
    across_seeds=across_seeds,
)
