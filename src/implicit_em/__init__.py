"""implicit-em: implicit expectation-maximisation inside neural networks.

``import implicit_em as iem``: the identity in :mod:`implicit_em.lse` (checked on your
tensors by :mod:`implicit_em.identities`), activations in
:mod:`implicit_em.activations`, implicit-EM layers in :mod:`implicit_em.layers`,
measurements in :mod:`implicit_em.diagnostics`, the training loop in
:mod:`implicit_em.training`, datasets in :mod:`implicit_em.data`, and the experiment
suite in :mod:`implicit_em.experiments`.

The submodules and the names below load on first use (PEP 562), so ``iem --help`` does
not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the lazy names are, for type checkers and IDEs
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

_SUBMODULES = ("activations", "baselines", "data", "diagnostics", "experiments", "identities",
               "layers", "lse", "mixture", "objectives", "report", "training")  # fmt: skip
_FROM_LSE = ("DistanceCrossEntropy", "LSELoss", "distance_cross_entropy", "lse_loss",
             "lse_objective", "responsibilities")  # fmt: skip

__all__ = [  # the public names (each loads on first use)
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


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _FROM_LSE:
        return getattr(importlib.import_module(".lse", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
