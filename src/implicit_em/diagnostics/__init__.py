"""Diagnostics of implicit EM inside any model: unit health, redundancy, dependence,
responsibilities, linear regions, linear probes and read-outs, activation shape, the
EM-structure map, a Monitor, and a per-layer diagnostic of implicit-EM stacks."""

from .dependence import knn_entropy, total_correlation
from .depth import stack_diagnostics
from .em_structure import EMRow, EMStructureMap, em_structure
from .monitor import Monitor
from .power_top_layer import power_readout
from .probe import PROBE_CS, PROBE_POWERS, linear_probe, signed_power, tuned_probe
from .readout import linear_readout
from .redundancy import (
    activation_redundancy,
    correlation_redundancy,
    direction_groups,
    effective_rank,
    gaussian_total_correlation,
    near_duplicate_share,
    pairwise_correlations,
    weight_cosine,
    weight_redundancy,
)
from .regions import count_activation_patterns, count_regions_2d
from .responsibility import responsibility_stats
from .shape import STANDARD_ACTIVATIONS, nearest_standard, properties
from .units import (
    activation_rate,
    dead_by_activity,
    dead_by_variance,
    l0_sparsity,
    unit_health,
    unit_variance,
)

__all__ = [
    "PROBE_CS",
    "PROBE_POWERS",
    "STANDARD_ACTIVATIONS",
    "EMRow",
    "EMStructureMap",
    "Monitor",
    "activation_rate",
    "activation_redundancy",
    "correlation_redundancy",
    "count_activation_patterns",
    "count_regions_2d",
    "dead_by_activity",
    "dead_by_variance",
    "direction_groups",
    "effective_rank",
    "em_structure",
    "gaussian_total_correlation",
    "knn_entropy",
    "l0_sparsity",
    "linear_probe",
    "linear_readout",
    "near_duplicate_share",
    "nearest_standard",
    "pairwise_correlations",
    "power_readout",
    "properties",
    "responsibility_stats",
    "signed_power",
    "stack_diagnostics",
    "total_correlation",
    "tuned_probe",
    "unit_health",
    "unit_variance",
    "weight_cosine",
    "weight_redundancy",
]
