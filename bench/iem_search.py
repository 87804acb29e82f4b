"""Validation search behind ``ImplicitEMLayer``'s defaults, on MNIST's standard training set.

    python bench/iem_search.py [--quick] [--widths 64 2000] [--rows LABEL ...]

One factor at a time around the row ``default`` (the layer at today's defaults, trained
by the README's plain loop: Adam, lr 1e-3, batch 256, 5 epochs, each layer on
``sum(layer.objective(x).values())``), over the seeds' design space: distance,
objective, temperature (fixed, learned, annealed), output, input normalisation,
initialisation, optimiser (Adam or the EM-preconditioned step), epochs, depth 1 and 2.
Fitted on the first 50k of the 60k training images, scored by the shared linear probe
(:func:`implicit_em.diagnostics.linear_probe`) on the last 10k, averaged over ``--seeds``
seeds; the test images are never used. ``tests/test_bench.py`` checks that the
``default`` row is the best at every width measured, within 0.5 points, and was
measured with today's defaults. Without MNIST
or with ``--quick``, random images stand in and the numbers mean nothing.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import report
from baseline_defaults import data
from implicit_em.diagnostics import linear_probe
from implicit_em.layers import ImplicitEMLayer

LINEAR = {"distance": "linear", "weight_norm": True, "objective": "infomax",
          "output": "neg_log_softmin"}  # fmt: skip
# experiments/layerwise.py's implicit-EM layer; layers above the first: _above's changes
LAYERWISE = {
    **LINEAR,
    "objective": {"infomax": 1, "balance": 1},
    "temperature": 1.0,
    "input_norm": None,
    "init": "uniform",
    "_above": {"input_norm": "batch"},
}
# label -> layer keyword arguments, plus the loop's: _epochs, _lr, _optimizer ("adam" | "em"),
# _anneal (T from this value down to the layer's over the epochs), _depth, _above (the
# keyword changes for the layers above the first), _widths (only
# at these widths: the 2000-unit rows cost minutes each)
GRID: dict[str, dict] = {
    "default": {},
    "distance linear, unit rows, infomax, -log softmin (old best)": LINEAR,
    "distance linear": {"distance": "linear"},
    "distance mahalanobis_diag": {"distance": "mahalanobis_diag"},
    "objective LSE only": {"objective": None},
    "objective infomax": {"objective": "infomax"},
    "objective decorrelation": {"objective": "decorrelation"},
    "objective balance + decorrelation": {"objective": "balance+decorrelation"},
    "temperature 0.5": {"temperature": 0.5},
    "temperature 2": {"temperature": 2.0},
    "temperature learned": {"learn_temperature": True},
    "relative temperature 0.1": {"relative_temperature": 0.1},
    "relative temperature 0.2": {"relative_temperature": 0.2},
    "relative temperature 0.4": {"relative_temperature": 0.4},
    "input_norm scale, T 0.1": {"input_norm": "scale", "temperature": 0.1},
    "input_norm scale, T 0.2": {"input_norm": "scale", "temperature": 0.2},
    "input_norm scale, T 0.4": {"input_norm": "scale", "temperature": 0.4},
    "input_norm scale, T 0.2, depth 2 (K-K)": {
        "input_norm": "scale",
        "temperature": 0.2,
        "_depth": 2,
    },
    "temperature annealed 4 -> 1": {"_anneal": 4.0},
    "output distances": {"output": "distances"},
    "output -log softmin": {"output": "neg_log_softmin"},
    "output responsibilities": {"output": "responsibilities"},
    "input_norm sample": {"input_norm": "sample"},
    "input_norm batch": {"input_norm": "batch"},
    "init normal": {"init": "normal"},
    "optimiser EM-preconditioned, 1 epoch": {"_optimizer": "em", "_epochs": 1},
    "optimiser EM-preconditioned, 5 epochs": {"_optimizer": "em"},
    "2 epochs": {"_epochs": 2},
    "20 epochs": {"_epochs": 20, "_widths": (64,)},
    "Adam lr 3e-3": {"_lr": 3e-3},
    "Adam lr 1e-2": {"_lr": 1e-2, "_widths": (64,)},
    "depth 2 (K-K)": {"_depth": 2},
    # the layerwise experiment's stack (the notes' linear layer as C16 / C20 measure it:
    # T = 1, raw input below, a batch norm above), and at the dense defaults' input_norm, T
    "layerwise stack, depth 1": LAYERWISE,
    "layerwise stack, depth 2 (K-K)": {**LAYERWISE, "_depth": 2},
    "layerwise stack at input_norm scale, T 0.1, depth 1": {
        **LAYERWISE,
        "input_norm": "scale",
        "temperature": 0.1,
    },
    "layerwise stack at input_norm scale, T 0.1, depth 2 (K-K)": {
        **LAYERWISE,
        "input_norm": "scale",
        "temperature": 0.1,
        "_depth": 2,
        "_above": {"input_norm": "batch", "temperature": 0.1},
    },
}
WIDE = ("default", "input_norm sample", "temperature 0.5", "objective LSE only",
        "output -log softmin", "2 epochs", "depth 2 (K-K)", "Adam lr 3e-3",
        "distance linear, unit rows, infomax, -log softmin (old best)",
        "relative temperature 0.2", "input_norm scale, T 0.1", "input_norm scale, T 0.2",
        "input_norm scale, T 0.2, depth 2 (K-K)")  # fmt: skip


def defaults() -> dict:
    """``ImplicitEMLayer``'s keyword defaults (what the row ``default`` was measured with)."""
    sig = inspect.signature(ImplicitEMLayer.__init__).parameters
    return {n: p.default for n, p in sig.items() if p.kind is p.KEYWORD_ONLY}


@torch.no_grad()
def em_step(layer: ImplicitEMLayer, x: torch.Tensor, step: int) -> None:
    """The EM-preconditioned step of the mixture's ``preconditioned`` solver, on the
    layer's LSE: each mean moves by its summed gradient over its responsibility mass,
    ``mu_j -= eta T grad_j / sum_n r_nj`` (``eta = (step + 2)^-0.6``, stepwise EM)."""
    with torch.enable_grad():
        layer.zero_grad()
        (sum(layer.objective(x).values()) * len(x)).backward()
    mass = layer.responsibilities(x).sum(0).clamp_min(1e-3)[:, None]
    eta = (step + 2) ** -0.6
    layer.weight -= eta * layer.temperature * layer.weight.grad / mass


def fit(layers: list[ImplicitEMLayer], x: torch.Tensor, setting: dict, seed: int = 0) -> None:
    """Each layer in turn on the previous layers' frozen outputs (the plain loop)."""
    epochs, anneal = setting.get("_epochs", 5), setting.get("_anneal")
    h = x
    for i, layer in enumerate(layers):
        torch.manual_seed(seed + i)
        g = torch.Generator().manual_seed(seed + i)
        opt = torch.optim.Adam(layer.parameters(), lr=setting.get("_lr", 1e-3))
        t_end = float(layer.temperature.detach())
        layer.train()
        step = 0
        for epoch in range(epochs):
            if anneal:  # geometric from anneal down to the layer's T
                frac = epoch / max(1, epochs - 1)
                layer.log_temperature.fill_((1 - frac) * torch.tensor(anneal).log() + frac
                                            * torch.tensor(t_end).log())  # fmt: skip
            for idx in torch.randperm(len(h), generator=g).split(256):
                if setting.get("_optimizer") == "em":
                    em_step(layer, h[idx], step)
                else:
                    loss = sum(layer.objective(h[idx]).values())
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                step += 1
        layer.eval()
        with torch.no_grad():
            h = torch.cat([layer(b) for b in h.split(4096)])


def _kept_rows(name: str, ran: set[tuple[int, str]], source: str) -> dict | None:
    """The committed table's rows that this run did not measure (same data), kept
    beside the new ones: a run updates only the (width, setting) rows it runs."""
    import json

    import _common

    path = _common.RESULTS / f"{name}.json"
    if not path.exists():
        return None
    old = json.loads(path.read_text())
    if old["meta"].get("data") != source or not isinstance(old["meta"].get("seeds"), dict):
        return None
    kept = [r for r in old["rows"] if (r["K"], r["setting"]) not in ran]
    return {"meta": old["meta"], "rows": kept}


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--widths", type=int, nargs="+", default=[64, 2000])
    p.add_argument("--rows", nargs="+", default=list(GRID), choices=list(GRID))
    p.add_argument("--seeds", type=int, default=3, help="seeds per row (the mean decides)")
    args = p.parse_args(argv)
    x, y, xv, yv, source = data(args.quick)
    widths = [8] if args.quick else args.widths
    rows = []
    for k in widths:
        for label in args.rows:
            setting = GRID[label]
            if k > 64 and label not in WIDE and not args.quick:
                continue
            if k not in setting.get("_widths", (k,)):
                continue
            kwargs = {n: v for n, v in setting.items() if not n.startswith("_")}
            if args.quick:
                setting = {**setting, "_epochs": 1}
            dims = [x.shape[1]] + [k] * setting.get("_depth", 1)
            accs, train_accs, times = [], [], []
            for seed in range(1 if args.quick else args.seeds):
                torch.manual_seed(seed)
                above = {**kwargs, **setting.get("_above", {})}
                layers = [
                    ImplicitEMLayer(a, b, **(above if i else kwargs))
                    for i, (a, b) in enumerate(itertools.pairwise(dims))
                ]
                t0 = time.perf_counter()
                fit(layers, x, setting, seed=seed)
                times.append(time.perf_counter() - t0)
                with torch.no_grad():
                    f, fv = x, xv
                    for layer in layers:
                        f, fv = layer(f), layer(fv)
                probe = linear_probe(f, y, fv, yv)
                accs.append(probe["test_accuracy"])
                train_accs.append(probe["train_accuracy"])
            loop = {n: v for n, v in setting.items() if n.startswith("_")}
            rows.append({"K": k, "setting": label, "val_accuracy": sum(accs) / len(accs),
                         "val_per_seed": accs, "train_accuracy": sum(train_accs) / len(accs),
                         "fit_s": sum(times) / len(times), "kwargs": {**defaults(), **kwargs},
                         "loop": loop})  # fmt: skip
            print(f"K={k} {label}: {rows[-1]['val_accuracy']:.4f} {accs}", flush=True)
    name = "iem_search" + ("-quick" if args.quick else "")
    seeds = {str(k): 1 if args.quick else args.seeds for k in widths}
    kept = _kept_rows(name, {(r["K"], r["setting"]) for r in rows}, source)
    if kept:  # a width's seeds are those of its default row
        redone = {str(r["K"]) for r in rows if r["setting"] == "default"}
        seeds = {**kept["meta"]["seeds"], **{k: v for k, v in seeds.items() if k in redone}}
    meta = {"data": source, "probe": "linear_probe (standardised, C=1)", "seeds": seeds,
            "loop": "Adam lr 1e-3, batch 256, 5 epochs unless the row says"}  # fmt: skip
    report(name, (kept["rows"] if kept else []) + rows, meta)
    return rows


if __name__ == "__main__":
    main()
