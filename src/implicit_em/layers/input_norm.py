r"""What an implicit-EM layer does to its input first (``ImplicitEMLayer(input_norm=...)``).

=========  ===================================================================
``None``   nothing
``sample`` each row centred and scaled: ``(x - mean(x)) / sqrt(var(x) + eps)``
           (:class:`SampleNorm`; Coates & Ng's per-patch normalisation, stateless)
``batch``  each feature standardised by a non-affine ``nn.BatchNorm1d`` (batch
           statistics in training, running ones in eval mode), as SoftHebb does
           before each layer
=========  ===================================================================
"""

from __future__ import annotations

import torch
from torch import nn
from typing_extensions import override

from .._checks import check_tensor

INPUT_NORMS = (None, "sample", "batch")


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
    if kind == "sample":
        return SampleNorm()
    if kind == "batch":
        return nn.BatchNorm1d(in_features, affine=False)
    return None
