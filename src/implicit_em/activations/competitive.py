r"""Competitive activations: element-wise outputs whose Jacobian couples units.

An element-wise activation has a diagonal Jacobian: units never compete. These
activations normalise over alternatives (units along ``dim``, or groups of ``G`` units),
so raising one unit's input lowers the others' share -- the backward pass carries
responsibilities, as in the E-step of EM (claims C15, C21 in :mod:`implicit_em.claims`).

==============================  ==================================================
function (module)               Jacobian ``J_ij = d a_i / d z_j`` (within a group)
==============================  ==================================================
``solu`` (``SoLU``)             ``delta_ij s_i + z_i s_i (delta_ij - s_j) / T``
``neg_log_softmin``             ``delta_ij - r_j`` with ``r = softmin(z / T)``
``grouped_softmax``             ``s_i (delta_ij - s_j) / T`` inside each group, 0 across
``grouped_solu``                SoLU's form inside each group, 0 across groups
``lwta`` (hard)                 ``delta_ij m_i`` (winner mask ``m``); straight-through:
                                grouped SoLU's Jacobian
``maxout``                      one-hot on the group's arg-max (``K/G`` outputs)
==============================  ==================================================

with ``s = softmax(z / T)`` over the alternatives and ``T`` the temperature (a number,
checked to be finite and > 0, or a tensor used as given).
Every module stores its hyper-parameters, calls its function in ``forward`` and exposes
``em_responsibilities(z)`` (the normalised responsibilities, alternatives on the last
axis) and ``em_soft`` (whether an LSE normalisation shapes its gradient; hard LWTA and
maxout are zero-temperature competition) so that
:func:`implicit_em.diagnostics.em_structure` finds it. The soft ones also give
``jacobian_diagonal(z)``, the self-derivatives ``d a_i / d z_i`` in closed form (one
pass instead of ``K`` backward passes for the full Jacobian).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from typing_extensions import override

from .._checks import check_temperature, check_tensor, normalize_dim

__all__ = [
    "LWTA",
    "GroupedSoLU",
    "GroupedSoftmax",
    "Maxout",
    "NegLogSoftmin",
    "SoLU",
    "grouped_softmax",
    "grouped_solu",
    "lwta",
    "maxout",
    "neg_log_softmin",
    "solu",
]


def _check_group_size(group_size) -> int:
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"group_size must be an integer >= 1, got {group_size!r}")
    return group_size


def _groups(z: torch.Tensor, group_size: int, dim: int) -> tuple[torch.Tensor, int]:
    """View ``z`` with ``dim`` split into ``(K / G, G)``; returns the view and its group axis."""
    check_tensor(z, "z", min_ndim=1, meta_ok=True)
    dim = normalize_dim(dim, z.ndim)
    _check_group_size(group_size)
    k = z.shape[dim]
    if k % group_size:
        raise ValueError(
            f"group_size={group_size} must divide the size {k} of z along dim={dim}; valid group "
            f"sizes: {[g for g in range(1, k + 1) if k % g == 0]}"
        )
    shape = (*z.shape[:dim], k // group_size, group_size, *z.shape[dim + 1 :])
    return z.reshape(shape), dim + 1


def _winners(g: torch.Tensor, axis: int) -> torch.Tensor:
    """One-hot mask of each group's arg-max (first one on ties)."""
    return torch.zeros_like(g).scatter_(axis, g.argmax(axis, keepdim=True), 1.0)


def solu(z: torch.Tensor, dim: int = -1, temperature: float | torch.Tensor = 1.0) -> torch.Tensor:
    r"""Softmax linear unit ``a = z * softmax(z / T)`` (Elhage et al. 2022).

    Keeps the magnitude of ``z`` while the softmax makes units compete for it.

    Shape: any; output like ``z``.

    Examples:
        >>> solu(torch.tensor([1.0, 1.0]))
        tensor([0.5000, 0.5000])
    """
    check_tensor(z, "z", min_ndim=1, meta_ok=True)
    dim = normalize_dim(dim, z.ndim)
    return z * torch.softmax(z / check_temperature(temperature, "temperature", tensor_ok=True), dim)


def neg_log_softmin(
    z: torch.Tensor, dim: int = -1, temperature: float | torch.Tensor = 1.0
) -> torch.Tensor:
    r"""``-T log softmin(z / T) = z + T log sum_k exp(-z_k / T)`` (distances in, distances out).

    Every output is the input minus a shared soft-minimum, so relative distances are
    kept and ``a_j`` is the per-alternative loss ``-log r_j`` (``T = 1``). For scores,
    ``log_softmax(s) = -neg_log_softmin(-s)``.
    """
    check_tensor(z, "z", min_ndim=1, meta_ok=True)
    dim = normalize_dim(dim, z.ndim)
    t = check_temperature(temperature, "temperature", tensor_ok=True)
    return z + t * torch.logsumexp(-z / t, dim, keepdim=True)


def grouped_softmax(
    z: torch.Tensor, group_size: int, dim: int = -1, temperature: float | torch.Tensor = 1.0
) -> torch.Tensor:
    r"""Softmax inside each group of ``group_size`` consecutive units along ``dim``.

    Groups are independent: competition is local. ``group_size = K`` is the softmax,
    ``group_size = 1`` the constant 1.

    Raises:
        ValueError: ``group_size`` does not divide the size of ``dim``.
    """
    g, axis = _groups(z, group_size, dim)
    return torch.softmax(
        g / check_temperature(temperature, "temperature", tensor_ok=True), axis
    ).reshape(z.shape)


def grouped_solu(
    z: torch.Tensor, group_size: int, dim: int = -1, temperature: float | torch.Tensor = 1.0
) -> torch.Tensor:
    r"""Magnitude-keeping grouped competition ``z * grouped_softmax(z)``."""
    return z * grouped_softmax(z, group_size, dim, temperature)


def lwta(
    z: torch.Tensor,
    group_size: int,
    dim: int = -1,
    *,
    straight_through: bool = False,
    temperature: float | torch.Tensor = 1.0,
) -> torch.Tensor:
    r"""Local winner-take-all: in each group keep the largest unit, zero the others.

    The hard form passes gradient only to winners (the zero-temperature limit of grouped
    SoLU). With ``straight_through=True`` the forward pass is hard but the backward pass
    is that of ``grouped_solu(z, temperature)``, so losers still receive gradient.
    Ties go to the first maximal unit.
    """
    g, axis = _groups(z, group_size, dim)
    hard = z * _winners(g, axis).reshape(z.shape)
    if not straight_through:
        return hard
    soft = grouped_solu(z, group_size, dim, temperature)
    return soft + (hard - soft).detach()


def maxout(z: torch.Tensor, group_size: int, dim: int = -1) -> torch.Tensor:
    r"""Maximum over each group of ``group_size`` units (Goodfellow et al. 2013).

    Shape: ``dim`` shrinks from ``K`` to ``K / group_size``.
    """
    g, axis = _groups(z, group_size, dim)
    return g.amax(axis)


# ----------------------------------------------------------------------------- modules


class _Competitive(nn.Module):
    """Shared: ``dim`` and a fixed or learned (log-parameterised) temperature."""

    @property
    def em_soft(self) -> bool:
        """Whether an LSE normalisation shapes the gradient (read by the EM-structure map)."""
        return True

    def __init__(
        self,
        dim: int = -1,
        temperature: float | torch.Tensor = 1.0,
        learn_temperature: bool = False,
    ):
        super().__init__()
        check_temperature(temperature, "temperature")
        self.dim = dim
        self.learn_temperature = learn_temperature
        if learn_temperature:
            self.log_temperature = nn.Parameter(torch.tensor(math.log(temperature)))
        else:
            self.register_buffer("log_temperature", torch.tensor(math.log(temperature)))

    @property
    def temperature(self) -> torch.Tensor:
        return self.log_temperature.exp()

    def extra_repr(self) -> str:
        learned = ", learned" if self.learn_temperature else ""
        return f"dim={self.dim}, temperature={float(self.temperature.detach()):.4g}{learned}"


class SoLU(_Competitive):
    """Module form of :func:`solu`; ``layer_norm=num_features`` appends a LayerNorm."""

    def __init__(
        self,
        dim: int = -1,
        temperature: float | torch.Tensor = 1.0,
        learn_temperature: bool = False,
        layer_norm: int = 0,
    ):
        super().__init__(dim, temperature, learn_temperature)
        self.norm = nn.LayerNorm(layer_norm) if layer_norm else None

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        a = solu(z, self.dim, self.temperature)
        return self.norm(a) if self.norm is not None else a

    def em_responsibilities(self, z: torch.Tensor) -> torch.Tensor:
        """``softmax(z / T)`` along ``dim``, moved last: the responsibilities SoLU weights by."""
        return torch.softmax(z / self.temperature, self.dim).movedim(self.dim, -1)

    def jacobian_diagonal(self, z: torch.Tensor) -> torch.Tensor:
        """``d a_i / d z_i = s_i + z_i s_i (1 - s_i) / T``, shape like ``z``."""
        if self.norm is not None:
            raise NotImplementedError("the LayerNorm couples every unit: use torch.func.jacrev")
        t = self.temperature
        s = torch.softmax(z / t, self.dim)
        return s + z * s * (1 - s) / t


class NegLogSoftmin(_Competitive):
    """Module form of :func:`neg_log_softmin`."""

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return neg_log_softmin(z, self.dim, self.temperature)

    def em_responsibilities(self, z: torch.Tensor) -> torch.Tensor:
        """``softmax(-z / T)`` along ``dim``, moved last: ``z`` as distances."""
        return torch.softmax(-z / self.temperature, self.dim).movedim(self.dim, -1)

    def jacobian_diagonal(self, z: torch.Tensor) -> torch.Tensor:
        """``d a_i / d z_i = 1 - r_i`` with ``r = softmin(z / T)``, shape like ``z``."""
        return 1 - torch.softmax(-z / self.temperature, self.dim)


class _Grouped(_Competitive):
    def __init__(self, group_size: int, dim=-1, temperature=1.0, learn_temperature=False):
        super().__init__(dim, temperature, learn_temperature)
        self.group_size = _check_group_size(group_size)

    def em_responsibilities(self, z):
        g, axis = _groups(z, self.group_size, self.dim)
        return torch.softmax(g / self.temperature, axis).movedim(axis, -1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, " + super().extra_repr()


class GroupedSoftmax(_Grouped):
    """Module form of :func:`grouped_softmax`."""

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return grouped_softmax(z, self.group_size, self.dim, self.temperature)

    def jacobian_diagonal(self, z: torch.Tensor) -> torch.Tensor:
        """``d a_i / d z_i = s_i (1 - s_i) / T`` (``s``: the group's softmax)."""
        s = self(z)
        return s * (1 - s) / self.temperature


class GroupedSoLU(_Grouped):
    """Module form of :func:`grouped_solu`."""

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return grouped_solu(z, self.group_size, self.dim, self.temperature)

    def jacobian_diagonal(self, z: torch.Tensor) -> torch.Tensor:
        """``d a_i / d z_i = s_i + z_i s_i (1 - s_i) / T`` (``s``: the group's softmax)."""
        t = self.temperature
        s = grouped_softmax(z, self.group_size, self.dim, t)
        return s + z * s * (1 - s) / t


class LWTA(_Grouped):
    """Module form of :func:`lwta` (responsibilities: the hard winner masks)."""

    def __init__(
        self,
        group_size: int,
        dim: int = -1,
        straight_through: bool = False,
        temperature: float | torch.Tensor = 1.0,
        learn_temperature: bool = False,
    ):
        super().__init__(group_size, dim, temperature, learn_temperature)
        self.straight_through = straight_through

    @property
    def em_soft(self) -> bool:  # the straight-through backward is grouped SoLU's
        """Whether an LSE normalisation shapes the gradient (with the straight-through backward,
        grouped SoLU's does)."""
        return self.straight_through

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return lwta(
            z,
            self.group_size,
            self.dim,
            straight_through=self.straight_through,
            temperature=self.temperature,
        )

    @override
    def em_responsibilities(self, z: torch.Tensor) -> torch.Tensor:
        g, axis = _groups(z, self.group_size, self.dim)
        return _winners(g, axis).movedim(axis, -1)

    @override
    def extra_repr(self) -> str:
        return super().extra_repr() + (", straight_through" if self.straight_through else "")


class Maxout(nn.Module):
    """Module form of :func:`maxout` (responsibilities: one-hot arg-max per group)."""

    em_soft = False

    def __init__(self, group_size: int, dim: int = -1):
        super().__init__()
        self.group_size, self.dim = _check_group_size(group_size), dim

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return maxout(z, self.group_size, self.dim)

    def em_responsibilities(self, z: torch.Tensor) -> torch.Tensor:
        """One-hot arg-max per group, moved last (maxout's hard responsibilities)."""
        g, axis = _groups(z, self.group_size, self.dim)
        return _winners(g, axis).movedim(axis, -1)

    @override
    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, dim={self.dim}"
