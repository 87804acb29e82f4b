"""Krotov & Hopfield's MNIST result reproduced under their protocol (issue 36).

    python bench/krotov_reproduction.py [--quick] [--seed 0] [--readout-epochs 300]

The paper (PNAS 2019) reports 1.46 % test error (98.54 %) for 2000 hidden units trained by
its local rule, read by its own supervised top layer. Here, on MNIST's standard split
(60k training images, the 10k test images: a published test number is reproduced, no
setting is chosen on them):

* **bottom layer**, :class:`~implicit_em.baselines.KrotovHopfield` with the paper's
  ``p = 3, k = 7, delta = 0.4`` for 2000 units, batch 100, ``W ~ N(0, 1)``, pixels in
  [0, 1], in two settings of rate and length, since the paper's text gives neither:

  - ``notebook rate, 200 epochs`` (the class defaults at 2000 units): the authors'
    notebook's 0.02 (linear decay) and 200 epochs
    (``Unsupervised_learning_algorithm_MNIST.ipynb``, ``DimaKrotov/Biological_Learning``);
  - ``reimplementations' reading, 1000 epochs``: 0.04 and 1000 epochs, what several
    independent reimplementations of the paper's run agree on
    (``julestalloen/pytorch-hebbian`` ``examples/params/mnist.json``,
    ``holzhauk/LocalLearning``), not a figure we found in the paper;

* **top layer**, :func:`~implicit_em.diagnostics.power_readout` on the currents of
  unit-length inputs (:meth:`~implicit_em.baselines.KrotovHopfield.currents`, on their
  own scale: ``scale = 1``; Krotov's answer in the repository's issue 4):
  ``tanh(beta S relu(h)^4.5)``, loss ``sum |c - t|^6``; its optimiser settings come from
  the common reimplementations (the paper's text gives none we could find): Adam 1e-3
  halved four times over 300 epochs, batch 100, ``beta = 0.01``.

Beside it, each bottom layer under the shared linear probe (C = 1) and the tuned probe.
One seed: the rows are a reproduction, not a comparison.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import mnist_tensors, report
from implicit_em.baselines import KrotovHopfield
from implicit_em.diagnostics import linear_probe, power_readout, tuned_probe

PUBLISHED = 0.9854  # 1.46 % test error, 2000 hidden units
PAPER = {"p": 3.0, "k": 7, "delta": 0.4, "batch_size": 100}  # the paper's 2000-unit network
SETTINGS = {
    "notebook rate, 200 epochs": {**PAPER, "lr": 0.02, "epochs": 200},
    "reimplementations' reading, 1000 epochs": {**PAPER, "lr": 0.04, "epochs": 1000},
}


def data(quick: bool):
    """``(x, y, x_test, y_test, source)``: MNIST's 60k / 10k, or a random stand-in."""
    x, y, xt, yt, real = mnist_tensors(quick, stand_in=1200)
    return x, y, xt, yt, "MNIST 60k / 10k" if real else "random stand-in"


def readouts(kh: KrotovHopfield, x, y, xt, yt, seed: int, readout_epochs: int) -> list[dict]:
    """The fitted ``kh`` under the power top layer, the fixed probe and the tuned probe."""
    out = []
    t0 = time.perf_counter()
    top = power_readout(
        kh.currents(x), y, kh.currents(xt), yt, epochs=readout_epochs, scale=1.0, seed=seed
    )  # the currents on the paper's own scale
    out.append({"readout": "power top layer (the paper's)", **top,
                "readout_s": time.perf_counter() - t0})  # fmt: skip
    f, ft = kh.transform(x), kh.transform(xt)
    t0 = time.perf_counter()
    fixed = linear_probe(f, y, ft, yt, seed=seed)
    out.append({"readout": "linear probe, C = 1", **fixed, "readout_s": time.perf_counter() - t0})
    t0 = time.perf_counter()
    tuned = tuned_probe(f, y, ft, yt, seed=seed, fixed=fixed)
    out.append({"readout": f"linear probe, power {tuned['power']:g}, C = {tuned['C']:g} "
                "(held-out)", **tuned,
                "readout_s": time.perf_counter() - t0})  # fmt: skip
    return out


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a shape check, not a measurement")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--readout-epochs", type=int, default=300, help="top layer's")
    args = p.parse_args(argv)
    x, y, xt, yt, source = data(args.quick)
    k = 16 if args.quick else 2000
    settings = {label: {**kw, "epochs": 2} if args.quick else kw
                for label, kw in SETTINGS.items()}  # fmt: skip
    readout_epochs = 2 if args.quick else args.readout_epochs
    rows = []
    for label, kwargs in settings.items():
        kw = {**kwargs, "k": min(kwargs["k"], k)}
        t0 = time.perf_counter()
        kh = KrotovHopfield(k, seed=args.seed, **kw).fit(x)
        fit_s = time.perf_counter() - t0
        for r in readouts(kh, x, y, xt, yt, args.seed, readout_epochs):
            rows.append({"K": k, "setting": label, "readout": r["readout"],
                         "test_accuracy": r["test_accuracy"],
                         "train_accuracy": r["train_accuracy"],
                         "below_published": PUBLISHED - r["test_accuracy"], "fit_s": fit_s,
                         "readout_s": r["readout_s"], "kwargs": kw})  # fmt: skip
            print(f"{label} / {r['readout']}: {r['test_accuracy']:.4f}", flush=True)
    meta = {"data": source, "seed": args.seed, "published": PUBLISHED,
            "source": "Krotov & Hopfield, PNAS 2019: 1.46 % test error at 2000 units",
            "readout_epochs": readout_epochs}  # fmt: skip
    report("krotov_reproduction" + ("-quick" if args.quick else ""), rows, meta)
    return rows


if __name__ == "__main__":
    main()
