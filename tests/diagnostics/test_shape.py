"""Shape analysis of activations: oddness, monotonicity, limits, redescending, nearest
standard activation."""

import math

import pytest
import torch
import torch.nn.functional as F

from implicit_em.activations import derived as D
from implicit_em.diagnostics import shape as S


def test_student_t_redescends_and_laplace_is_flat_beyond_m():
    t = S.properties(lambda z: D.posterior_activation(z, D.StudentT(nu=3.0)))
    assert t["odd"] and t["monotone"] == "no" and t["redescending"]
    assert t["limit_pos"] == pytest.approx(0.0, abs=1e-9)
    lap = S.properties(lambda z: D.posterior_activation(z, D.Laplace(m=1.0, b=1.0)))
    assert lap["monotone"] == "non-decreasing" and lap["min_abs_grad"] == 0.0
    assert lap["limit_pos"] == pytest.approx(math.tanh(1.0))
    assert lap["zero_grad_fraction"] == pytest.approx(0.9, abs=0.01)  # |z| > 1 on [-10, 10]


def test_properties_of_standard_functions():
    p = S.properties(F.softsign)
    assert p["odd"] and p["monotone"] == "increasing" and p["bounded"] and not p["redescending"]
    assert p["nearest"]["name"] == "softsign" and p["nearest"]["max_error"] < 1e-9
    r = S.properties(torch.relu)
    assert not r["odd"] and r["monotone"] == "non-decreasing" and r["limit_pos"] == math.inf
    near = S.nearest_standard(lambda z: 3 * torch.tanh(2 * z))
    assert (
        near["name"] == "tanh" and near["a"] == pytest.approx(3) and near["b"] == pytest.approx(2)
    )
