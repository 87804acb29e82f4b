"""Global-moment objectives on shards: rank 0 saves the loss values and the DDP-style
(rank-averaged) gradient of a linear layer; alone, the script uses the whole batch.

    python tests/distributed/objectives_ddp_script.py OUT.pt
    python -m torch.distributed.run --nproc_per_node=2 \
        tests/distributed/objectives_ddp_script.py OUT.pt
"""

import os
import sys

import torch
import torch.distributed as dist


def main(out):
    from implicit_em import objectives as O

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("gloo")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 5, generator=g, dtype=torch.float64)
    layer = torch.nn.Linear(5, 4).double()
    with torch.no_grad():
        layer.weight.copy_(torch.randn(4, 5, generator=g, dtype=torch.float64))
        layer.bias.copy_(torch.randn(4, generator=g, dtype=torch.float64))
    if world > 1:
        x = x.chunk(world)[dist.get_rank()]
    losses = {
        "gaussian": lambda z: O.gaussian_infomax(z, 0.5, gather_distributed=True),
        "correlation": lambda z: O.gaussian_infomax(z, correlation=True, gather_distributed=True),
        "decorrelation": lambda z: O.decorrelation_loss(z, gather_distributed=True),
        "log_variance": lambda z: O.log_variance_loss(z, gather_distributed=True),
        "hinge": lambda z: O.variance_hinge(z, gamma=2.0, gather_distributed=True),
        "cross": lambda z: O.cross_decorrelation_loss(z, z**2, gather_distributed=True),
    }
    result = {}
    for name, fn in losses.items():
        layer.zero_grad()
        loss = fn(layer(x))
        loss.backward()
        grad = layer.weight.grad.clone()
        if world > 1:  # what DDP does: average the parameter gradients over ranks
            dist.all_reduce(grad)
            grad /= world
        result[name] = (loss.detach(), grad)
    if world == 1 or dist.get_rank() == 0:
        torch.save(result, out)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
