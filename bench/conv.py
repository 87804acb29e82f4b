"""Benchmark: one implicit-EM conv layer's training epoch against SoftHebb's conv layer
of the same shape.

    python bench/conv.py [--quick]

The first block of SoftHebb's network (96 filters of 5 x 5, padding 2, on 28 x 28
one-channel images, the pool after it), trained as each is trained in the experiment
``conv``: :class:`~implicit_em.layers.ImplicitEMConv2d` by Adam on its objective at
batch 64, :class:`~implicit_em.baselines.SoftHebbConv2d` by its Hebbian step at the
authors' batch 10; also the implicit-EM layer at batch 10 (the same batches). Rounds
alternate the learners on the same images (MNIST's training images under ``IEM_DATA``;
random images of the same shape without them); the time per image is the median over
rounds, the epoch time that times 60,000. Goal: the ratio at the experiment's batch
sizes <= 1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import report
from implicit_em.baselines import SoftHebbConv2d
from implicit_em.baselines.softhebb_conv import SOFTHEBB_LAYERS
from implicit_em.layers import ImplicitEMConv2d

EPOCH = 60_000


def _images(n: int) -> tuple[torch.Tensor, str]:
    from implicit_em.data import find_mnist, load_dataset

    found = find_mnist()
    if found is not None and found[1]:
        ds = load_dataset("mnist", download=False, n_train=n, n_test=10)
        return torch.as_tensor(ds.X_train).view(-1, 1, 28, 28), "MNIST training images"
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)), "random"


def _per_image(step, x: torch.Tensor, batch: int) -> float:
    """Seconds per image of ``step(batch)`` over ``x`` (the first batch is warm-up)."""
    batches = x.split(batch)
    step(batches[0])
    t0 = time.perf_counter()
    for b in batches[1:]:
        step(b)
    return (time.perf_counter() - t0) / sum(len(b) for b in batches[1:])


def _iem_step(seed: int):
    torch.manual_seed(seed)
    spec = SOFTHEBB_LAYERS[0]
    layer = ImplicitEMConv2d(1, spec["out_channels"], spec["kernel_size"], padding=spec["padding"],
                             pool=spec["pool"], input_norm="batch")  # fmt: skip
    opt = torch.optim.Adam(layer.parameters(), lr=1e-3)

    def step(b):
        loss = torch.stack(list(layer.objective(b).values())).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def _softhebb_step(seed: int):
    block = SoftHebbConv2d(1, seed=seed, **SOFTHEBB_LAYERS[0])
    return block.learn


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    a = p.parse_args(argv)
    n, rounds = (140, 2) if a.quick else (2000, 3)
    x, source = _images(n)
    times: dict[str, list[float]] = {"iem_64": [], "iem_10": [], "softhebb_10": []}
    for r in range(rounds):
        times["iem_64"].append(_per_image(_iem_step(r), x, 64))
        times["softhebb_10"].append(_per_image(_softhebb_step(r), x, 10))
        times["iem_10"].append(_per_image(_iem_step(r), x, 10))
    per = {k: statistics.median(v) for k, v in times.items()}
    rows = [
        {"part": "epoch", "case": f"{name}, batch {batch}", "ms_per_image": 1e3 * per[key],
         "epoch_s": EPOCH * per[key], "ratio": per[key] / per["softhebb_10"],
         "goal": 1.0 if key == "iem_64" else None}
        for name, key, batch in (("implicit-EM conv (Adam)", "iem_64", 64),
                                 ("implicit-EM conv (Adam)", "iem_10", 10),
                                 ("SoftHebb conv (Hebbian)", "softhebb_10", 10))
    ]  # fmt: skip
    meta = {"quick": a.quick, "images": source, "rounds": rounds, "images_per_round": n,
            "layer": "96 filters 5x5, padding 2, 28x28x1, pool max 4/2/1"}  # fmt: skip
    report("conv-quick" if a.quick else "conv", rows, meta)
    return rows


if __name__ == "__main__":
    main()
