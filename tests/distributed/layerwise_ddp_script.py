"""Greedy layer-wise training of two implicit-EM layers; run alone or under torchrun.

    python tests/distributed/layerwise_ddp_script.py OUT.pt [conv]
    python -m torch.distributed.run --standalone --nproc_per_node=2 \\
        tests/distributed/layerwise_ddp_script.py OUT.pt [conv]

The covariance objective gathers its moments across ranks, so two ranks must end with
the weights of one process on the same global batch. Rank 0 saves the state dict.
"""

import sys

import torch
from torch import nn


def main(out, kind="dense"):
    from implicit_em.layers import ImplicitEMConv2d, ImplicitEMLayer
    from implicit_em.training import train_layerwise

    torch.manual_seed(0)
    # linear layers on the raw input: means placed from data would be rank 0's rows, not
    # the single process's first batch
    linear = {"distance": "linear", "output": "responsibilities", "objective": "infomax",
              "gather_distributed": True}  # fmt: skip
    if kind == "conv":  # the moments over batch x locations, gathered across ranks
        x = torch.randn(96, 2, 6, 6, dtype=torch.float64)
        net = nn.Sequential(ImplicitEMConv2d(2, 4, 3, pool=("avg", 2), **linear),
                            ImplicitEMConv2d(4, 3, 2, **linear)).double()  # fmt: skip
    else:
        x = torch.randn(96, 5, dtype=torch.float64)
        net = nn.Sequential(ImplicitEMLayer(5, 4, input_norm=None, **linear),
                            ImplicitEMLayer(4, 3, input_norm=None, **linear)).double()  # fmt: skip
    res = train_layerwise(net, x, epochs=2, batch_size=24, lr=1e-2, seed=3, progress=False)
    dist = torch.distributed
    if not dist.is_initialized() or dist.get_rank() == 0:
        steps = [r.steps for r in res.results]
        torch.save({"state": net.state_dict(), "steps": steps}, out)


if __name__ == "__main__":
    main(*sys.argv[1:])
