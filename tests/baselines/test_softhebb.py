"""SoftHebb against its per-sample rule."""

import numpy as np
import torch

from implicit_em.baselines import SoftHebb
from implicit_em.baselines.softhebb import softhebb_update

RNG = np.random.default_rng(0)


def test_softhebb_update_is_the_per_sample_rule():
    w, x, b = RNG.standard_normal((5, 7)), RNG.random((11, 7)), RNG.standard_normal(5)
    for bias in (None, b):
        u = x @ w.T + (0 if bias is None else bias)
        y = np.exp(12 * (u - u.max(1, keepdims=True)))
        y /= y.sum(1, keepdims=True)
        dw = np.zeros_like(w)
        for n in range(len(x)):  # Δw_k = Σ_n y_nk (x_n - u_nk w_k)
            for k in range(len(w)):
                dw[k] += y[n, k] * (x[n] - u[n, k] * w[k])
        tb = None if bias is None else torch.tensor(bias)
        got, y_got = softhebb_update(torch.tensor(w), torch.tensor(x), tb, 12.0)
        np.testing.assert_allclose(got.numpy(), dw / np.abs(dw).max(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(y_got.numpy(), y, rtol=1e-9, atol=1e-12)


def test_softhebb_seeks_unit_norm_and_learns_priors():
    x = torch.rand(2000, 16, generator=torch.Generator().manual_seed(0))
    sh = SoftHebb(6, epochs=20, bias=True, seed=0).fit(x)
    assert torch.allclose(sh.weight_.norm(dim=1), torch.ones(6), atol=0.1), sh.weight_.norm(dim=1)
    usage = torch.softmax(12 * (x @ sh.weight_.T + sh.bias_), 1).mean(0)
    prior = torch.exp(12 * sh.bias_)
    assert torch.allclose(prior, usage, atol=0.1)  # e^{t b} tracks each unit's usage
    assert SoftHebb(6, output="current").fit(x).transform(x[:2]).shape == (2, 6)
