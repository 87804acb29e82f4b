r"""``ImplicitEMConv2d``: an implicit-EM layer on every patch of an image.

The mixture of :class:`~implicit_em.layers.ImplicitEMLayer` -- ``K`` prototypes, distances
``d``, responsibilities ``r = softmax(-d / T)`` over the channels at each location, LSE +
volume controls -- applied to every ``k x k`` patch ``p`` of the input, by convolutions
(never an unfold in the forward pass):

* ``"linear"``: ``d = W p + b`` is ``conv2d(x, W, b)``;
* ``"euclidean"``: ``d = 1/2 ||p - w||^2 = 1/2 (||p||^2 - 2 p.w + ||w||^2)``, with
  ``||p||^2`` the convolution of ``x^2`` with a ``k x k`` window of ones; a batch whose
  expansion may have lost a location's nearest filter (far from the origin) is redone
  with pixels and filters shifted by each channel's filter mean, then in float64
  (:func:`~implicit_em.layers.distances.exactly`).

This is the mixture that Coates & Ng fit by hard EM and SoftHebb by a soft-WTA rule,
fitted here by gradient descent on the layer's own objective over batch x locations.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from typing_extensions import override

from .._checks import check_conv_geometry, check_count, check_images
from .distances import _finite, exactly
from .implicit_em_layer import ImplicitEMLayer
from .pool import check_pool, pool2d


class ImplicitEMConv2d(nn.Module):
    r"""An implicit-EM layer over the patches of an image, by convolution.

    Args:
        in_channels: the input's channels ``C``.
        out_channels: the number of prototypes (alternatives) ``K``.
        kernel_size: the patch side ``k``.
        stride: as :class:`torch.nn.Conv2d`.
        padding: as :class:`torch.nn.Conv2d` (zeros), below ``kernel_size``.
        pool: ``None``, ``(kind, size)`` or ``(kind, size, stride, padding)`` with
            ``kind`` in ``"max" | "avg"``: pooling of the output (the distances the
            objective sees are not pooled).
        input_norm: ``None`` or ``"batch"`` (each channel standardised, a non-affine
            batch norm, as SoftHebb does before each layer).
        **layer: the settings of :class:`ImplicitEMLayer` (``distance``, ``output``,
            ``temperature``, ``objective``, ``lse_weight``, ``weight_norm``, ``init``,
            ``gather_distributed``), with the same names and meanings; its ``weight`` is
            the prototypes, ``(K, C k k)``.

    Shape:
        input ``(n, C, H, W)``; distances, responsibilities and outputs
        ``(n, K, H', W')`` (after ``pool``, for the output).

    Examples:
        >>> conv = ImplicitEMConv2d(1, 4, 3)
        >>> sorted(conv.objective(torch.randn(2, 1, 8, 8)))  # the first batch places the means
        ['balance', 'lse']
        >>> conv(torch.randn(2, 1, 8, 8)).shape
        torch.Size([2, 4, 6, 6])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *,
                 stride: int = 1, padding: int = 0, pool: tuple | None = None,
                 input_norm: str | None = None, **layer: Any):  # fmt: skip
        super().__init__()
        geometry = check_conv_geometry(in_channels, kernel_size, padding)
        self.in_channels, self.kernel_size, self.padding = geometry
        self.stride = check_count(stride, "stride")
        if layer.get("distance", "euclidean") not in ("euclidean", "linear"):
            raise ValueError(f"distance must be 'euclidean' or 'linear' for a convolution, "
                             f"got {layer['distance']!r}")  # fmt: skip
        self.pool = check_pool(pool)
        if input_norm not in (None, "batch"):
            raise ValueError(f"input_norm must be None or 'batch', got {input_norm!r}")
        self.input_norm = nn.BatchNorm2d(in_channels, affine=False) if input_norm else None
        patch = in_channels * kernel_size**2
        self.layer = ImplicitEMLayer(patch, out_channels, input_norm=None, **layer)

    @property
    def out_channels(self) -> int:
        """The number of prototypes ``K``."""
        return self.layer.out_features

    def _filters(self) -> torch.Tensor:
        return self.layer.weight.view(self.out_channels, self.in_channels, self.kernel_size,
                                      self.kernel_size)  # fmt: skip

    def distances(self, x: torch.Tensor) -> torch.Tensor:
        """``d`` ``(n, K, H', W')`` at every patch (after ``input_norm``)."""
        check_images(x, self.in_channels, self.kernel_size, self.padding)
        if x.dtype != self.layer.weight.dtype:
            raise TypeError(f"x has dtype {x.dtype} but the parameters are "
                            f"{self.layer.weight.dtype}: convert one of them")  # fmt: skip
        if self.input_norm is not None:
            x = self.input_norm(x)
        layer = self.layer
        if layer.training and not layer.means_placed:  # distinct patches, blank ones last
            patches = F.unfold(x, self.kernel_size, padding=self.padding, stride=self.stride)
            rows = patches.transpose(1, 2).reshape(-1, patches.shape[1])
            layer.place_means(rows[torch.randperm(len(rows))], informative_first=True)
        w = self._filters()
        if layer.distance == "linear":
            return _finite(self._conv(x, w, layer.bias), x)
        return _finite(0.5 * exactly(self._expansion, x, w).clamp_min(0), x)

    def _expansion(self, x: torch.Tensor, w: torch.Tensor, *, centre: bool) -> tuple:
        """``(2d, ||p||^2, ||w||^2, C k k)`` at every patch (around the filters' centre
        with ``centre``)."""
        pad = None
        if centre:
            x, w = self._centred(x, w)
            pad = 0  # the images are padded already
        ones = x.new_ones(1, self.in_channels, self.kernel_size, self.kernel_size)
        pp = self._conv(x.square(), ones, padding=pad)  # ||p||^2 (n, 1, H', W')
        ww = w.flatten(1).square().sum(1)[None, :, None, None]
        return pp - 2 * self._conv(x, w, padding=pad) + ww, pp, ww, w[0].numel()

    def _centred(self, x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The zero-padded images and the filters less each channel's filter mean ``c``
        (not differentiated): patch distances are unchanged, and the expansion keeps its
        digits far from the origin (:func:`~implicit_em.layers.distances.centred`)."""
        c = w.detach().mean((0, 2, 3))[None, :, None, None]  # (1, C, 1, 1)
        if self.padding:
            x = F.pad(x, (self.padding,) * 4)  # the zeros are shifted with the pixels
        return x - c, w - c

    def _conv(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        b: torch.Tensor | None = None,
        *,
        padding: int | None = None,
    ) -> torch.Tensor:
        pad = self.padding if padding is None else padding
        return F.conv2d(x, w, b, stride=self.stride, padding=pad)

    def responsibilities(self, x: torch.Tensor) -> torch.Tensor:
        """``r = softmax(-d / T)`` over the channels at each location, ``(n, K, H', W')``."""
        return torch.softmax(-self.distances(x) / self.layer.temperature, 1)

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.distances(x)
        n, k, h, w = d.shape
        out = self.layer.output_of(d.permute(0, 2, 3, 1).reshape(-1, k))
        out = out.reshape(n, h, w, k).permute(0, 3, 1, 2)
        return pool2d(out, self.pool)

    def objective(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The layer's terms (:meth:`ImplicitEMLayer.objective`) over batch x locations:
        each location's patch is one row."""
        d = self.distances(x)
        return self.layer.objective_of(d.permute(0, 2, 3, 1).reshape(-1, d.shape[1]))

    @override
    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}"
                + (f", pool={self.pool}" if self.pool else "")
                + (", input_norm='batch'" if self.input_norm is not None else ""))  # fmt: skip
