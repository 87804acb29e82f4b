"""Experiment ``benchmark``: the implicit-EM layer against the local learners on MNIST's
standard split (60k train / 10k test), at widths 64 and 2000, on five seeds.

Every learner is fitted on the same training images (pixels in ``[0, 1]``; each does its
own preprocessing) at its class defaults -- the implicit-EM layer at
:class:`~implicit_em.layers.ImplicitEMLayer`'s, trained by the README's plain loop, the
author's encoder at its 100 epochs at every width -- and its frozen features are scored
on the 10k test images under three read-outs (:data:`READOUTS`), each a named choice
applied alike to every learner and never a learner setting:

* ``fixed probe``: :func:`~implicit_em.diagnostics.linear_probe` at ``C = 1`` (the
  benchmark's read-out before read-outs were named, kept for continuity);
* ``tuned probe``: the same probe on power-normalised features ``sign(f) |f|^power``,
  the power and ``C`` chosen per learner, width and seed on the last 10k training images
  (:func:`~implicit_em.diagnostics.tuned_probe`: power 1 leaves the features as they are,
  0.1 reads a near one-hot code such as SoftHebb's ``softmax(5 u)``);
* ``power top layer``: Krotov & Hopfield's supervised top layer
  (:func:`~implicit_em.diagnostics.power_readout`) on each learner's currents (their own,
  ``KrotovHopfield.currents``, on their scale; the others'
  features scaled to ``[-1, 1]``).

The defaults were chosen on a validation split of the training images
(``bench/iem_search.py``, ``bench/baseline_defaults.py``), never on the test images.
The reproduction table puts each published figure beside this run's number for the same
learner, and beside the committed reproduction under the authors' own protocol
(``bench/krotov_reproduction.py``).

Measured per learner and seed: the three accuracies, fit time, and an accuracy-against-
time curve (the implicit-EM layer after each epoch; the others once, when fitted),
scored by a cheaper probe fitted on ``curve_train`` of the training images. Each
learner x width cell is saved as it finishes (``cells/``) so that an interrupted run
resumes without redoing finished cells. The goals (declared in ``GOALS`` and graded like
the claims, each under each read-out): beat every local learner (the 95 % interval of
the paired difference over seeds above 0), reach 98.5 % at width 2000 and the theory's
author's published 93.43 % at width 64; and reach SoftHebb's accuracy in no more wall
time than SoftHebb.

``benchmark_small`` is the same comparison at width 64 on two seeds, the version that
``iem run all`` includes; ``iem run benchmark`` runs the full one. One seed took 49
minutes of one core on an AMD EPYC (seed 0: 5 at width 64, 44 at width 2000, where
Krotov-Hopfield's 200 epochs and the encoder's 100 take 12 minutes each), so
``--jobs 5``, every seed at once, needed about two hours on 2 cores. The tuned probe's
feature power adds to every cell's scoring (on an Intel Xeon, quiet: 104 s of one core for
triangle k-means' tuned probe at width 2000, 211 s for SoftHebb's, against 22 and 71 s
for the fixed probe): plan on about three hours.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .._io import jsonable, read_json, write_json
from ..baselines import (
    DecoderFreeEncoder,
    ImplicitEMFeatures,
    KrotovHopfield,
    SoftHebb,
    TriangleKMeans,
)
from ..baselines.base import FeatureLearner
from ..diagnostics import PROBE_CS, PROBE_POWERS, linear_probe, power_readout, tuned_probe
from ..progress import track
from .base import Experiment, describe_image_data, image_tensors
from .config import bounded
from .local_learners import versus
from .rules import Rule
from .verdicts import COUNT, UNIT, over_seeds, percent_interval

IEM = "implicit-EM layer"
LEARNERS = ("triangle k-means", "SoftHebb", "Krotov-Hopfield", "decoder-free encoder", IEM)
# published figures this run reproduces (same data; their architecture and read-out)
PUBLISHED = [
    {"learner": "Krotov-Hopfield", "K": 2000, "published": 0.9854,
     "their_setup": "2000 hidden units + their own supervised top layer (power-law "
                    "activations); error 1.46 %",
     "source": "Krotov & Hopfield, PNAS 2019"},
    {"learner": "decoder-free encoder", "K": 64, "published": 0.9343,
     "their_setup": "784 -> 64 ReLU, LSE + variance + TC, linear probe",
     "source": "the theory's author, encoder study"},
    {"learner": "SoftHebb", "K": 2000, "published": None,
     "their_setup": "the authors' MNIST preset 2SoftMlpMNIST (2000 units, one epoch, batch "
                    "32: this class's defaults) reports no accuracy in their code "
                    "(NeuromorphicComputing/SoftHebb), and the paper's MNIST figure could "
                    "not be read: no number is quoted",
     "source": "Moraitis et al., Neuromorph. Comput. Eng. 2022; Journé et al., ICLR 2023"},
    {"learner": "triangle k-means", "K": 2000, "published": None,
     "their_setup": "no MNIST figure published (Coates & Ng report CIFAR-10 and NORB)",
     "source": "Coates, Lee & Ng, AISTATS 2011"},
]  # fmt: skip


@dataclass
class Config:
    """Settings of the ``benchmark`` experiment at full strength."""

    seed: int = 0
    widths: tuple[int, ...] = (64, 2000)
    mnist_train: int = 60000  # all of the standard training images
    learners: tuple[str, ...] = LEARNERS
    iem_epochs: int = 5  # as in bench/iem_search.py
    # the power top layer's epochs, as in bench/krotov_reproduction.py
    power_epochs: int = 300
    curve_train: int = 10000  # training images behind the curve's quick probe
    target_2000: float = bounded(0.985, gt=0.0, max=1.0)  # goal: Krotov-Hopfield's published
    target_64: float = bounded(0.9343, gt=0.0, max=1.0)  # goal: the author's published encoder


@dataclass
class SmallConfig(Config):
    """``benchmark_small`` (in ``iem run all``): width 64 only, and without the author's
    encoder (its 100 epochs on 60k images cost 2-4 min a seed; the full benchmark and the
    experiment ``encoder`` measure it)."""

    widths: tuple[int, ...] = (64,)
    learners: tuple[str, ...] = tuple(n for n in LEARNERS if n != "decoder-free encoder")


# a smoke check of the pipeline (the quick suite stays within 2 minutes): three learners
QUICK = {"widths": (16,), "mnist_train": 300, "iem_epochs": 1, "curve_train": 150,
         "power_epochs": 2, "learners": (IEM, "SoftHebb", "triangle k-means")}  # fmt: skip


def make_learner(
    name: str, k: int, cfg: Config, on_epoch: Callable | None = None
) -> FeatureLearner:
    """The learner ``name`` at width ``k``, at its class defaults."""
    seed = cfg.seed
    if name == IEM:
        return ImplicitEMFeatures(k, seed=seed, epochs=cfg.iem_epochs, on_epoch=on_epoch)
    cls = {
        "triangle k-means": TriangleKMeans,
        "SoftHebb": SoftHebb,
        "Krotov-Hopfield": KrotovHopfield,
        "decoder-free encoder": DecoderFreeEncoder,
    }[name]
    return cls(k, seed=seed)  # fmt: skip


def settings(learner: FeatureLearner) -> dict:
    """What defines ``learner``'s fit: its class, its settings and, for the implicit-EM
    layer, :class:`~implicit_em.layers.ImplicitEMLayer`'s defaults of today. A saved cell
    is reused only when these are equal (new defaults re-measure it)."""
    import inspect

    from ..layers import ImplicitEMLayer

    own = {n: v for n, v in vars(learner).items() if not n.endswith("_") and n != "on_epoch"}
    out = {"class": type(learner).__name__, **jsonable(own)}
    if isinstance(learner, ImplicitEMFeatures):
        sig = inspect.signature(ImplicitEMLayer.__init__).parameters
        out["layer_defaults"] = jsonable({n: p.default for n, p in sig.items()
                                          if p.kind is p.KEYWORD_ONLY})  # fmt: skip
    return out


# read-out -> the fits table's column (see the module; the first is the fixed probe's)
READOUTS = {"fixed probe": "probe_accuracy", "tuned probe": "tuned_probe_accuracy",
            "power top layer": "power_accuracy"}  # fmt: skip


def cell_settings(learner: FeatureLearner, cfg: Config) -> dict:
    """What a saved cell was measured with: the learner's :func:`settings` and the
    read-outs' (a change to either re-measures the cell)."""
    return {**settings(learner), "readouts": {"names": list(READOUTS),
                                              "tuned_Cs": list(PROBE_CS),
                                              "tuned_powers": list(PROBE_POWERS),
                                              "power_epochs": cfg.power_epochs}}  # fmt: skip


def score(learner: FeatureLearner, data: tuple, cfg: Config) -> dict:
    """The fitted ``learner``'s frozen features under every read-out of :data:`READOUTS`:
    test accuracies (and the probe's training accuracy, convergence and chosen ``C``)."""
    x, y, xt, yt = data
    f, ft = learner.transform(x), learner.transform(xt)
    fixed = linear_probe(f, y, ft, yt, seed=cfg.seed)
    tuned = tuned_probe(f, y, ft, yt, seed=cfg.seed, fixed=fixed)
    h, ht, scale = f, ft, None  # others' features, scaled to [-1, 1]
    if isinstance(learner, KrotovHopfield):  # the currents its own top layer reads
        h, ht, scale = learner.currents(x), learner.currents(xt), 1.0
    power = power_readout(h, y, ht, yt, epochs=cfg.power_epochs, seed=cfg.seed, scale=scale)
    return {"probe_accuracy": fixed["test_accuracy"],
            "probe_train_accuracy": fixed["train_accuracy"],
            "probe_converged": fixed["converged"],
            "tuned_probe_accuracy": tuned["test_accuracy"], "tuned_C": tuned["C"],
            "tuned_power": tuned["power"],
            "power_accuracy": power["test_accuracy"],
            "power_train_accuracy": power["train_accuracy"]}  # fmt: skip


def prototypes(learner: FeatureLearner) -> torch.Tensor | None:
    """The learner's weight vectors or centroids ``(K, 784)`` for the picture."""
    for attr in ("centroids_", "weight_"):
        if getattr(learner, attr, None) is not None:
            return getattr(learner, attr).detach()
    module = getattr(learner, "module_", None)
    if module is None:
        return None
    w = getattr(module, "weight", None)
    if w is None:
        w = next(p for p in module.parameters() if p.ndim == 2)
    return w.detach()


def measure_cell(name: str, k: int, cfg: Config, data: tuple) -> dict:
    """Fit one learner at width ``k``: probe accuracy, fit time, curve, prototypes."""
    x, y, xt, yt = data
    n_curve = min(cfg.curve_train, len(x))

    def quick_probe(learner) -> float:
        f = learner.transform(x[:n_curve])
        return linear_probe(f, y[:n_curve], learner.transform(xt), yt, seed=cfg.seed)[
            "test_accuracy"
        ]

    curve: list[dict] = []

    def on_epoch(epoch, learner):
        curve.append({"epoch": epoch, "train_s": learner.train_s_,
                      "quick_probe": quick_probe(learner)})  # fmt: skip

    start = time.perf_counter()
    learner = make_learner(name, k, cfg, on_epoch)
    defined_by = cell_settings(learner, cfg)
    t0 = time.perf_counter()
    learner.fit(x)
    fit_s = time.perf_counter() - t0
    if isinstance(learner, ImplicitEMFeatures):
        fit_s = learner.train_s_  # without the curve's probes
    else:
        curve.append({"epoch": None, "train_s": fit_s, "quick_probe": quick_probe(learner)})
    scores = score(learner, data, cfg)
    w = prototypes(learner)
    return {
        "settings": defined_by,
        "row": {"K": k, "learner": name, **scores, "fit_s": fit_s,
                "cell_s": time.perf_counter() - start},
        "curve": [{"K": k, "learner": name, **c} for c in curve],
        "prototypes": None if w is None else w[:100].tolist(),
    }  # fmt: skip


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def run(cfg: Config, out_dir: Path) -> dict:
    """One seed: every learner at every width, each cell saved as it finishes (resume)."""
    skipped: list[str] = []
    found = list(image_tensors(("mnist",), cfg.seed, cfg.mnist_train, skipped))
    if not found:
        return {"metrics": {"skipped_datasets": "mnist"}, "tables": {"fits": [], "curves": []},
                "data": describe_image_data("mnist", cfg.mnist_train),
                "summary": "MNIST is not available: run `iem data mnist`."}  # fmt: skip
    _, ds, x, xt = found[0]
    data = (x, torch.as_tensor(ds.y_train), xt, torch.as_tensor(ds.y_test))
    cells_dir = out_dir / "cells"
    cells_dir.mkdir(parents=True, exist_ok=True)
    rows, curves, pictures = [], [], {}
    todo = [(k, name) for k in cfg.widths for name in cfg.learners]
    for k, name in track(todo, f"benchmark seed {cfg.seed}: learner x width"):
        path = cells_dir / f"{k}-{_slug(name)}.json"
        cell = read_json(path) if path.exists() else None
        if cell is None or cell.get("settings") != cell_settings(make_learner(name, k, cfg), cfg):
            cell = measure_cell(name, k, cfg, data)
            write_json(path, cell)  # atomically: a resumed run skips it
        rows.append(cell["row"])
        curves += cell["curve"]
        if cell["prototypes"] is not None:
            pictures[f"{name} (K={k})"] = cell["prototypes"]
    write_json(out_dir / "prototypes.json", pictures)
    return {
        "metrics": {"skipped_datasets": "none"},
        "tables": {"fits": rows, "curves": curves},
        "data": describe_image_data("mnist", cfg.mnist_train) + "; pixels in [0, 1]; every "
        "learner at its class defaults; read-outs: "
        + ", ".join(READOUTS)
        + f" ({cfg.power_epochs} epochs)",
        "summary": (
            "The implicit-EM layer at its defaults against the local learners at theirs, "
            "same split, read-outs and seeds; goals, under each read-out: beat every local "
            "learner (95 % intervals of the paired differences), reach 98.5 % at width 2000 "
            "and 93.43 % at width 64; and reach SoftHebb's accuracy in no more time than "
            "SoftHebb."
        ),
    }


def softhebb_time(curves: list[dict]) -> list[dict]:
    """Per width and seed: whether the implicit-EM layer's quick probe reaches SoftHebb's
    (1/0) and its training time then over SoftHebb's fit time (``None``: never reached)."""
    out = []
    for k, seed in dict.fromkeys((c["K"], c.get("seed", 0)) for c in curves):
        mine = [c for c in curves if (c["K"], c.get("seed", 0)) == (k, seed)]
        theirs = [c for c in mine if c["learner"] == "SoftHebb"]
        ours = sorted((c for c in mine if c["learner"] == IEM), key=lambda c: c["train_s"])
        if not theirs or not ours:
            continue
        hit = next((c for c in ours if c["quick_probe"] >= theirs[0]["quick_probe"]), None)
        ratio = None if hit is None else hit["train_s"] / theirs[0]["train_s"]
        out.append({"K": k, "seed": seed, "reached": float(hit is not None), "time_ratio": ratio})
    return out


def _goals_per_readout() -> tuple[Rule, ...]:
    """The accuracy goals, one set per read-out of :data:`READOUTS`."""
    out: list[Rule] = []
    for readout, stat in READOUTS.items():
        says = f"{readout} accuracy of the implicit-EM layer"
        reach: dict[str, Any] = {"table": "fits", "stat": stat, "op": ">=", "bounds": UNIT,
                                 "says": says}  # fmt: skip
        out += [
            Rule(f"beat every local learner ({readout})", "versus", f"{stat}_below_ref", ">",
                 0, cells=("K", "learner"), bounds=(-1.0, 1.0),
                 says=f"{readout} accuracy: implicit EM minus this learner"),
            Rule(f"reach Krotov-Hopfield's published accuracy ({readout})",
                 threshold="target_2000", where={"learner": IEM, "K": 2000}, **reach),
            Rule(f"reach the author's published encoder ({readout})", threshold="target_64",
                 where={"learner": IEM, "K": 64}, **reach),
        ]  # fmt: skip
    return tuple(out)


GOALS = (  # issues 21 and 36
    *_goals_per_readout(),
    Rule("reach SoftHebb's accuracy", "softhebb_time", "reached", ">=", 1, cells=("K",),
         bounds=UNIT, says="the quick probe reaches SoftHebb's (1/0)"),
    Rule("... in no more wall time than SoftHebb", "softhebb_time", "time_ratio", "<=", 1,
         cells=("K",), bounds=COUNT, says="training time to it over SoftHebb's fit time"),
)  # fmt: skip


def reproduction(summary: list[dict], results: Path | None = None) -> list[dict]:
    """Published figures next to this run's measurement of the same learner under each
    read-out, and, where committed, the reproduction under the authors' own protocol
    (``bench/results/krotov_reproduction.json``)."""
    at = {(r["K"], r["learner"]): r for r in summary}
    out = []
    for p in PUBLISHED:
        ours = at.get((p["K"], p["learner"]))
        for readout, stat in READOUTS.items():
            out.append(
                {
                    **p,
                    "our_setup": f"its class defaults, {readout}",
                    "measured": None if ours is None else ours.get(stat),
                    "measured_95": None if ours is None else percent_interval(ours, stat),
                }
            )
    found = committed_table("krotov_reproduction.json", results)
    for r in (found or {"rows": []})["rows"]:
        if r["readout"].startswith("power"):
            kw = ", ".join(f"{k} {v:g}" for k, v in r["kwargs"].items())
            out.append(
                {
                    **PUBLISHED[0],
                    "measured": r["test_accuracy"],
                    "measured_95": None,
                    "our_setup": f"{r['setting']} ({kw}) and the paper's top layer, one "
                    "seed: bench/krotov_reproduction.py",
                }
            )
    if found is None:
        out.append({**PUBLISHED[0], **missing_table("krotov_reproduction.json")})
    return out  # fmt: skip


# the validation searches behind the defaults, committed by bench/ (found in a clone)
SEARCHES = {"validation_search_implicit_em": "iem_search.json",
            "validation_search_baselines": "baseline_defaults.json"}  # fmt: skip


def committed_table(name: str, results: Path | None = None) -> dict | None:
    """``bench/results/NAME`` (``{"meta", "rows"}``) of the repository, ``None`` where it
    is absent (an installed package has no ``bench/``)."""
    results = results or Path(__file__).resolve().parents[3] / "bench" / "results"
    path = results / name
    return read_json(path) if path.is_file() else None


def missing_table(name: str) -> dict:
    """The report row that stands for an absent committed table."""
    return {"note": f"bench/results/{name} not found (run from a clone)"}


def validation_searches(
    results: Path | None = None, searches: dict[str, str] | None = None, learner: str = IEM
) -> dict[str, list[dict]]:
    """The committed search tables (``bench/results/``; ``searches``: report table ->
    file, default :data:`SEARCHES`) as report tables: width, learner (``learner`` where a
    row names none), setting, validation accuracy; a table says where it is missing (an
    installed package without the repository's ``bench/``)."""
    out = {}
    for table, name in (searches or SEARCHES).items():
        found = committed_table(name, results)
        if found is None:
            out[table] = [missing_table(name)]
            continue
        seeds = found["meta"].get("seeds", 1)
        out[table] = [
            {"K": r["K"], "learner": r.get("learner", learner), "setting": r["setting"],
             "val_accuracy": r["val_accuracy"],
             "seeds": seeds.get(str(r["K"]), 1) if isinstance(seeds, dict) else seeds}
            for r in found["rows"]
        ]  # fmt: skip
    return out


def across_seeds(tables: dict, cfg: Config) -> dict:
    """Mean and 95 % interval per width and learner; the goals; the reproduction table;
    the committed validation searches behind the defaults."""
    stats = dict.fromkeys(READOUTS.values(), UNIT)
    fits = [
        {c: r.get(c) for c in ("K", "learner", "seed", "fit_s", *stats)} for r in tables["fits"]
    ]  # cells measured before read-outs were named: None
    summary = over_seeds(fits, ("K", "learner"), {**stats, "fit_s": COUNT})
    for r in summary:
        r["probe_95"] = percent_interval(r, "probe_accuracy")
    return {"summary_over_seeds": summary,
            "versus": versus(fits, IEM, ("K",), stats=tuple(stats)),
            "softhebb_time": softhebb_time(tables["curves"]), "reproduction": reproduction(summary),
            **validation_searches()}  # fmt: skip


def plot(result: dict, out_dir: Path) -> list:
    """Prototype grids (first seed), accuracy with 95 % intervals, accuracy against time."""
    import numpy as np

    from .figures import filter_row, new_figure, save_figure

    out = []
    path = Path(out_dir) / "prototypes.json"
    pictures = read_json(path) if path.exists() else {}
    if pictures:
        images = {}  # the first 64 weight vectors of each learner, as square images
        for label, w in pictures.items():
            w = np.asarray(w)[:64]
            side = round(w.shape[1] ** 0.5)
            images[label] = w.reshape(len(w), 1, side, side)
        filter_row(out_dir, images, "prototypes.png", width=3, height=3.4)
        out.append({"file": "prototypes.png", "caption": "The first 64 learned prototypes, "
                    "weight vectors or filters of each learner (first seed), as 28 x 28 "
                    "images, each scaled to its own range."})  # fmt: skip
    summary = result["tables"].get("summary_over_seeds", [])
    widths = sorted({r["K"] for r in summary})
    if summary:
        fig, axes = new_figure(1, len(widths), width=5 * len(widths), height=3.6)
        for ax, k in zip(axes, widths, strict=True):
            rows = [r for r in summary if r["K"] == k]
            mean = np.array([100 * r["probe_accuracy"] for r in rows])
            lo = np.array([100 * (r["probe_accuracy_lo"] or r["probe_accuracy"]) for r in rows])
            hi = np.array([100 * (r["probe_accuracy_hi"] or r["probe_accuracy"]) for r in rows])
            ax.errorbar(mean, range(len(rows)), xerr=[mean - lo, hi - mean], fmt="o", capsize=3)
            ax.set_yticks(range(len(rows)), [r["learner"] for r in rows], fontsize=7)
            ax.set(xlabel="test accuracy (%), mean and 95 % interval", title=f"K = {k}")
        save_figure(fig, out_dir, "accuracy.png")
        out.append({"file": "accuracy.png", "caption": "Linear-probe test accuracy per "
                    "learner with its 95 % interval over the seeds."})  # fmt: skip
    curves = [c for c in result["tables"].get("curves", []) if c.get("seed", 0) == result["seed"]]
    if curves:
        widths = sorted({c["K"] for c in curves})
        fig, axes = new_figure(1, len(widths), width=5 * len(widths), height=3.6)
        for ax, k in zip(axes, widths, strict=True):
            for name in dict.fromkeys(c["learner"] for c in curves if c["K"] == k):
                pts = [c for c in curves if c["K"] == k and c["learner"] == name]
                ax.plot([p["train_s"] for p in pts], [100 * p["quick_probe"] for p in pts],
                        "o-" if len(pts) > 1 else "o", label=name)  # fmt: skip
            ax.set(xscale="log", xlabel="training wall time (s)", title=f"K = {k}",
                   ylabel="test accuracy (%), quick probe")  # fmt: skip
        axes[0].legend(fontsize=6)
        save_figure(fig, out_dir, "accuracy_vs_time.png")
        caption = (
            "Accuracy against training wall time (first seed): the implicit-EM layer "
            "after each epoch, the others when fitted; probe fitted on the curve's "
            "training subset."
        )
        out.append({"file": "accuracy_vs_time.png", "caption": caption})
    return out


EXPERIMENT = Experiment.declared_in(
    __name__,
    "The standard MNIST benchmark: implicit EM against the local learners (60k/10k)",
    in_all=False,
)

SMALL = dataclasses.replace(
    EXPERIMENT,
    name="benchmark_small",
    title="The standard MNIST benchmark, small: one width (64 at full size), without the "
    "author's encoder (the full one: iem run benchmark)",
    config=SmallConfig,
    in_all=True,
)
