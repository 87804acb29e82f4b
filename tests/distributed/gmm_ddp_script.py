"""Fit GaussianMixture on this rank's shard (or on all data without torchrun).

python tests/distributed/gmm_ddp_script.py SOLVER[:OPTIMIZER] OUT.npz
python -m torch.distributed.run --nproc_per_node=2 \
    tests/distributed/gmm_ddp_script.py SOLVER OUT.npz
"""

import os
import sys

import numpy as np
import torch
import torch.distributed as dist


def main(spec, out):
    solver, _, optimizer = spec.partition(":")
    from implicit_em.mixture import GaussianMixture

    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(-2, 1, (150, 3)), rng.normal(2, 0.6, (150, 3))]
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("gloo")
        X = np.array_split(X, world)[dist.get_rank()]
    gm = GaussianMixture(
        2,
        solver=solver,
        max_iter=15,
        tol=0.0,
        weights_init=[0.5, 0.5],
        means_init=[[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]],
        precisions_init=np.stack([np.eye(3)] * 2),
        optimizer=optimizer or "adam",
        learning_rate=None if optimizer else 0.05,
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(torch.as_tensor(X, dtype=torch.float64))
    if world == 1 or dist.get_rank() == 0:
        np.savez(
            out, means=gm.means_, cov=gm.covariances_, weights=gm.weights_, bound=gm.lower_bound_
        )
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
