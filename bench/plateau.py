"""Benchmark: wall time for an implicit-EM layer's features to reach their linear-probe
plateau, against a sparse autoencoder of the same width, in the same run.

    python bench/plateau.py [--quick]

Both learn ``K`` features from the 8000 MNIST training images (the test-set files under
``IEM_DATA``; digits without them) with the settings of experiment ``local_learners``
(the implicit-EM layer in its configuration for that width). After every epoch the
features are probed (the library's linear probe, on the held-out images); the plateau is
the best probe accuracy reached, and the time to plateau the training wall time (probes
excluded) of the first epoch within ``tol`` = 0.5 points of it. Goal: the implicit-EM
layer's time to plateau <= the sparse autoencoder's (ratio <= 1). Also: when the
implicit-EM layer first matches the sparse autoencoder's plateau.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import report
from implicit_em.baselines import ImplicitEMFeatures, SparseAutoencoder
from implicit_em.baselines.sparse_autoencoder import sae_loss
from implicit_em.diagnostics.probe import linear_probe
from implicit_em.experiments.base import image_dataset
from implicit_em.training import train


def curve(learner, x, y, xt, yt, epochs: int) -> list[tuple[float, float]]:
    """``[(training seconds so far, probe accuracy)]`` after each epoch: ``fit`` for one
    epoch, then one more epoch at a time on the learner's own loss."""
    points, elapsed = [], 0.0
    for epoch in range(epochs):
        t0 = time.perf_counter()
        learner.fit(x) if epoch == 0 else _one_more_epoch(learner, x)
        elapsed += time.perf_counter() - t0
        acc = linear_probe(learner.transform(x), y, learner.transform(xt), yt)["test_accuracy"]
        points.append((elapsed, acc))
    return points


def _one_more_epoch(learner, x) -> None:
    """Continue training ``learner``'s module for one epoch on its own loss."""
    if isinstance(learner, ImplicitEMFeatures):
        model, data = learner.module_, (x,)  # the layer normalises its own input
        loss = lambda m, b: m.objective(b[0])  # noqa: E731
    else:
        model, data = torch.nn.Sequential(learner.encoder_, learner.decoder_), (x,)
        loss = lambda m, b: sae_loss(m, b, learner.l1)  # noqa: E731
    train(model.train(), loss, data, epochs=1, batch_size=learner.batch_size, lr=learner.lr,
          progress=False)  # fmt: skip
    model.eval()


def time_to_plateau(points, tol: float = 0.005) -> tuple[float, float]:
    best = max(a for _, a in points)
    return next(t for t, a in points if a >= best - tol), best


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    a = p.parse_args(argv)
    name = "digits" if a.quick else "mnist"
    ds = image_dataset(name, 0, 8000) or image_dataset("digits", 0, 8000)
    x = torch.as_tensor(ds.X_train, dtype=torch.float32)
    xt = torch.as_tensor(ds.X_test, dtype=torch.float32)
    rows = []
    for k in (16,) if a.quick else (64, 1024):
        epochs = 3 if a.quick else 20

        iem = ImplicitEMFeatures(k, epochs=1)  # the layer's defaults
        c_iem = curve(iem, x, ds.y_train, xt, ds.y_test, epochs)
        t_iem, best_iem = time_to_plateau(c_iem)
        sae = SparseAutoencoder(k, epochs=1)
        t_sae, best_sae = time_to_plateau(curve(sae, x, ds.y_train, xt, ds.y_test, epochs))
        reach = next((t for t, acc in c_iem if acc >= best_sae), None)
        rows.append({"part": "plateau", "case": f"{name}, K = {k}, {epochs} epochs",
                     "iem_plateau": best_iem,
                     "iem_s": t_iem, "sparse_ae_plateau": best_sae, "sparse_ae_s": t_sae,
                     "ratio": t_iem / t_sae, "goal": 1.0,
                     "iem_s_to_sae_plateau": reach})  # fmt: skip
    report("plateau-quick" if a.quick else "plateau", rows, {"quick": a.quick})
    return rows


if __name__ == "__main__":
    main()
