"""implicit-em: implicit expectation-maximisation inside neural networks.

``import implicit_em as iem``: the identity in :mod:`implicit_em.lse` (checked on your
tensors by :mod:`implicit_em.identities`), activations in
:mod:`implicit_em.activations`, implicit-EM layers in :mod:`implicit_em.layers`,
measurements in :mod:`implicit_em.diagnostics`, the training loop in
:mod:`implicit_em.training`, datasets in :mod:`implicit_em.data`, and the experiment
suite in :mod:`implicit_em.experiments`.
"""

from . import activations, data, diagnostics, identities, layers, lse, training
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
    "activations",
    "data",
    "diagnostics",
    "distance_cross_entropy",
    "identities",
    "layers",
    "lse",
    "lse_loss",
    "lse_objective",
    "responsibilities",
    "training",
]
