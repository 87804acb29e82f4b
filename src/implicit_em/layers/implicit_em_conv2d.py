r"""``ImplicitEMConv2d``: an implicit-EM layer on every patch of an image.

The mixture of :class:`~implicit_em.layers.ImplicitEMLayer` -- ``K`` prototypes, distances
``d``, responsibilities ``r = softmax(-d / T)`` over the channels at each location, LSE +
volume controls -- applied to every ``k x k`` patch ``p`` of the input, by convolutions
(never an unfold in the forward pass):

* ``"linear"``: ``d = W p + b`` is ``conv2d(x, W, b)``;
* ``"euclidean"``: ``d = 1/2 ||p - w||^2 = 1/2 (||p||^2 - 2 p.w + ||w||^2)``, with
  ``||p||^2`` the convolution of ``x^2`` with a ``k x k`` window of ones; a batch whose
  expansion may have lost a location's nearest filter (far from the origin) is redone
  with pixels and filters shifted by each channel's filter mean, and the locations that
  still may have are redone by direct float64 differences of their patches;
* with ``patch_norm``, every patch is first centred and scaled over its ``C k k``
  entries, ``q = (p - m) / s`` (``m`` its mean, ``s^2 = var(p) + eps``: Coates & Ng's
  per-patch contrast normalisation), still by convolutions: ``||q||^2 = sum (p - m)^2 /
  s^2`` and ``q.w = (p.w - m sum w) / s``, so each channel answers a patch's pattern,
  not its energy ``||p||^2``, which every channel's distance shares.

This is the mixture that Coates & Ng fit by hard EM and SoftHebb by a soft-WTA rule,
fitted here by gradient descent on the layer's own objective over batch x locations.
"""

from __future__ import annotations

import math
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from typing_extensions import override

from .._checks import check_conv_geometry, check_count, check_images
from .._distributed import broadcast_
from .distances import _direct, _finite, euclidean_distances, exactly
from .implicit_em_layer import ImplicitEMLayer
from .pool import check_pool, pool2d


class _PatchSquares(torch.autograd.Function):
    """``sq = a pw + b sw + c + ww`` for ``pw`` ``(n, K, H, W)``, per-location ``a, b, c``
    ``(n, 1, H, W)`` and per-channel ``sw, ww`` ``(K,)``: the normalised patches' squared
    distances from their parts in two passes over ``(n, K, H, W)`` (a rank-three product,
    then one fused multiply-add), where the same expression through autograd took six,
    and a backward of five (autograd: about ten)."""

    @staticmethod
    def forward(ctx, pw, a, b, c, sw, ww):
        n, k, h, w = pw.shape
        per_channel = torch.stack([torch.ones_like(ww), ww, sw], 1)  # (K, 3)
        per_location = torch.cat([c, torch.ones_like(c), b], 1).view(n, 3, h * w)
        sq = torch.matmul(per_channel, per_location).view(n, k, h, w).addcmul_(a, pw)
        ctx.save_for_backward(pw, a, per_channel, per_location)
        return sq

    @staticmethod
    def backward(ctx, g):
        pw, a, per_channel, per_location = ctx.saved_tensors
        n, k, h, w = pw.shape
        grads: list[torch.Tensor | None] = [None] * 6
        if ctx.needs_input_grad[0]:
            grads[0] = g * a
        if ctx.needs_input_grad[1]:
            grads[1] = torch.linalg.vecdot(g, pw, dim=1).unsqueeze(1)
        flat = g.reshape(n, k, h * w)
        if ctx.needs_input_grad[2] or ctx.needs_input_grad[3]:
            loc = torch.matmul(per_channel.T, flat)  # (n, 3, L): sum_k of g, g ww, g sw
            grads[3] = loc[:, 0].view(n, 1, h, w)
            grads[2] = loc[:, 2].view(n, 1, h, w)
        if ctx.needs_input_grad[4] or ctx.needs_input_grad[5]:
            chan = torch.matmul(flat, per_location.transpose(1, 2)).sum(0)  # (K, 3)
            grads[5], grads[4] = chan[:, 1], chan[:, 2]
        return tuple(grads)


def _patch_norm(value: bool | float, name: str, default: float) -> float | None:
    """``patch_norm`` / ``whiten`` -> its ``eps`` (``None``: off; ``True``: ``default``)."""
    if value is False or value is None:
        return None
    if value is True:
        return default
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be False, True or an eps > 0 (the variance added "
                         f"before scaling), got {value!r}")  # fmt: skip
    return float(value)


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
        patch_norm: ``True``, ``False`` or the ``eps`` of a per-patch
            contrast normalisation after ``input_norm`` (see the module; ``True`` is
            ``eps = 10 / 255^2``, Coates & Ng's for pixels in ``[0, 1]``, small beside
            channels standardised by ``input_norm="batch"``). The prototypes then live
            among normalised patches, and a blank patch is the zero vector. ``None``
            (default): on for Euclidean prototypes of 2 entries or more, off for
            ``distance="linear"``; it
            won the depth search (``bench/conv_depth_search.py``) at every depth, on
            accuracy and on near-duplicate channels.
        whiten: ``False``, ``True`` or the ``eps`` of a ZCA whitening of the patches
            (after ``patch_norm``), ``q -> Z (q - m)`` with ``Z = V (L + eps)^-1/2 V^T``
            from the covariance of the first training batch's patches (kept in buffers;
            ``True`` is Coates & Ng's ``eps = 0.1``): every direction of the patches
            counts alike in the distances, not only the few that carry most variance.
            The patches are then unfolded (``(n H' W', C k k)`` per batch).
        **layer: the settings of :class:`ImplicitEMLayer` (``distance``, ``output``,
            ``temperature``, ``objective``, ``lse_weight``, ``weight_norm``, ``init``,
            ``gather_distributed``), with the same names and meanings; its ``weight`` is
            the prototypes, ``(K, C k k)``. Three defaults differ from the dense
            layer's: the patches are not rescaled by one number (``input_norm`` and
            ``patch_norm`` do it), ``temperature`` is ``1`` (the best of
            ``bench/conv_search.py``) and ``objective`` is ``"balance+decorrelation"``
            (the channels' distances decorrelated over batch x locations: the depth
            search's best at depth 3, level at depths 1-2, 3 seeds).

    Shape:
        input ``(n, C, H, W)``; distances, responsibilities and outputs
        ``(n, K, H', W')`` (after ``pool``, for the output).

    Examples:
        >>> conv = ImplicitEMConv2d(1, 4, 3)
        >>> sorted(conv.objective(torch.randn(2, 1, 8, 8)))  # the first batch places the means
        ['balance', 'decorrelation', 'lse']
        >>> conv(torch.randn(2, 1, 8, 8)).shape
        torch.Size([2, 4, 6, 6])
    """

    patch_mean: torch.Tensor  # buffers, with whiten
    whitening: torch.Tensor
    whitened: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *,
                 stride: int = 1, padding: int = 0, pool: tuple | None = None,
                 input_norm: str | None = None, patch_norm: bool | float | None = None,
                 whiten: bool | float = False, **layer: Any):  # fmt: skip
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
        if patch_norm is None:
            patch_norm = layer.get("distance", "euclidean") == "euclidean" and patch > 1
        self.patch_norm = _patch_norm(patch_norm, "patch_norm", 10 / 255**2)
        self.whiten = _patch_norm(whiten, "whiten", 0.1)
        if self.patch_norm is not None and patch < 2:
            raise ValueError(f"patch_norm centres and scales a patch over its C k k = {patch} "
                             "entries, which needs at least 2: use patch_norm=False")  # fmt: skip
        if (self.patch_norm is not None or self.whiten is not None) and layer.get(
            "distance", "euclidean"
        ) != "euclidean":
            raise ValueError("patch_norm and whiten apply to Euclidean prototypes: use "
                             "distance='euclidean'")  # fmt: skip
        if self.whiten is not None:  # ZCA of the patches, measured on the first batch
            self.register_buffer("patch_mean", torch.zeros(patch))
            self.register_buffer("whitening", torch.zeros(patch, patch))
            self.register_buffer("whitened", torch.tensor(False))
        layer.setdefault("temperature", 1.0)  # the conv search's, on normalised patches
        layer.setdefault("objective", "balance+decorrelation")  # the depth search's
        self.layer = ImplicitEMLayer(patch, out_channels, input_norm=None, **layer)

    @property
    def out_channels(self) -> int:
        """The number of prototypes ``K``."""
        return self.layer.out_features

    @property
    def weight(self) -> torch.Tensor:
        """The prototypes as filters ``(K, C, k, k)``, as :class:`torch.nn.Conv2d`'s
        ``weight``: a view of the parameter ``layer.weight`` ``(K, C k k)``, so in-place
        changes reach it (with ``weight_norm``, a view of the normalised rows)."""
        return self._filters()

    @property
    def bias(self) -> torch.Tensor | None:
        """``(K,)``, as :class:`torch.nn.Conv2d`'s ``bias``, for ``distance="linear"``;
        ``None`` for Euclidean prototypes, which have none."""
        return self.layer.bias

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
        if self.whiten is not None:
            return self._whitened_distances(x)
        if layer.training and not layer.means_placed:  # distinct patches, blank ones last
            rows = self._patch_rows(x)
            layer.place_means(rows[torch.randperm(len(rows))], informative_first=True)
        w = self._filters()
        if layer.distance == "linear":
            return _finite(self._conv(x, w, layer.bias), x)
        sq = exactly(  # normalised patches are near the origin: no centring pass
            lambda c: self._expansion(x, w, centre=c),
            lambda at: _direct(self._patch_rows(x, at), w.flatten(1)),
            centre=self.patch_norm is None,
        )
        return _finite(0.5 * sq.clamp_min(0), x)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """The rows the prototypes meet: every patch of ``x`` ``(n, C, H, W)`` after
        ``input_norm``, ``patch_norm`` and ``whiten``, ``(n H' W', C k k)`` (an unfold:
        for diagnostics)."""
        check_images(x, self.in_channels, self.kernel_size, self.padding)
        with torch.no_grad():
            return self._patch_rows(self.input_norm(x) if self.input_norm is not None else x)

    def _patch_rows(self, x: torch.Tensor, at: torch.Tensor | None = None) -> torch.Tensor:
        """Every patch (or those at the flat indices ``at``), normalised and whitened."""
        patches = F.unfold(x, self.kernel_size, padding=self.padding, stride=self.stride)
        rows = patches.transpose(1, 2).reshape(-1, patches.shape[1])
        if at is not None:
            rows = rows[at]
        if self.patch_norm is not None:
            var, mean = torch.var_mean(rows, dim=1, keepdim=True, correction=1)
            rows = (rows - mean) / torch.sqrt(var + self.patch_norm)
        if self.whiten is None:
            return rows
        if not bool(self.whitened):
            if not self.layer.training:
                raise ValueError("whiten: the layer has not measured its patches' covariance: "
                                 "call it on data in training mode first (the first batch "
                                 "sets it), or load a trained state dict")  # fmt: skip
            self._fit_whitening(rows)
        return (rows - self.patch_mean) @ self.whitening

    @torch.no_grad()
    def _fit_whitening(self, rows: torch.Tensor) -> None:
        """ZCA from the first training batch's patches: ``Z = V (L + eps)^-1/2 V^T``."""
        if len(rows) < 2:
            raise ValueError(f"x gives {len(rows)} patch(es): whiten measures their covariance "
                             "on the first training batch, which needs at least 2")  # fmt: skip
        if not bool(torch.isfinite(rows).all()):
            raise ValueError("x holds NaN/inf: whiten cannot measure its patches' covariance; "
                             "clean x")  # fmt: skip
        r = rows.detach().double()
        mean = r.mean(0)
        evals, evecs = torch.linalg.eigh(torch.cov((r - mean).T).reshape(r.shape[1], -1))
        z = (evecs * (evals.clamp_min(0) + cast(float, self.whiten)).rsqrt()) @ evecs.T
        self.patch_mean.copy_(mean)
        self.whitening.copy_(z)
        self.whitened.fill_(True)
        broadcast_(self.patch_mean, self.whitening, self.whitened)

    def _whitened_distances(self, x: torch.Tensor) -> torch.Tensor:
        """``whiten``: the patches unfolded, normalised and whitened, then the dense
        layer's exact Euclidean distances (``(n, K, H', W')``)."""
        n, layer = len(x), self.layer
        rows = self._patch_rows(x)
        if layer.training and not layer.means_placed:  # distinct patches, blank ones last
            layer.place_means(rows[torch.randperm(len(rows))], informative_first=True)
        d = euclidean_distances(rows, layer.weight)
        h, w = self._out_size(x)
        return d.view(n, h, w, -1).permute(0, 3, 1, 2)

    def _out_size(self, x: torch.Tensor) -> tuple[int, int]:
        k, p, s = self.kernel_size, self.padding, self.stride
        return (x.shape[2] + 2 * p - k) // s + 1, (x.shape[3] + 2 * p - k) // s + 1

    def _expansion(self, x: torch.Tensor, w: torch.Tensor, *, centre: bool) -> tuple:
        """``(2d, ||p||^2, ||w||^2, C k k)`` at every patch (around the filters' centre
        with ``centre``, never with ``patch_norm``: a shift per channel changes a
        normalised patch); with ``patch_norm``, of the normalised patches ``q``, from the
        pixels less their median (:meth:`_shifted`), whose rounding is that of
        ``||p - c||^2 / s^2`` (the sum that subtracting the patch mean cancels)."""
        pad = None
        if centre:
            x, w = self._centred(x, w)
            pad = 0  # the images are padded already
        elif self.patch_norm is not None:  # a shift of every entry: exact where blank
            x, pad = self._shifted(x), 0  # the images are padded already
        ones = x.new_ones(1, self.in_channels, self.kernel_size, self.kernel_size)
        pp = self._conv(x.square(), ones, padding=pad)  # ||p||^2 (n, 1, H', W')
        ww = w.flatten(1).square().sum(1)[None, :, None, None]
        pw, width = self._conv(x, w, padding=pad), w[0].numel()
        if self.patch_norm is None:
            return pp - 2 * pw + ww, pp, ww, width
        total = self._conv(x, ones, padding=pad)  # sum p (n, 1, H', W')
        spread = (pp - total.square() / width).clamp_min(0)  # sum (p - m)^2
        inv = torch.rsqrt(spread / (width - 1) + self.patch_norm)  # 1 / s
        # ||q||^2 - 2 q.w + ||w||^2 with q.w = (p.w - m sum w) / s: per location a, b, c
        # (small), per channel sum w and ||w||^2, and the one big operand p.w
        sq = _PatchSquares.apply(pw, -2 * inv, 2 * inv * total / width, spread * inv.square(),
                                 w.flatten(1).sum(1), ww.flatten())  # fmt: skip
        return sq, pp * inv.square(), ww, width

    def _shifted(self, x: torch.Tensor) -> torch.Tensor:
        """The zero-padded images less their median value ``c`` (one number, of at most
        2^16 evenly spaced entries: not differentiated). A patch's spread ``||p||^2 -
        (sum p)^2 / (C k k)`` and ``(p - m).w`` are unchanged when every entry of the patch
        moves by ``c``, but the spread's two terms cancel where a patch is nearly constant:
        shifted, a patch of the most common value (MNIST's background, a third of its
        patches) has ``||p||^2 = 0`` exactly and keeps float32 (measured: 16k of 50k
        locations a batch of 64 went to float64 before, 340 after)."""
        flat = x.detach().flatten()
        c = flat[:: max(1, len(flat) // 2**16)].median()
        if self.padding:
            x = F.pad(x, (self.padding,) * 4)
        return x - c

    def _centred(self, x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The zero-padded images and the filters less each channel's filter mean ``c``
        (not differentiated): patch distances are unchanged, and the expansion keeps its
        digits far from the origin (:func:`~implicit_em.layers.distances.centred`)."""
        if self.padding:
            x = F.pad(x, (self.padding,) * 4)  # the zeros are shifted with the pixels
        c = w.detach().mean((0, 2, 3))[None, :, None, None]  # (1, C, 1, 1)
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
                + (", input_norm='batch'" if self.input_norm is not None else "")
                + (f", patch_norm={self.patch_norm:g}" if self.patch_norm is not None else "")
                + (f", whiten={self.whiten:g}" if self.whiten is not None else ""))  # fmt: skip
