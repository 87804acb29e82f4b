"""Train a small model with implicit_em.training.train; run alone or under torchrun.

    python tests/distributed/ddp_train_script.py OUT.pt
    python -m torch.distributed.run --standalone --nproc_per_node=2 \
        tests/distributed/ddp_train_script.py OUT.pt

Rank 0 saves the final state dict to OUT.pt (used by test_training.py).
"""

import sys

import torch
from torch import nn


def main(out):
    from implicit_em.training import train

    torch.manual_seed(0)
    x = torch.randn(96, 5, dtype=torch.float64)
    y = (x[:, :2].sum(1) > 0).long()
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 2)).double()

    def loss_fn(m, batch):
        return nn.functional.cross_entropy(m(batch[0]), batch[1])

    result = train(
        model,
        loss_fn,
        (x, y),
        epochs=3,
        batch_size=24,
        lr=1e-2,
        seed=7,
        progress=False,
        schedule="cosine",
    )
    dist = torch.distributed
    if not dist.is_initialized() or dist.get_rank() == 0:
        torch.save({"state": result.model.state_dict(), "steps": result.steps}, out)


if __name__ == "__main__":
    main(sys.argv[1])
