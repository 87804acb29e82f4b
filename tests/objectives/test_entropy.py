"""Entropy terms with gradients: responsibility entropy, Gaussian and m-spacing entropies."""

import math

import numpy as np
import pytest
import torch

from implicit_em import objectives as O


def test_entropy_estimators_and_responsibility_entropy():
    g = torch.Generator().manual_seed(0)
    z = torch.cat([torch.randn(20000, 1, generator=g), torch.rand(20000, 1, generator=g)], 1)
    h = O.vasicek_entropy(z.double())
    assert float(h[0]) == pytest.approx(0.5 * math.log(2 * math.pi * math.e), abs=0.02)
    assert float(h[1]) == pytest.approx(0.0, abs=0.02)  # uniform on [0, 1]
    assert float(O.gaussian_entropy(z)[0]) == pytest.approx(1.4189, abs=0.02)
    d = torch.randn(50, 4, dtype=torch.float64)
    r = torch.softmax(-d, 1).numpy()
    assert float(O.responsibility_entropy(d)) == pytest.approx(
        -(r * np.log(r)).sum(1).mean(), rel=1e-10
    )
    u = r.mean(0)
    assert float(O.responsibility_entropy(d, "balance")) == pytest.approx(
        (u * np.log(u)).sum(), rel=1e-10
    )


def test_gaussian_entropy_of_a_constant_unit_is_finite_warned_and_has_a_zero_gradient():
    z = torch.cat([torch.randn(32, 2), torch.full((32, 1), 3.0)], 1).requires_grad_(True)
    with pytest.warns(RuntimeWarning, match="constant"):
        h = O.gaussian_entropy(z)
    assert torch.isfinite(h).all()
    h.sum().backward()
    assert torch.isfinite(z.grad).all() and float(z.grad[:, 2].abs().max()) == 0.0
