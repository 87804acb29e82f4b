"""Validation shared by the diagnostics: activation matrices and weight matrices."""

from __future__ import annotations

import numpy as np
import torch


def as_matrix(x, name: str = "activations", *, min_rows: int = 2) -> torch.Tensor:
    """Return ``x`` as a finite floating ``(n, k)`` tensor with ``n >= min_rows``.

    NumPy arrays are converted; integer and bool inputs become float32; float64 stays.
    """
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")
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
    if not x.is_floating_point():
        x = x.float()
    elif x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    # amin/amax propagate NaN and reach +-inf: two cheap reductions instead of isfinite()
    if x.numel() and not bool(torch.isfinite(x.amin()) & torch.isfinite(x.amax())):
        raise ValueError(f"{name} contains NaN or Inf; diagnostics need finite values")
    return x.detach()
