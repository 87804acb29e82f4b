"""Activations as posterior statistics and competitive activations."""

from .competitive import (
    LWTA,
    GroupedSoftmax,
    GroupedSoLU,
    Maxout,
    NegLogSoftmin,
    SoLU,
    grouped_softmax,
    grouped_solu,
    lwta,
    maxout,
    neg_log_softmin,
    solu,
)

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
