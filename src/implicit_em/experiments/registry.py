"""The registry of experiments: one module each, listed here in suite order."""

from __future__ import annotations

from collections.abc import Sequence

from .activations import EXPERIMENT as _activations
from .base import Experiment
from .benchmark import EXPERIMENT as _benchmark
from .benchmark import SMALL as _benchmark_small
from .collapse import EXPERIMENT as _collapse
from .competition import EXPERIMENT as _competition
from .conv import EXPERIMENT as _conv
from .dead_units import EXPERIMENT as _dead_units
from .em_structure import EXPERIMENT as _em_structure
from .encoder import EXPERIMENT as _encoder
from .ica import EXPERIMENT as _ica
from .identities import EXPERIMENT as _identities
from .infomax import EXPERIMENT as _infomax
from .joint_entropy import EXPERIMENT as _joint_entropy
from .layerwise import EXPERIMENT as _layerwise
from .local_learners import EXPERIMENT as _local_learners
from .local_objectives import EXPERIMENT as _local_objectives
from .mechanism import EXPERIMENT as _mechanism
from .mixture import EXPERIMENT as _mixture
from .noise_models import EXPERIMENT as _noise_models
from .passing_forward import EXPERIMENT as _passing_forward
from .single_layer_2d import EXPERIMENT as _single_layer_2d
from .supervised import EXPERIMENT as _supervised

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        _identities,
        _mixture,
        _activations,
        _noise_models,
        _dead_units,
        _em_structure,
        _competition,
        _collapse,
        _infomax,
        _joint_entropy,
        _ica,
        _mechanism,
        _single_layer_2d,
        _encoder,
        _local_learners,
        _layerwise,
        _local_objectives,
        _passing_forward,
        _supervised,
        _benchmark_small,
        _benchmark,
        _conv,
    )
}


def list_experiments() -> list[Experiment]:
    """Every registered experiment, in suite order."""
    return list(EXPERIMENTS.values())


def get_experiments(names: Sequence[str] | None) -> list[Experiment]:
    """Experiments by name, in suite order; ``"all"`` (or no names) selects every one but
    those run only when named (``in_all=False``: the full ``benchmark``)."""
    names = list(names or ["all"])
    if "all" in names:
        named = [n for n in names if n != "all" and n in EXPERIMENTS]
        return [e for e in EXPERIMENTS.values() if e.in_all or e.name in named]
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ValueError(
            f"unknown experiment(s) {unknown}; available: {', '.join(EXPERIMENTS)} or 'all'"
        )
    return [e for e in EXPERIMENTS.values() if e.name in names]
