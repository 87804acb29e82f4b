"""Variance terms (log variance, hinge)."""

import math

import numpy as np
import pytest

from helpers import correlated
from implicit_em import objectives as O


def test_variance_terms():
    z = correlated()
    base = O.log_variance_loss(z, eps=0.0)
    # unbounded below: scaling by 10 lowers it by 2 D log 10, for ever
    assert float(O.log_variance_loss(10 * z, eps=0.0)) == pytest.approx(
        float(base) - 2 * 5 * math.log(10), rel=1e-10
    )
    assert float(base) == pytest.approx(-np.log(z.numpy().var(0, ddof=1)).sum(), rel=1e-10)
    assert float(O.variance_hinge(100 * z, gamma=1.0)) == 0.0
    small = O.variance_hinge(1e-3 * z, gamma=1.0)
    assert 0.9 < float(small) < 1.0
