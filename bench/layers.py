"""Benchmark: one training step of an implicit-EM layer against a sparse autoencoder's.

    python bench/layers.py [--quick]

``ImplicitEMLayer(784, 256)`` with the LSE term + Gaussian InfoMax (covariance) vs a
same-width sparse ReLU autoencoder 784 -> 256 -> 784 (MSE + L1), what a user would pick
instead: forward, backward and an Adam step at batch 512, in the same process (median
of torch's Timer). Goal: <= 0.6x. The FLOP ratio it is measured against: the encoder's
``2 n D K`` matmul and ``2 n K^2`` covariance, times 3 for forward + backward, against
the autoencoder's two ``2 n D K`` matmuls, times 3.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_seconds, report
from implicit_em.layers import ImplicitEMLayer


class SparseAutoencoder(nn.Module):
    def __init__(self, d: int, k: int, l1: float = 1e-3):
        super().__init__()
        self.enc, self.dec, self.l1 = nn.Linear(d, k), nn.Linear(k, d), l1

    def loss(self, x):
        h = torch.relu(self.enc(x))
        return nn.functional.mse_loss(self.dec(h), x) + self.l1 * h.abs().sum(1).mean()


def _step(model, loss, x):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss(x).backward()
        opt.step()

    return step


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    a = p.parse_args(argv)
    n, d, k, run = (64, 784, 32, 0.1) if a.quick else (512, 784, 256, 2.0)
    torch.manual_seed(0)
    x = torch.randn(n, d)
    layer = ImplicitEMLayer(d, k, objective="infomax")
    sae = SparseAutoencoder(d, k)
    t_iem = median_seconds(_step(layer, lambda b: sum(layer.objective(b).values()), x), run)
    t_sae = median_seconds(_step(sae, sae.loss, x), run)
    flops_iem = 3 * (2 * n * d * k + 2 * n * k * k)
    flops_sae = 3 * (2 * 2 * n * d * k)
    rows = [
        {
            "part": "step",
            "case": f"step, batch {n}, {d}->{k}",
            "iem_ms": 1e3 * t_iem,
            "sparse_ae_ms": 1e3 * t_sae,
            "ratio": t_iem / t_sae,
            "flop_ratio": flops_iem / flops_sae,
            "goal": 0.6,
        }
    ]
    report("layers-quick" if a.quick else "layers", rows, {"quick": a.quick})
    return rows


if __name__ == "__main__":
    main()
