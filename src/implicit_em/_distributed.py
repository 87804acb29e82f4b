"""The one place that asks whether ``torch.distributed`` is running."""

from __future__ import annotations

import torch.distributed as dist


def initialized() -> bool:
    """A process group exists (``torch.distributed`` available and initialised)."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Processes in the group; 1 outside a distributed run."""
    return dist.get_world_size() if initialized() else 1


def distributed() -> bool:
    """More than one process: collectives are needed."""
    return world_size() > 1


def all_reduce_(*tensors, op=None) -> None:
    """Sum (or ``op``) each tensor over the ranks, in place; nothing outside a group."""
    if distributed():
        for t in tensors:
            dist.all_reduce(t, op=dist.ReduceOp.SUM if op is None else op)


def broadcast_(*tensors) -> None:
    """Overwrite each tensor with rank 0's, in place; nothing outside a group."""
    if distributed():
        for t in tensors:
            dist.broadcast(t, 0)
