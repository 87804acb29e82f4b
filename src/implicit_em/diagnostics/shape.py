r"""Shape of a scalar activation: oddness, monotonicity, limits, redescending, and the
nearest standard activation ``a g(b z)`` (tanh, ReLU, ...).

A measurement, not an activation: it evaluates any ``fn`` on a float64 grid (for example
the posterior statistics of :mod:`implicit_em.activations.derived`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

STANDARD_ACTIVATIONS: dict[str, Callable] = {
    "tanh": torch.tanh,
    "softsign": nn.functional.softsign,
    "hardtanh": nn.functional.hardtanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "silu": nn.functional.silu,
    "gelu": nn.functional.gelu,
    "softplus": nn.functional.softplus,
    "softshrink": nn.functional.softshrink,
    "identity": lambda z: z,
}


def nearest_standard(
    fn: Callable[[torch.Tensor], torch.Tensor],
    z_range: tuple[float, float] = (-10.0, 10.0),
    n: int = 2001,
    candidates: dict[str, Callable] | None = None,
) -> dict:
    """The standard activation ``a g(b z)`` closest to ``fn`` on ``z_range``.

    ``a, b`` are fitted by least squares for every candidate (several starts); the one
    with the smallest *maximum* error wins. Returns ``name``, ``a``, ``b``,
    ``max_error`` and ``errors`` (max error of every candidate).
    """
    from scipy.optimize import least_squares

    candidates = candidates or STANDARD_ACTIVATIONS
    z = torch.linspace(z_range[0], z_range[1], n, dtype=torch.float64)
    with torch.no_grad():
        f = fn(z).double().numpy()
    scale = max(float(np.abs(f).max()), 1e-12)
    errors: dict[str, float] = {}
    fits: dict[str, np.ndarray] = {}
    for name, g in candidates.items():

        def resid(p, g=g):
            with torch.no_grad():
                return p[0] * g(p[1] * z).numpy() - f

        for b0 in (0.3, 1.0, 3.0):
            gz = np.abs(g(b0 * z).numpy()).max()
            sol = least_squares(resid, x0=[scale / max(gz, 1e-12), b0], method="lm")
            err = float(np.abs(resid(sol.x)).max())
            if name not in fits or err < errors[name]:
                errors[name], fits[name] = err, sol.x
    name = min(errors, key=errors.__getitem__)
    return {
        "name": name,
        "a": float(fits[name][0]),
        "b": float(fits[name][1]),
        "max_error": errors[name],
        "errors": errors,
    }


def properties(
    fn: Callable[[torch.Tensor], torch.Tensor],
    z_range: tuple[float, float] = (-10.0, 10.0),
    n: int = 4001,
    tol: float = 1e-9,
) -> dict:
    r"""Shape properties of a scalar activation ``fn`` (evaluated in float64).

    Returns:
        ``odd`` (and ``odd_error``), ``monotone`` (``"increasing"``, ``"non-decreasing"``,
        ``"decreasing"``, ``"non-increasing"`` or ``"no"``), ``limit_pos``/``limit_neg``
        (value at ``z = +-1e12`` when converged from ``1e9``, ``+-inf`` when unbounded,
        ``nan`` when neither), ``bounded``, ``redescending`` (not monotone, and its far
        limits are smaller in magnitude than its peak), ``min_abs_grad`` and
        ``zero_grad_fraction`` (share of ``z_range`` where the gradient is exactly zero,
        i.e. ``<= 1e-15`` of the scale), ``peak_z`` (arg-max of ``|f|``) and ``nearest``
        (see :func:`nearest_standard`).

    Examples:
        >>> p = properties(torch.tanh)
        >>> p["odd"], p["monotone"], p["limit_pos"], p["nearest"]["name"]
        (True, 'increasing', 1.0, 'tanh')
    """
    z = torch.linspace(z_range[0], z_range[1], n, dtype=torch.float64, requires_grad=True)
    f = fn(z)
    (grad,) = torch.autograd.grad(f.sum(), z)
    f, grad, zd = f.detach(), grad.detach(), z.detach()
    scale = max(float(f.abs().max()), 1e-12)
    with torch.no_grad():
        odd_error = float((fn(zd) + fn(-zd)).abs().max()) / scale
        far = torch.tensor([1e3, 1e6, 1e9, 1e12], dtype=torch.float64)
        pos, neg = fn(far), fn(-far)

    def limit(v):
        last, prev = float(v[-1]), float(v[-2])
        if abs(last) > 1e4 and abs(last) > abs(prev):
            return math.copysign(math.inf, last)
        if abs(last - prev) <= 1e-6 * (1 + abs(last)):
            return last
        return math.nan

    diffs = f[1:] - f[:-1]
    slack = tol * scale
    if bool((diffs > 0).all()):
        monotone = "increasing"
    elif bool((diffs >= -slack).all()):
        monotone = "non-decreasing"
    elif bool((diffs < 0).all()):
        monotone = "decreasing"
    elif bool((diffs <= slack).all()):
        monotone = "non-increasing"
    else:
        monotone = "no"
    lim_pos, lim_neg = limit(pos), limit(neg)
    peak = int(f.abs().argmax())
    far_abs = max(
        abs(lim_pos) if math.isfinite(lim_pos) else math.inf,
        abs(lim_neg) if math.isfinite(lim_neg) else math.inf,
    )
    redescending = monotone == "no" and far_abs < float(f.abs().max()) * (1 - 1e-3)
    return {
        "odd": odd_error < 1e-9,
        "odd_error": odd_error,
        "monotone": monotone,
        "limit_pos": lim_pos,
        "limit_neg": lim_neg,
        "bounded": math.isfinite(lim_pos) and math.isfinite(lim_neg),
        "redescending": bool(redescending),
        "min_abs_grad": float(grad.abs().min()),
        "zero_grad_fraction": float((grad.abs() <= 1e-15 * scale).double().mean()),
        "peak_z": float(zd[peak]),
        "nearest": nearest_standard(fn, z_range),
    }
