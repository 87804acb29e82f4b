"""Krotov-Hopfield against the authors' notebook rule."""

import numpy as np
import pytest
import torch

from implicit_em.baselines import KrotovHopfield
from implicit_em.baselines.krotov_hopfield import krotov_update

RNG = np.random.default_rng(0)


def _krotov_reference(w, x, p, k, delta):
    """The authors' notebook step, literally (NumPy, columns are samples)."""
    hid, num = w.shape[0], x.shape[0]
    inputs = x.T
    tot = (np.sign(w) * np.abs(w) ** (p - 1)) @ inputs
    y = np.argsort(tot, axis=0)
    yl = np.zeros((hid, num))
    yl[y[hid - 1, :], np.arange(num)] = 1.0
    yl[y[hid - k], np.arange(num)] = -delta
    xx = np.sum(yl * tot, 1)
    ds = yl @ inputs.T - xx[:, None] * w
    return ds / max(np.abs(ds).max(), 1e-30)


@pytest.mark.parametrize(("p", "k"), [(2.0, 2), (3.0, 4)])
def test_krotov_update_is_the_notebook_rule(p, k):
    w, x = RNG.standard_normal((6, 9)), RNG.random((20, 9))
    got = krotov_update(torch.tensor(w), torch.tensor(x), p, k, 0.4).numpy()
    np.testing.assert_allclose(got, _krotov_reference(w, x, p, k, 0.4), rtol=1e-10, atol=1e-12)


def test_krotov_weights_reach_the_unit_p_sphere():
    from implicit_em.baselines.krotov_hopfield import p_current

    x = torch.rand(2000, 16, generator=torch.Generator().manual_seed(0))
    kh = KrotovHopfield(8, p=3.0, k=2, epochs=30, lr=0.04).fit(x)
    norms = kh.weight_.abs().pow(3).sum(1).pow(1 / 3)
    wins = torch.bincount(p_current(kh.weight_, x, 3.0).argmax(1), minlength=8)
    often = wins >= 100  # units winning on >= 5 % of the data have converged
    assert int(often.sum()) >= 4
    assert torch.allclose(norms[often], torch.ones(int(often.sum())), atol=0.01), norms
    assert float((norms - 1).abs().mean()) < 0.2  # from about 2.9 at N(0, 1) initialisation
