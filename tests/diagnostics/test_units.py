"""Unit health on constructed activations."""

import numpy as np
import pytest
import torch

from implicit_em import diagnostics as D


def test_unit_health_on_constructed_activations():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 6))
    a[:, 0] = 0.0  # dead by variance and activity
    a[:, 1] = 3.0  # constant but active: dead by variance only
    a[:, 2] = np.where(np.arange(400) < 2, 1.0, -1.0)  # active on 0.5% < 1%
    h = D.unit_health(torch.tensor(a), tau=1e-6, p=0.01)
    assert h["dead_variance"] == 2 and h["dead_activity"] == 2
    np.testing.assert_allclose(h["variance_max"], a.var(0, ddof=1).max(), rtol=1e-6)
    np.testing.assert_allclose(h["l0_sparsity"], np.mean(np.abs(a) <= 0), rtol=1e-12)
    np.testing.assert_array_equal(D.dead_by_variance(a).numpy(), a.var(0, ddof=1) < 1e-6)
    np.testing.assert_array_equal(D.dead_by_activity(a).numpy(), (a > 0).mean(0) < 0.01)
    np.testing.assert_allclose(D.activation_rate(a, 0.5).numpy(), (a > 0.5).mean(0))
    assert D.l0_sparsity(a, threshold=0.5) == pytest.approx(np.mean(np.abs(a) <= 0.5))
