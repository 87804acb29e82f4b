"""Input checks shared by the public entry points.

Every public function validates its inputs with these helpers so that bad input fails
early with a message that states what was expected, what was given, and what to do.
"""

from __future__ import annotations

import math

import numpy as np
import torch

REDUCTIONS = ("none", "mean", "sum")

TensorLike = torch.Tensor | np.ndarray  # inputs that measurements accept and convert


def check_tensor(
    x,
    name: str,
    *,
    floating: bool = True,
    min_ndim: int = 0,
    finite: bool = False,
    meta_ok: bool = False,
) -> torch.Tensor:
    """Return ``x`` if it is a (floating-point) tensor with at least ``min_ndim`` dims.

    Tensors on the ``meta`` device (shapes without values) are refused unless
    ``meta_ok`` (functions that never read values, e.g. activations, infer shapes). With
    ``finite=True`` NaN/inf are refused too, at the cost of one reduction (see
    :func:`check_finite`).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.device.type == "meta" and not meta_ok:
        raise ValueError(
            f"{name} is on the 'meta' device and holds no values; pass a tensor on 'cpu' or "
            "'cuda' (meta tensors are for shape inference only)"
        )
    if floating and not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {x.dtype}; "
            f"convert it with {name}.float() or {name}.double()"
        )
    if x.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimension(s), got shape {tuple(x.shape)}"
        )
    if finite:
        check_finite(x, name)
    return x


def check_finite(x: torch.Tensor, name: str, *, square_rows: int = 0) -> torch.Tensor:
    """Raise ``ValueError`` if ``x`` holds NaN/inf; returns ``max |x|`` (0-dim, detached).

    One reduction and one host sync: ``aminmax`` propagates NaN and reaches inf, so
    ``max(-min x, max x) = max |x|`` answers both (without the ``|x|`` copy, which made
    ``abs().amax()`` 11x slower on an (8192, 1024) float32 tensor). With ``square_rows = n``
    it also refuses values whose squares summed over ``n`` rows would overflow ``x``'s
    dtype (batch second moments), saying to rescale or use float64.
    """
    if x.numel() == 0:
        return torch.zeros((), dtype=x.dtype, device=x.device)
    low, high = torch.aminmax(x.detach())
    peak = torch.maximum(-low, high)
    value = float(peak)
    if not math.isfinite(value):
        kind = "NaN" if math.isnan(value) else "inf"
        raise ValueError(
            f"{name} contains {kind}; expected finite values (check the inputs, or lower "
            "the learning rate if they come from a diverging model)"
        )
    if square_rows and value * value * square_rows > torch.finfo(x.dtype).max:
        raise ValueError(
            f"{name} has values up to {value:.3g}, so its batch second moments overflow "
            f"{x.dtype} (max {torch.finfo(x.dtype).max:.3g}); rescale {name} or pass it in "
            "float64"
        )
    return peak


def normalize_dim(dim: int, ndim: int, name: str = "dim") -> int:
    """Map a possibly negative ``dim`` into ``[0, ndim)`` or raise ``ValueError``."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{name} must be an int, got {type(dim).__name__}")
    if not -ndim <= dim < ndim:
        raise ValueError(
            f"{name}={dim} is out of range for a tensor with {ndim} dimension(s); "
            f"expected {name} in [{-ndim}, {ndim - 1}]"
        )
    return dim % ndim


def check_positive(value, name: str, *, tensor_ok: bool = False):
    """Return ``value`` as float if it is finite and > 0: the one check for positive
    parameters. With ``tensor_ok`` a tensor (a learned parameter such as
    ``exp(log_temperature)``) is returned as given, so no device sync happens per call."""
    if tensor_ok and isinstance(value, torch.Tensor):
        return value
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    if v <= 0:
        raise ValueError(f"{name} must be > 0 (valid range: (0, inf)), got {value!r}")
    return v


MIN_TEMPERATURE = 1e-30  # below this, d / T leaves float32's range for ordinary d


def check_temperature(value, name: str = "temperature", *, tensor_ok: bool = False):
    """A temperature: finite and ``>= MIN_TEMPERATURE`` (1e-30), else a ``ValueError``
    naming the range (a smaller one divides distances past float32's range: all-NaN
    softmax). With ``tensor_ok`` a tensor (a learned temperature) passes as given."""
    t = check_positive(value, name, tensor_ok=tensor_ok)
    if not isinstance(t, torch.Tensor) and t < MIN_TEMPERATURE:
        raise ValueError(
            f"{name} must be in [{MIN_TEMPERATURE:g}, inf), got {value!r}: smaller values "
            "divide the distances past float32's range; for hard assignments use argmin"
        )
    return t


def check_count(value, name: str, *, low: int = 1) -> int:
    """An integer ``>= low`` (not a bool), else a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_number(value, name: str, *, low: float = 0.0, strict: bool = True) -> float:
    """A finite number ``> low`` (``>= low`` with ``strict=False``), else a ``ValueError``
    naming ``name`` and the range."""
    ok = (isinstance(value, (int, float, np.floating, np.integer))
          and not isinstance(value, bool) and math.isfinite(value))  # fmt: skip
    if not ok or (value <= low if strict else value < low):
        raise ValueError(
            f"{name} must be a finite number {'>' if strict else '>='} {low:g}, got {value!r}"
        )
    return float(value)


def check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def reduce(x: torch.Tensor, reduction: str, name: str = "input") -> torch.Tensor:
    """Apply a torch-style ``reduction`` ("none" | "mean" | "sum").

    The mean of nothing is undefined (NaN in torch): it raises ``ValueError`` instead.
    """
    check_reduction(reduction)
    if reduction == "mean":
        if x.numel() == 0:
            raise ValueError(
                f"{name} has no rows to average (reduction='mean' of an empty batch is "
                "undefined); use reduction='sum' (0) or 'none', or skip empty batches"
            )
        return x.mean()
    if reduction == "sum":
        return x.sum()
    return x


def check_same_dtype(**tensors) -> None:
    """``TypeError`` naming every argument unless all tensors share one dtype."""
    dtypes = {t.dtype for t in tensors.values() if isinstance(t, torch.Tensor)}
    if len(dtypes) > 1:
        got = ", ".join(f"{k} {t.dtype}" for k, t in tensors.items() if isinstance(t, torch.Tensor))
        raise TypeError(f"{', '.join(tensors)} must share one dtype, got {got}")


def check_conv_geometry(in_channels, kernel_size, padding) -> tuple[int, int, int]:
    """``(in_channels, kernel_size, padding)`` as ints: counts, ``padding >= 0`` and below
    ``kernel_size`` (more only adds patches of zeros), else a ``ValueError`` saying so."""
    channels, kernel = (
        check_count(in_channels, "in_channels"),
        check_count(kernel_size, "kernel_size"),
    )
    pad = check_count(padding, "padding", low=0)
    if pad >= kernel:
        raise ValueError(f"padding must be below kernel_size ({kernel}): more only adds "
                         f"patches of zeros, got {padding!r}")  # fmt: skip
    return channels, kernel, pad


def check_images(
    x: torch.Tensor, channels: int, kernel_size: int, padding: int, *, learning: bool = False
) -> None:
    """``x`` must be images ``(n, channels, H, W)`` whose padded sides hold one
    ``kernel_size`` patch, else a ``ValueError`` saying so; with ``learning`` also at
    least one image and no NaN/inf (what a block that learns from ``x`` needs)."""
    check_tensor(x, "x")
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"x must be (n, {channels}, H, W), got {tuple(x.shape)}")
    if min(x.shape[2:]) + 2 * padding < kernel_size:
        raise ValueError(f"x's images ({tuple(x.shape[2:])}, padded by {padding}) are smaller "
                         f"than the {kernel_size} x {kernel_size} patch: use larger images or "
                         "a smaller kernel_size")  # fmt: skip
    if learning and len(x) == 0:
        raise ValueError("x holds no images (n = 0): pass at least one")
    if learning:
        check_finite(x, "x")
