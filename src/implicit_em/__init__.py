"""implicit-em: implicit expectation-maximisation inside neural networks.

``import implicit_em as iem``; the identity lives in :mod:`implicit_em.lse`, datasets in
:mod:`implicit_em.data`, the experiment suite in :mod:`implicit_em.experiments`.
"""

from . import data, lse
from .lse import (
    DistanceCrossEntropy,
    LSELoss,
    distance_cross_entropy,
    lse_loss,
    lse_objective,
    responsibilities,
)

__version__ = "0.1.0"

__all__ = [
    "DistanceCrossEntropy",
    "LSELoss",
    "__version__",
    "data",
    "distance_cross_entropy",
    "lse",
    "lse_loss",
    "lse_objective",
    "responsibilities",
]
