"""Atomic training checkpoints: model, optimiser, scheduler, scaler, RNG, callbacks."""

from __future__ import annotations

import io

import torch
import torch.distributed as dist

from .._io import atomic_write_bytes


def save_checkpoint(path, model, optimizer, scheduler, scaler, callbacks, *, rank=0, **position):
    """Write a checkpoint (rank 0 only; other ranks wait at a barrier under DDP).

    ``position`` holds the loop's place (``epoch``, ``batch``, ``step``, ``history``, ...).
    The file is replaced atomically, so an interruption never leaves a torn checkpoint.
    """
    if rank == 0:
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler is not None else None,
            "callbacks": [cb.state_dict() for cb in callbacks],
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "position": position,
        }
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(path, buf.getvalue())
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def load_checkpoint(path, model, optimizer, scheduler, scaler, callbacks) -> dict:
    """Restore everything :func:`save_checkpoint` wrote; returns the saved ``position``."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    if len(state["callbacks"]) != len(callbacks):
        raise ValueError(
            f"checkpoint {path} was written with {len(state['callbacks'])} callback(s) but "
            f"{len(callbacks)} are given; pass the same callbacks or delete the checkpoint"
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state["scaler"] is not None:
        scaler.load_state_dict(state["scaler"])
    for cb, cb_state in zip(callbacks, state["callbacks"], strict=True):
        cb.load_state_dict(cb_state)
    torch.set_rng_state(state["rng"])
    if state["cuda_rng"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state["position"]
