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


@pytest.mark.parametrize(("p", "k"), [(2.0, 2), (3.0, 4), (3.0, 7), (2.5, 3), (4.0, 2)])
def test_krotov_update_is_the_notebook_rule(p, k):
    # 40 samples over 8 units: units win (and lose) for several samples at once, so the
    # scattered sums add up repeated rows
    w, x = RNG.standard_normal((8, 9)), RNG.random((40, 9))
    want = _krotov_reference(w, x, p, k, 0.4)
    got = krotov_update(torch.tensor(w), torch.tensor(x), p, k, 0.4).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    buffer = torch.full(w.shape, float("nan"), dtype=torch.float64)  # stale contents
    into = krotov_update(torch.tensor(w), torch.tensor(x), p, k, 0.4, buffer=buffer)
    assert into is buffer
    np.testing.assert_allclose(into.numpy(), want, rtol=1e-10, atol=1e-12)


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


def test_currents_are_dot_products_of_unit_inputs():
    """``currents`` (what the paper's top layer reads): ``W x / ||x||`` in float64, the
    same for any input scale, and before the features' power."""
    x = torch.rand(50, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    kh = KrotovHopfield(6, epochs=2, seed=0).fit(x)
    w = kh.weight_.double().numpy()
    xs = x.numpy()
    want = (xs / np.linalg.norm(xs, axis=1, keepdims=True)) @ w.T
    np.testing.assert_allclose(kh.currents(x).double().numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(kh.currents(100 * x).numpy(), kh.currents(x).numpy(), atol=1e-5)
    assert kh.power == 4.5  # the paper's hidden activation, relu(.)^4.5
    with pytest.raises(RuntimeError):
        KrotovHopfield(6).currents(x)


def test_defaults_are_the_authors_for_the_width():
    """The notebook's p 2, k 2 below PAPER_WIDTH units (it was written for 100), the
    paper's p 3, k 7 (its 2000-unit network) from there on; given values win."""
    from implicit_em.baselines.krotov_hopfield import PAPER_WIDTH

    small, wide = KrotovHopfield(64), KrotovHopfield(PAPER_WIDTH)
    assert (small.p, small.k, wide.p, wide.k) == (2.0, 2, 3.0, 7)
    assert (small.epochs, small.power) == (200, 4.5)
    assert KrotovHopfield(64, p=3.0, k=7).k == 7 and KrotovHopfield(2000, k=2).k == 2
