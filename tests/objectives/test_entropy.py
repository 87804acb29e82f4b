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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mode", ["sharpen", "balance"])
def test_responsibility_entropy_is_the_formula_where_exp_would_underflow(mode, dtype):
    """Responsibilities far below ``tiny`` (T = 0.1 on spread distances) count as the
    floor: the value is the float64 formula's, and the gradient too except on them."""
    g = torch.Generator().manual_seed(0)
    z = (torch.rand(64, 50, generator=g, dtype=torch.float64) * 3e3).requires_grad_()
    z64 = z.detach().clone().requires_grad_()
    log_r = torch.log_softmax(-z64, 1)
    r = log_r.exp()
    want = (-(r * log_r).sum(1).mean() if mode == "sharpen"
            else (r.mean(0) * torch.log(r.mean(0).clamp_min(1e-30))).sum())  # fmt: skip
    want.backward()
    zd = z.detach().to(dtype).requires_grad_()
    got = O.responsibility_entropy(zd, mode)
    got.backward()
    tiny = torch.finfo(dtype).tiny
    assert bool((log_r < math.log(tiny)).float().mean() > 0.5)  # most would underflow
    single = dtype == torch.float32
    rel = 1e-5 if single else 1e-12
    assert float(got.detach()) == pytest.approx(float(want.detach()), rel=rel, abs=1e-6)
    kept = log_r.detach() > math.log(tiny) + 2  # gradients where r is not floored
    torch.testing.assert_close(
        zd.grad.double()[kept], z64.grad[kept], rtol=1e-4 if single else 1e-10, atol=1e-7
    )
    assert bool(torch.isfinite(zd.grad).all())
