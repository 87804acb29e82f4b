"""Gaussian mixtures fitted by explicit EM or by gradient descent (implicit EM)."""

from .gaussian import COVARIANCE_TYPES, SingularCovarianceError
from .gaussian_mixture import GaussianMixture

__all__ = ["COVARIANCE_TYPES", "GaussianMixture", "SingularCovarianceError"]
