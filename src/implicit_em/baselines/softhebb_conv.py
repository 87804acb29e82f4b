r"""SoftHebb's convolutional block (Journé et al., ICLR 2023), as its authors run it.

A block is a non-affine batch norm of the input, a convolution whose filters ``w_k``
learn by the soft winner-take-all Hebbian rule, the triangle activation
``relu(u - mean_k u)^power`` and a pooling. At every location of every image the
currents ``u = w_k . p`` (``p`` the patch, reflect-padded) compete:
``y = softmax(t_invert u)`` over the channels, made anti-Hebbian (``-y``) for every
channel but the winner. The update sums over batch x locations, by convolutions:

``Δw_k = Σ y_k p - (Σ y_k u_k) w_k``, scaled by ``1 / max|Δw|``;
``w_k += lr |‖w_k‖ - 1|^power_lr Δw_k`` (the norm-seeking rate).

Followed: ``demo.py`` (``SoftHebbConv2d``, ``DeepSoftHebb``, ``WeightNormDependentLR``)
and ``hebbconv.py`` (``HebbSoftKrotovConv2d``, its ``mode 0``) of
``NeuromorphicComputing/SoftHebb``: filters ``N(0, (25 / sqrt(C k²))²)``, one epoch at
batch 10, and the three layers of their CIFAR-10 network in :data:`SOFTHEBB_LAYERS`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from typing_extensions import override

from .._checks import check_conv_geometry, check_count, check_images, check_number
from ..layers.pool import check_pool, pool2d

# the authors' three layers (demo.py; presets.json, model 4SoftHebbCnnCIFAR):
# channels, kernel, padding, t_invert, lr, triangle power, pool (kind, size, stride, pad)
SOFTHEBB_LAYERS: tuple[dict[str, Any], ...] = (
    {"out_channels": 96, "kernel_size": 5, "padding": 2, "t_invert": 1.0, "lr": 0.08,
     "power": 0.7, "pool": ("max", 4, 2, 1)},
    {"out_channels": 384, "kernel_size": 3, "padding": 1, "t_invert": 0.65, "lr": 0.005,
     "power": 1.4, "pool": ("max", 4, 2, 1)},
    {"out_channels": 1536, "kernel_size": 3, "padding": 1, "t_invert": 0.25, "lr": 0.01,
     "power": 1.0, "pool": ("avg", 2, 2, 0)},
)  # fmt: skip


def softhebb_conv_update(
    w: torch.Tensor, x: torch.Tensor, t_invert: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ΔW / max|ΔW|, u)`` for one mini-batch of padded inputs, stride 1:
    ``(K, C, k, k), (n, C, H, W) -> (K, C, k, k), (n, K, H', W')``."""
    u = F.conv2d(x, w)
    s = torch.softmax(t_invert * u, dim=1)
    winner = F.one_hot(u.argmax(1), u.shape[1]).permute(0, 3, 1, 2).to(u.dtype)
    y = s * (2 * winner - 1)  # Hebbian for the winner, anti-Hebbian for the rest
    yx = F.conv2d(x.transpose(0, 1), y.transpose(0, 1)).transpose(0, 1)  # Σ y p
    yu = (y * u).sum((0, 2, 3))
    dw = yx - yu[:, None, None, None] * w
    return dw / (dw.abs().amax() + 1e-30), u


def triangle(u: torch.Tensor, power: float) -> torch.Tensor:
    """SoftHebb's activation ``relu(u - mean_channels u)^power`` on ``(n, K, H, W)``."""
    return torch.relu(u - u.mean(1, keepdim=True)) ** power


class SoftHebbConv2d(nn.Module):
    """One SoftHebb block: batch norm, Hebbian convolution, triangle, pool.

    Args:
        in_channels: the input's channels ``C``.
        out_channels: the filters ``K``.
        kernel_size: the patch side ``k``.
        padding: reflect padding on each side.
        t_invert: the soft winner-take-all's inverse temperature.
        lr: the rate's scale (``lr |‖w‖ - 1|^power_lr``).
        power_lr: its exponent.
        radius: the initial scale, filters ``N(0, (radius / sqrt(C k²))²)``.
        power: the triangle's exponent.
        pool: ``None`` or ``(kind, size, stride, padding)``.
        seed: seeds the filters.

    Shape:
        input ``(n, C, H, W)``; output ``(n, K, H', W')`` after the pool.

    Examples:
        >>> block = SoftHebbConv2d(1, 8, 5, padding=2)
        >>> block.learn(torch.rand(10, 1, 12, 12))
        >>> block.eval()(torch.rand(2, 1, 12, 12)).shape
        torch.Size([2, 8, 6, 6])
    """

    weight: torch.Tensor  # the filters (K, C, k, k), a buffer: they learn by the rule

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *,
                 padding: int = 0, t_invert: float = 1.0, lr: float = 0.08,
                 power_lr: float = 0.5, radius: float = 25.0, power: float = 0.7,
                 pool: tuple | None = ("max", 4, 2, 1), seed: int = 0):  # fmt: skip
        super().__init__()
        self.in_channels, self.kernel_size, self.padding = check_conv_geometry(
            in_channels, kernel_size, padding
        )
        self.t_invert = check_number(t_invert, "t_invert")
        self.lr = check_number(lr, "lr")
        self.power_lr = check_number(power_lr, "power_lr", strict=False)
        self.power = check_number(power, "power")
        self.pool = check_pool(pool)
        fan_in = in_channels * kernel_size**2
        g = torch.Generator().manual_seed(seed)
        scale = check_number(radius, "radius") / math.sqrt(fan_in)
        shape = (check_count(out_channels, "out_channels"), in_channels, kernel_size, kernel_size)
        self.register_buffer("weight", scale * torch.randn(shape, generator=g))
        self.norm = nn.BatchNorm2d(in_channels, affine=False)

    @property
    def out_channels(self) -> int:
        """The filters ``K``."""
        return self.weight.shape[0]

    def _padded(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.in_channels, self.kernel_size, self.padding, learning=True)
        if x.dtype != self.weight.dtype:
            raise TypeError(f"x has dtype {x.dtype} but the filters are {self.weight.dtype}: "
                            "convert one of them")  # fmt: skip
        p = self.padding
        if p and min(x.shape[-2:]) <= p:
            raise ValueError(f"x's images are {tuple(x.shape[-2:])}: reflect padding of "
                             f"{p} needs sides above {p}; use larger images or less "
                             "padding")  # fmt: skip
        return F.pad(self.norm(x), (p, p, p, p), "reflect") if p else self.norm(x)

    @torch.no_grad()
    def learn(self, x: torch.Tensor) -> None:
        """One Hebbian step on the mini-batch ``x`` (the batch norm in training mode, as
        the authors' unsupervised epoch)."""
        self.train()
        w = self.weight.float()  # a half-precision module learns in float32 (its sums
        dw, _ = softhebb_conv_update(w, self._padded(x).float(), self.t_invert)  # overflow)
        norm = w.flatten(1).norm(dim=1)
        rate = self.lr * ((norm - 1).abs() + 1e-10) ** self.power_lr
        w += rate[:, None, None, None] * dw
        if not bool(torch.isfinite(w).all()):
            raise FloatingPointError(self._diverged("its filters hold NaN/inf"))
        if not bool(torch.isfinite(w.to(self.weight.dtype)).all()):
            raise FloatingPointError(
                f"{type(self).__name__}'s filters reach {float(w.abs().max()):.3g}, beyond "
                f"{self.weight.dtype}'s range: keep the module in float32 (.float())"
            )
        self.weight.copy_(w)

    def _diverged(self, what: str) -> str:
        return (
            f"{self!r} diverged: {what}; a rate, exponent or scale among lr, power_lr, "
            "radius and power is too large for the data: lower it"
        )

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = F.conv2d(self._padded(x), self.weight)
        out = pool2d(triangle(u, self.power), self.pool)
        if not bool(torch.isfinite(out).all()):
            raise FloatingPointError(self._diverged("its features hold NaN/inf"))
        return out

    @override
    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"padding={self.padding}, t_invert={self.t_invert}, lr={self.lr}, "
                f"power={self.power}, pool={self.pool}")  # fmt: skip
