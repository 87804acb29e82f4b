"""Volume control and InfoMax objectives (functional and module forms)."""

from .decorrelation import Decorrelation, cross_decorrelation_loss, decorrelation_loss
from .entropy import gaussian_entropy, responsibility_entropy, vasicek_entropy
from .hsic import gaussian_kernel, hsic, hsic_rff, median_bandwidth, pairwise_hsic
from .infomax import (
    GaussianInfoMax,
    bell_sejnowski_infomax,
    gaussian_infomax,
    ledoit_wolf_shrinkage,
)
from .variance import LogVariance, VarianceHinge, log_variance_loss, variance_hinge
from .weights import neg_log_abs_det, neg_log_det_gram, weight_orthogonality

__all__ = [
    "Decorrelation",
    "GaussianInfoMax",
    "LogVariance",
    "VarianceHinge",
    "bell_sejnowski_infomax",
    "cross_decorrelation_loss",
    "decorrelation_loss",
    "gaussian_entropy",
    "gaussian_infomax",
    "gaussian_kernel",
    "hsic",
    "hsic_rff",
    "ledoit_wolf_shrinkage",
    "log_variance_loss",
    "median_bandwidth",
    "neg_log_abs_det",
    "neg_log_det_gram",
    "pairwise_hsic",
    "responsibility_entropy",
    "variance_hinge",
    "vasicek_entropy",
    "weight_orthogonality",
]
