"""Atomic training checkpoints: model, optimiser, scheduler, scaler, RNG, callbacks.

A checkpoint holds only plain values and tensors and is loaded with
``torch.load(weights_only=True)``, so a file cannot run code when it is read; a BLAKE2b
digest of its bytes, written after them, tells any damage, which raises
:class:`CheckpointError` before anything is unpickled.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from .._distributed import initialized
from .._io import atomic_write_bytes


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read (truncated, corrupt, or not a checkpoint)."""


# what a checkpoint may hold: plain values and tensors, so that it loads with
# ``torch.load(weights_only=True)`` (which runs no code from the file)
_PLAIN = (type(None), bool, int, float, complex, str, bytes, torch.Tensor, nn.Parameter,
          torch.dtype, torch.device)  # fmt: skip
_CONTAINERS = (dict, OrderedDict, list, tuple, torch.Size)


def _check_plain(obj: Any, where: str) -> None:
    """Raise ``TypeError`` naming the place of a value a checkpoint cannot hold."""
    if type(obj) in _PLAIN:
        return
    if type(obj) not in _CONTAINERS:
        raise TypeError(
            f"{where} is a {type(obj).__module__}.{type(obj).__qualname__}: a checkpoint "
            "holds only dicts, lists, tuples, None, bools, numbers, strings, bytes and "
            "tensors (it is loaded without running code); convert it where it is made, "
            "e.g. in a callback's state_dict (float(x), x.tolist(), torch.as_tensor(a))"
        )
    items = obj.items() if isinstance(obj, dict) else enumerate(obj)
    for k, v in items:
        if isinstance(obj, dict):
            _check_plain(k, f"{where} key {k!r}")
        _check_plain(v, f"{where}[{k!r}]")


# a checkpoint is torch.save's zip, then this tag and the BLAKE2b digest of the zip's bytes
_TAG, _DIGEST_SIZE = b"IEM-CKPT-BLAKE2B", 32


def _digest(payload: bytes | memoryview) -> bytes:
    return hashlib.blake2b(payload, digest_size=_DIGEST_SIZE).digest()


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    callbacks: Sequence[Any],
    *,
    rank: int = 0,
    settings: dict | None = None,
    **position: Any,
) -> None:
    """Write a checkpoint (rank 0 only; other ranks wait at a barrier under DDP).

    The file holds the state dicts of the model, optimiser, scheduler, grad scaler and
    callbacks, the RNG states, ``position`` (the loop's place: ``epoch``, ``batch``,
    ``step``, ``history``, ...) and ``settings`` (what a resume must match, see
    :func:`load_checkpoint`; :func:`~implicit_em.training.train` records the work's
    fingerprints there), written by ``torch.save`` and followed by a BLAKE2b digest of
    those bytes, by which :func:`load_checkpoint` tells any damage (``torch.load``
    still reads the file). The file is replaced atomically, so an interruption never
    leaves a torn checkpoint.

    Raises:
        TypeError: something to save is not a plain value (dict, list, tuple, None,
            bool, number, string, bytes) or a tensor, e.g. a NumPy array in a
            callback's ``state_dict``; the place is named. Checkpoints are loaded with
            ``weights_only=True``, which refuses other types.
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
            "settings": settings,
        }
        _check_plain(state, "the checkpoint")
        buf = io.BytesIO()
        torch.save(state, buf)
        payload = buf.getvalue()
        atomic_write_bytes(path, payload + _TAG + _digest(payload))
    if initialized():
        dist.barrier()


_STATE_KEYS = {"model", "optimizer", "scheduler", "scaler", "callbacks", "rng", "position"}


def _read(path) -> dict:
    """Check the digest, then ``torch.load(weights_only=True)``: a damaged file is never
    unpickled, and no code in a file runs. Every failure -- damage, a file naming other
    objects, not a checkpoint -- raises one clear :class:`CheckpointError` (the file is
    left in place)."""
    kept = "the file was kept: delete it to start over, or pass resume=False"
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise CheckpointError(f"checkpoint {path} cannot be read ({err})") from err
    cut = len(raw) - len(_TAG) - _DIGEST_SIZE
    if cut < 0 or raw[cut : cut + len(_TAG)] != _TAG:
        raise CheckpointError(
            f"checkpoint {path} is truncated, damaged or not a training checkpoint of this "
            f"library (it does not end with the digest that every checkpoint ends with); "
            f"{kept}"
        )
    payload = memoryview(raw)[:cut]
    if _digest(payload) != raw[cut + len(_TAG) :]:
        raise CheckpointError(
            f"checkpoint {path} is damaged: its bytes do not match the digest written "
            f"with them; {kept}"
        )
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights only load failed" not in str(err).lower():
            raise CheckpointError(f"checkpoint {path} is damaged ({err}); {kept}") from err
        why = [line.strip() for line in str(err).splitlines() if "Unsupported" in line]
        raise CheckpointError(
            f"checkpoint {path} was not written by this library: it names objects other "
            f"than tensors and plain values ({'; '.join(why[:1])}), which were not "
            f"loaded (no code in the file ran). Do not trust it; {kept}"
        ) from err
    except Exception as err:  # any other damage (OverflowError, MemoryError, ...)
        raise CheckpointError(
            f"checkpoint {path} is damaged and cannot be read ({type(err).__name__}: {err}); {kept}"
        ) from err
    if not isinstance(state, dict) or not set(state) >= _STATE_KEYS:
        raise CheckpointError(
            f"{path} is not a training checkpoint (expected keys {sorted(_STATE_KEYS)}); "
            "the file was kept: delete it or pass another checkpoint path"
        )
    return state


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: Any,
    callbacks: Sequence[Any],
    *,
    settings: dict | None = None,
    force: bool = False,
) -> dict:
    """Restore everything :func:`save_checkpoint` wrote; returns the saved ``position``.

    The file's bytes must match the digest written after them (else nothing is
    unpickled), and it is read with ``torch.load(weights_only=True)``: only tensors and
    plain values are unpickled, so a crafted file cannot run code. ``settings`` (see
    :func:`~implicit_em.training.train`: the numeric settings and the fingerprints of
    the model, loss, optimiser, schedule and data) must equal those recorded, key by
    key, unless ``force``.

    Raises:
        CheckpointError: the file is truncated or corrupt (any damage: its bytes do not
            match their digest), names objects other than tensors and plain values, or
            is not a checkpoint of this version (it is kept in every case).
        ValueError: ``settings`` differ from those recorded in the checkpoint (each
            difference named, ``"<key>: checkpoint <old>, now <new>"``; unless
            ``force``), or the number of callbacks differs.
    """
    state = _read(path)
    saved = state.get("settings")
    if not isinstance(saved, dict):
        raise CheckpointError(f"checkpoint {path} records no settings (an older or damaged "
                              "file); delete it or pass resume=False")  # fmt: skip
    if settings is not None and not force:
        differ = [
            f"{k}: checkpoint {saved.get(k)!r}, now {v!r}"
            for k, v in settings.items()
            if saved.get(k) != v
        ]
        if differ:
            raise ValueError(
                f"checkpoint {path} was written with other settings ({'; '.join(differ)}); "
                "resuming would continue another run. Use the same settings, another "
                "checkpoint path, resume=False to start over, or resume='force' to continue "
                "anyway"
            )
    if not isinstance(state["callbacks"], list):
        raise CheckpointError(f"checkpoint {path} holds no list of callback states; delete "
                              "it or pass resume=False")  # fmt: skip
    if len(state["callbacks"]) != len(callbacks):
        raise ValueError(
            f"checkpoint {path} was written with {len(state['callbacks'])} callback(s) but "
            f"{len(callbacks)} are given; pass the same callbacks or delete the checkpoint"
        )
    _same_optimizer(path, state["optimizer"], optimizer)
    try:
        _check_position(state["position"])
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
    except (TypeError, KeyError, RuntimeError, ValueError, IndexError, AttributeError) as err:
        raise CheckpointError(
            f"checkpoint {path} does not fit this model, optimiser or callbacks "
            f"({type(err).__name__}: {err}); the file was kept: delete it or pass "
            "resume=False"
        ) from err
    return state["position"]


def _same_optimizer(path, saved: Any, optimizer: torch.optim.Optimizer) -> None:
    """Another optimiser's state cannot be carried over, even under ``resume="force"``
    (Adam's step would look for SGD's missing ``betas``)."""
    groups = saved.get("param_groups") if isinstance(saved, dict) else None
    if not isinstance(groups, list) or not groups or not isinstance(groups[0], dict):
        raise CheckpointError(f"checkpoint {path} holds no optimiser state; delete it or "
                              "pass resume=False")  # fmt: skip
    skip = {"params", "initial_lr"}  # a schedule adds initial_lr: not another optimiser
    old, new = set(groups[0]) - skip, set(optimizer.param_groups[0]) - skip
    if old != new:
        raise ValueError(
            f"checkpoint {path} holds the state of another optimiser (settings "
            f"{sorted(old ^ new)} differ); resume='force' cannot carry it over: pass "
            "resume=False to start over, or the checkpoint's optimiser"
        )


def _check_position(position: Any) -> None:
    counts = ("epoch", "batch", "step")
    if not isinstance(position, dict) or not all(
        isinstance(position.get(k), int) and 0 <= position[k] < 2**62 for k in counts
    ):
        raise ValueError(f"its position must hold {', '.join(counts)} as counts >= 0")
