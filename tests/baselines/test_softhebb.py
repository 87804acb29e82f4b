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


def test_defaults_are_the_authors_preset_output_included():
    """``2SoftMlpMNIST``: t_invert 12, lr 0.045, power_lr 0.2, radius 35, one epoch at batch
    32, and its block's activation ``softmax_5``: the features are ``softmax(5 u)``."""
    sh = SoftHebb(4)
    preset = {"t_invert": 12.0, "lr": 0.045, "power_lr": 0.2, "radius": 35.0, "epochs": 1,
              "batch_size": 32, "output": "softmax", "t_out": 5.0}  # fmt: skip
    assert {k: getattr(sh, k) for k in preset} == preset
    x = torch.rand(64, 9, generator=torch.Generator().manual_seed(0))
    sh.fit(x)
    u = x @ sh.weight_.T
    torch.testing.assert_close(sh.transform(x), torch.softmax(5.0 * u, 1))
