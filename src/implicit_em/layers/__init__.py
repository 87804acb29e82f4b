"""Implicit-EM layers: distances, responsibilities and a layer's own objective.

:class:`ImplicitEMLayer` (distances to ``K`` alternatives, ``r = softmax(-d / T)``,
LSE + volume-control terms), :class:`ImplicitEMConv2d` (the same on every image patch),
:class:`CompetitiveLinear` (a linear map and a competitive activation),
:class:`StackSpec` (a typed description of a stack, parsed from a spec such as
``"784-256:iem(infomax)-10"``), :func:`build` and the distance functions they rest on.
"""

from .competitive_linear import CompetitiveLinear
from .distances import euclidean_distances, linear_distances, mahalanobis_distances
from .implicit_em_conv2d import ImplicitEMConv2d
from .implicit_em_layer import DISTANCES, OUTPUTS, VOLUME_CONTROLS, ImplicitEMLayer, triangle
from .input_norm import INPUT_NORMS, SampleNorm, ScaleNorm
from .spec import ConvSpec, IEMSpec, LayerSpec, StackSpec, build

__all__ = [
    "DISTANCES",
    "INPUT_NORMS",
    "OUTPUTS",
    "VOLUME_CONTROLS",
    "CompetitiveLinear",
    "ConvSpec",
    "IEMSpec",
    "ImplicitEMConv2d",
    "ImplicitEMLayer",
    "LayerSpec",
    "SampleNorm",
    "ScaleNorm",
    "StackSpec",
    "build",
    "euclidean_distances",
    "linear_distances",
    "mahalanobis_distances",
    "triangle",
]
