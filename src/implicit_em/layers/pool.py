"""Pooling of feature maps, as a setting: ``None``, ``(kind, size)`` or
``(kind, size, stride, padding)`` with ``kind`` ``"max"`` or ``"avg"`` (SoftHebb's
blocks pool ``("max", 4, 2, 1)``: overlapping windows)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import check_count


def pool2d(x: torch.Tensor, pool: tuple | None) -> torch.Tensor:
    """``pool``: ``None`` or ``(kind, size, stride, padding)``, kind ``"max" | "avg"``."""
    if pool is None:
        return x
    kind, size, stride, padding = pool
    if min(x.shape[-2:]) + 2 * padding < size:
        raise ValueError(
            f"the feature maps are {tuple(x.shape[-2:])}, smaller than the pool window "
            f"{size} (padding {padding}): use larger images, or a smaller pool"
        )
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    return fn(x, size, stride, padding)


def check_pool(pool: tuple | None) -> tuple | None:
    """``pool`` checked: ``None``, ``(kind, size)`` or ``(kind, size, stride, padding)``."""
    if pool is None:
        return None
    if (
        not isinstance(pool, (tuple, list))
        or len(pool) not in (2, 4)
        or pool[0]
        not in (
            "max",
            "avg",
        )
    ):
        raise ValueError(
            "pool must be None, (kind, size) or (kind, size, stride, padding) with kind "
            f"'max' or 'avg', got {pool!r}"
        )
    size = check_count(pool[1], "pool size")
    stride = size if len(pool) == 2 else check_count(pool[2], "pool stride")
    padding = 0 if len(pool) == 2 else check_count(pool[3], "pool padding", low=0)
    if 2 * padding > size:
        raise ValueError(f"pool padding must be at most half the size ({size}), got {padding}")
    return (pool[0], size, stride, padding)
