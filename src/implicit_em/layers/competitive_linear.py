r"""``CompetitiveLinear``: a linear map followed by a competitive activation."""

from __future__ import annotations

from typing import cast

import torch
from torch import nn
from typing_extensions import override

from .._checks import check_tensor
from ..activations import ACTIVATIONS, make_activation


class CompetitiveLinear(nn.Sequential):
    """``activation(x W^T + b)`` with any registered competitive activation.

    Raises ``ValueError`` for an unknown or non-competitive activation, or a width that
    its groups do not divide; a wrong shape or dtype of the input is a clear error. Like
    ``torch.nn`` layers and the activations it ends in, it propagates NaN/inf row by row
    instead of paying a reduction per call (``train`` refuses a non-finite loss).

    Examples:
        >>> import torch
        >>> CompetitiveLinear(4, 8, "grouped_solu")(torch.randn(2, 4)).shape
        torch.Size([2, 8])
    """

    def __init__(self, in_features: int, out_features: int, activation: str = "solu"):
        competitive = [n for n, s in ACTIVATIONS.items() if s.kind == "competitive"]
        if activation not in competitive:
            raise ValueError(
                f"unknown competitive activation {activation!r}; available: "
                f"{', '.join(competitive)}"
            )
        group = ACTIVATIONS[activation].group
        if out_features % group:
            raise ValueError(
                f"{activation!r} competes in groups of {group}: out_features ({out_features}) "
                "must be a multiple of it"
            )
        super().__init__(nn.Linear(in_features, out_features), make_activation(activation))
        self.activation_name = activation

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x")
        w = cast(nn.Linear, self[0]).weight
        if x.ndim < 1 or x.shape[-1] != w.shape[1]:
            raise ValueError(f"x must have shape (..., {w.shape[1]}), got {tuple(x.shape)}")
        if x.dtype != w.dtype:
            raise TypeError(
                f"x has dtype {x.dtype} but the weights are {w.dtype}: convert one of them"
            )
        return super().forward(x)
