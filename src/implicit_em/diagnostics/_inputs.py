"""Validation shared by the diagnostics: activation matrices and weight matrices."""

from __future__ import annotations

import numpy as np
import torch

from .._checks import check_finite


def as_matrix(x, name: str = "activations", *, min_rows: int = 2) -> torch.Tensor:
    """Return ``x`` as a finite floating ``(n, k)`` tensor with ``n >= min_rows``, ``k >= 1``.

    NumPy arrays are converted; integer, bool and half inputs become float32; float64
    stays, and so do float32 values whose squares would overflow (they become float64).
    """
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")
    if x.device.type == "meta":
        raise ValueError(f"{name} is on the 'meta' device and holds no values")
    if x.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_units), got shape {tuple(x.shape)}; "
            "flatten other axes first, e.g. x.reshape(-1, x.shape[-1])"
        )
    if x.shape[0] < min_rows:
        raise ValueError(
            f"{name} needs at least {min_rows} rows (samples) for batch statistics, "
            f"got {x.shape[0]}"
        )
    if x.shape[1] == 0:
        raise ValueError(f"{name} has no units (columns), got shape {tuple(x.shape)}")
    if not x.is_floating_point() or x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    peak = float(check_finite(x, name))  # one reduction: NaN, inf and the scale
    if x.dtype != torch.float64 and peak * peak * x.shape[0] > torch.finfo(x.dtype).max:
        x = x.double()  # second moments of values this large overflow float32
    return x.detach()
