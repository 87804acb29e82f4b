r"""What an implicit-EM layer does to its input first (``ImplicitEMLayer(input_norm=...)``).

=========  ===================================================================
``None``   nothing
``scale``  every input divided by one number ``s = sqrt(lambda_max)``, the largest
           variance of the first training batch (:class:`ScaleNorm`): the data's
           geometry kept, its units removed
``sample`` each row centred and scaled: ``(x - mean(x)) / sqrt(var(x) + eps)``
           (:class:`SampleNorm`; Coates & Ng's per-patch normalisation, stateless)
``batch``  each feature standardised by a non-affine ``nn.BatchNorm1d`` (batch
           statistics in training, running ones in eval mode), as SoftHebb does
           before each layer
=========  ===================================================================
"""

from __future__ import annotations

import math

import torch
from torch import nn
from typing_extensions import override

from .._checks import check_tensor
from .._distributed import broadcast_

INPUT_NORMS = (None, "scale", "sample", "batch")


@torch.no_grad()
def top_variance(x: torch.Tensor) -> float:
    """``lambda_max``: the largest eigenvalue of the covariance of the rows of ``x``
    ``(n, D)``, in float64 (the variance along the data's main direction).

    Examples:
        >>> round(top_variance(torch.tensor([[0.0, 0.0], [2.0, 0.0]])), 12)
        2.0
    """
    if len(x) < 2:
        raise ValueError(f"x has {len(x)} row(s): its largest variance needs at least 2")
    xc = x.detach().double()
    xc = xc - xc.mean(0)
    return float(torch.linalg.matrix_norm(xc, ord=2)) ** 2 / (len(x) - 1)


@torch.no_grad()
def first_scale(x: torch.Tensor) -> float:
    """:class:`ScaleNorm`'s ``s`` for a first batch ``x`` ``(n, D)``: ``sqrt(lambda_max)``
    (:func:`top_variance`); for a batch without variance (one row, or one row repeated),
    the root mean square of its entries; ``1`` for a batch of zeros.

    Examples:
        >>> round(first_scale(torch.tensor([[0.0, 0.0], [2.0, 0.0]])) ** 2, 12)  # lambda_max
        2.0
        >>> first_scale(torch.tensor([[3.0, 4.0]]))  # one row: sqrt((9 + 16) / 2)
        3.5355339059327378
    """
    top = top_variance(x) if len(x) >= 2 else 0.0
    if top > 0 and math.isfinite(top):
        return math.sqrt(top)
    rms = float(x.detach().double().square().mean().sqrt())
    return rms if rms > 0 else 1.0


class ScaleNorm(nn.Module):
    r"""``x / s``, one number for every input: ``s = sqrt(lambda_max)`` with
    ``lambda_max`` the largest variance of the first batch seen in training mode
    (:func:`first_scale`: a batch without variance falls back on its root mean square;
    rank 0's under ``torch.distributed``), kept in the ``scale`` buffer (``0`` until
    measured, saved with the weights). In eval mode before any training batch, ``x``
    passes unchanged, as a fresh ``BatchNorm``'s running statistics leave it.

    The data's geometry is kept (no feature or row is rescaled on its own) and its units
    are removed: the same data at any scale reach the layer alike, so a temperature, a
    learning rate and an initialisation mean the same on any data. Shape ``(n, D) ->
    (n, D)``.

    Examples:
        >>> norm = ScaleNorm()
        >>> norm(torch.tensor([[0.0, 0.0], [200.0, 0.0]]))  # lambda_max = 2e4, s = 141.4
        tensor([[0.0000, 0.0000],
                [1.4142, 0.0000]])
    """

    scale: torch.Tensor

    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.tensor(0.0))

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", min_ndim=1, finite=True)
        if x.shape[-1] == 0:
            raise ValueError(f"x has no features (shape {tuple(x.shape)}): input_norm='scale' "
                             "needs at least one")  # fmt: skip
        if not bool(self.scale > 0):
            if x.numel() == 0:
                raise ValueError(f"x has no rows (shape {tuple(x.shape)}): input_norm='scale' "
                                 "measures its scale on the first batch")  # fmt: skip
            if not self.training:  # as BatchNorm's running statistics before training
                return x
            self.scale.fill_(first_scale(x.reshape(-1, x.shape[-1])))
            broadcast_(self.scale)
        return x / self.scale

    @override
    def extra_repr(self) -> str:
        return f"scale={float(self.scale):.4g}" if bool(self.scale > 0) else "scale=unset"


class SampleNorm(nn.Module):
    r"""``(x - mean_i x_i) / sqrt(var_i x_i + eps)`` per row: the contrast of each input,
    not its brightness or scale, reaches the layer.

    ``eps`` (default ``10 / 255**2``, Coates & Ng's ``10`` for pixels in ``[0, 1]``) keeps
    near-constant rows from being blown up to unit variance. Shape ``(n, D) -> (n, D)``.

    Examples:
        >>> SampleNorm(eps=0.0)(torch.tensor([[1.0, 3.0]]))
        tensor([[-0.7071,  0.7071]])
    """

    def __init__(self, eps: float = 10 / 255**2):
        super().__init__()
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not eps >= 0:
            raise ValueError(f"eps must be a number >= 0, got {eps!r}")
        self.eps = float(eps)

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", min_ndim=1, finite=True)
        if x.shape[-1] < 2:
            raise ValueError(
                f"x needs at least 2 features per row for input_norm='sample', got "
                f"{x.shape[-1]}: use input_norm=None or 'batch'"
            )
        var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=1)
        return (x - mean) / torch.sqrt(var + self.eps)

    @override
    def extra_repr(self) -> str:
        return f"eps={self.eps:g}"


def make_input_norm(kind: str | bool | None, in_features: int) -> nn.Module | None:
    """The module for ``kind`` (``True`` means ``"batch"``, ``False`` means ``None``)."""
    if kind is True:
        kind = "batch"
    if kind is False:
        kind = None
    if kind not in INPUT_NORMS:
        raise ValueError(
            f"input_norm must be one of {', '.join(map(repr, INPUT_NORMS))}, got {kind!r}"
        )
    if kind == "scale":
        return ScaleNorm()
    if kind == "sample":
        return SampleNorm()
    if kind == "batch":
        return nn.BatchNorm1d(in_features, affine=False)
    return None
