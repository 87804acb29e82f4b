"""Input checks of :class:`~implicit_em.mixture.GaussianMixture` for torch tensors, and
the device and dtype a fit computes in (NumPy input goes through scikit-learn)."""

from __future__ import annotations

import numpy as np
import torch


def check_torch_samples(X: torch.Tensor, reset: bool, n_features_in: int | None) -> torch.Tensor:
    """``X`` as a detached ``(n_samples, n_features)`` tensor of finite real values, with
    scikit-learn's messages; ``reset`` (a fit) needs 2 samples, otherwise the fitted
    ``n_features_in`` must match."""
    if X.device.type == "meta":
        raise ValueError(
            "X is on the 'meta' device and holds no values; GaussianMixture needs "
            "real data (move it to 'cpu' or 'cuda')"
        )
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2D input X (n_samples, n_features), got {X.ndim}D; reshape a "
            "single feature with X.reshape(-1, 1) or a single sample with X.reshape(1, -1)"
        )
    if X.is_complex():
        raise TypeError(f"X must be real, got dtype {X.dtype}")
    X = X.detach()  # the fit is not differentiable: never build a graph through it
    if reset and X.shape[0] < 2:
        raise ValueError(
            f"X has {X.shape[0]} sample(s) (shape={tuple(X.shape)}) while a minimum of 2 "
            "is required by GaussianMixture."
        )
    if X.shape[1] < 1:
        raise ValueError(
            f"X has 0 feature(s) (shape={tuple(X.shape)}) while a minimum of 1 is "
            "required by GaussianMixture."
        )
    if not bool(torch.isfinite(X).all()):
        raise ValueError("Input X contains NaN or infinity")
    if not reset and X.shape[1] != n_features_in:
        raise ValueError(
            f"X has {X.shape[1]} features, but GaussianMixture is expecting "
            f"{n_features_in} features as input"
        )
    return X


def compute_options(X, device, dtype) -> tuple[torch.device, torch.dtype]:
    """The device and dtype of the computation: the given ones, else the input's
    (float32 for half-precision or NumPy float32 input, float64 for NumPy float64)."""
    is_torch = isinstance(X, torch.Tensor)
    device = (
        torch.device(device)
        if device is not None
        else (X.device if is_torch else torch.device("cpu"))
    )
    if device.type == "meta":
        raise ValueError(
            "GaussianMixture cannot fit on the 'meta' device (it holds no values); "
            "set device='cpu' or 'cuda'"
        )
    if dtype is not None:
        try:
            resolved = (
                dtype if isinstance(dtype, torch.dtype) else getattr(torch, np.dtype(dtype).name)
            )
        except (TypeError, AttributeError):
            resolved = None
        if resolved not in (torch.float32, torch.float64):
            raise TypeError(
                f"dtype must be float32 or float64 (or None), got {dtype!r}; "
                "half-precision input is computed in float32 automatically"
            )
        return device, resolved
    if is_torch:
        resolved = X.dtype if X.is_floating_point() else torch.get_default_dtype()
        if resolved in (torch.float16, torch.bfloat16):
            resolved = torch.float32  # Cholesky, logdet and EM sums need float32 at least
        return device, resolved
    return device, torch.float64 if X.dtype == np.float64 else torch.float32
