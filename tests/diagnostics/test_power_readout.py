"""Krotov & Hopfield's top layer as a read-out: its loss against a float64 formula, scale
invariance, and learning what a linear read-out of ``relu(h)^n`` can learn."""

import numpy as np
import pytest
import torch

from implicit_em import diagnostics as D
from implicit_em.data import load_dataset
from implicit_em.diagnostics.power_top_layer import power_loss


def test_power_loss_is_the_papers_sum():
    g = torch.Generator().manual_seed(0)
    c = torch.rand(5, 4, generator=g, dtype=torch.float64) * 2 - 1
    labels = torch.tensor([0, 3, 1, 1, 2])
    t = -np.ones((5, 4))
    t[np.arange(5), labels.numpy()] = 1
    want = (np.abs(c.numpy() - t) ** 6).sum(1).mean()
    assert float(power_loss(c, labels, 6.0)) == pytest.approx(want, rel=1e-12)
    c.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: power_loss(v, labels, 6.0), (c,))


def test_power_readout_learns_digits_and_ignores_the_feature_scale():
    ds = load_dataset("digits", seed=0)
    x, xt = torch.as_tensor(ds.X_train).float(), torch.as_tensor(ds.X_test).float()
    kw = {"epochs": 40, "lr": 0.1, "n": 1.0}  # a power of 1 on pixels: a linear read-out
    out = D.power_readout(x, ds.y_train, xt, ds.y_test, **kw)
    assert out["test_accuracy"] > 0.9 and out["scale"] == pytest.approx(float(x.max()))
    big = D.power_readout(x * 1000, ds.y_train, xt * 1000, ds.y_test, **kw)
    assert abs(big["test_accuracy"] - out["test_accuracy"]) <= 2 / len(xt)
    shuffled = np.random.default_rng(0).permutation(ds.y_train)
    assert D.power_readout(x, shuffled, xt, ds.y_test, **kw)["test_accuracy"] < 0.25
    with pytest.raises(ValueError, match="all zero"):
        D.power_readout(torch.zeros(10, 3), torch.arange(10) % 2, x[:2, :3], ds.y_test[:2])


@pytest.mark.parametrize("m", [6.0, 3.0, 2.5])
def test_power_gradient_is_autograds_in_float64(m):
    from implicit_em.diagnostics.power_top_layer import power_gradient

    g = torch.Generator().manual_seed(0)
    f = torch.rand(30, 12, dtype=torch.float64, generator=g) ** 4.5
    labels = torch.randint(0, 4, (30,), generator=g)
    s = torch.randn(4, 12, dtype=torch.float64, generator=g).requires_grad_()
    beta = 0.7  # outputs well inside tanh's bend, where 1 - c^2 matters
    power_loss(torch.tanh(beta * f @ s.T), labels, m).backward()
    targets = 2 * torch.nn.functional.one_hot(labels, 4).double() - 1
    got = power_gradient(f, targets, s.detach(), beta, m)
    assert float(s.grad.abs().max()) > 1e-3  # a gradient worth comparing
    torch.testing.assert_close(got, s.grad, rtol=1e-12, atol=1e-14)
