"""Volume control and InfoMax objectives (functional and module forms)."""

from .covariance import CovarianceObjective, covariance_objective
from .decorrelation import (
    CrossDecorrelation,
    Decorrelation,
    cross_decorrelation_loss,
    decorrelation_loss,
)
from .entropy import (
    ResponsibilityEntropy,
    gaussian_entropy,
    responsibility_entropy,
    vasicek_entropy,
)
from .hsic import (
    PairwiseHSIC,
    gaussian_kernel,
    hsic,
    hsic_rff,
    median_bandwidth,
    pairwise_hsic,
    unit_median_bandwidths,
)
from .infomax import (
    BellSejnowskiInfoMax,
    GaussianInfoMax,
    bell_sejnowski_infomax,
    gaussian_infomax,
    ledoit_wolf_shrinkage,
)
from .variance import LogVariance, VarianceHinge, log_variance_loss, variance_hinge
from .weights import WeightVolume, neg_log_abs_det, neg_log_det_gram, weight_orthogonality

__all__ = [
    "BellSejnowskiInfoMax",
    "CovarianceObjective",
    "CrossDecorrelation",
    "Decorrelation",
    "GaussianInfoMax",
    "LogVariance",
    "PairwiseHSIC",
    "ResponsibilityEntropy",
    "VarianceHinge",
    "WeightVolume",
    "bell_sejnowski_infomax",
    "covariance_objective",
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
    "unit_median_bandwidths",
    "variance_hinge",
    "vasicek_entropy",
    "weight_orthogonality",
]
