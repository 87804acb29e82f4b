"""All objectives together: gradcheck, module forms, robustness (NaN-free training at large
weights, non-finite and empty batches)."""

import math
import warnings

import pytest
import torch

from helpers import correlated
from implicit_em import objectives as O

OBJECTIVES = {
    "gaussian": lambda z, m: O.gaussian_infomax(z, 0.5),
    "correlation": lambda z, m: O.gaussian_infomax(z, correlation=True),
    "log_variance+orth": lambda z, m: O.log_variance_loss(z) + O.weight_orthogonality(m.weight),
    "hinge+decorrelation": lambda z, m: O.variance_hinge(z) + O.decorrelation_loss(z),
    "hsic_rff": lambda z, m: O.pairwise_hsic(z, n_features=32) + O.variance_hinge(z),
    "bell_sejnowski": lambda z, m: O.bell_sejnowski_infomax(z, m.weight, "extended"),
    "entropy": lambda z, m: O.responsibility_entropy(z, "balance") + O.neg_log_abs_det(m.weight),
}


def test_gradcheck():
    z = correlated(n=12, d=3).requires_grad_(True)
    w = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    for fn in (
        lambda v: O.gaussian_infomax(v, 0.2, shrinkage=0.1),
        lambda v: O.gaussian_infomax(v, correlation=True),
        lambda v: O.decorrelation_loss(v),
        lambda v: O.cross_decorrelation_loss(v, v.flip(0)),
        lambda v: O.log_variance_loss(v),
        lambda v: O.variance_hinge(v, gamma=10.0),
        lambda v: O.pairwise_hsic(v, bandwidth=1.0),
        lambda v: O.responsibility_entropy(v, "balance"),
    ):
        assert torch.autograd.gradcheck(fn, (z,))
    assert torch.autograd.gradcheck(lambda v, m: O.bell_sejnowski_infomax(v, m), (z, w))


def test_module_forms_equal_the_functions():
    g = torch.Generator().manual_seed(5)
    z, z2 = torch.randn(2, 64, 4, generator=g, dtype=torch.float64)
    w = torch.randn(4, 4, generator=g, dtype=torch.float64)
    pairs = [
        (O.GaussianInfoMax(0.3), (z,), O.gaussian_infomax(z, 0.3)),
        (O.BellSejnowskiInfoMax("tanh"), (z, w), O.bell_sejnowski_infomax(z, w, "tanh")),
        (O.Decorrelation(), (z,), O.decorrelation_loss(z)),
        (O.CrossDecorrelation(0.1), (z, z2), O.cross_decorrelation_loss(z, z2, 0.1)),
        (O.LogVariance(), (z,), O.log_variance_loss(z)),
        (O.VarianceHinge(2.0), (z,), O.variance_hinge(z, 2.0)),
        (O.PairwiseHSIC(None), (z,), O.pairwise_hsic(z)),
        (O.PairwiseHSIC(16, seed=3), (z,), O.pairwise_hsic(z, n_features=16, seed=3)),
        (O.ResponsibilityEntropy("balance"), (z,), O.responsibility_entropy(z, "balance")),
        (O.WeightVolume("neg_log_abs_det"), (w,), O.neg_log_abs_det(w)),
        (O.WeightVolume("neg_log_det_gram"), (w[:2],), O.neg_log_det_gram(w[:2])),
        (O.WeightVolume(), (w,), O.weight_orthogonality(w)),
    ]
    for module, args, want in pairs:
        torch.testing.assert_close(module(*args), want, msg=repr(module))
    module = O.CrossDecorrelation()
    module(z, z2)
    assert set(module.last_terms) == {"on_diag", "off_diag"}
    for bad in (
        lambda: O.WeightVolume("det"),
        lambda: O.BellSejnowskiInfoMax("relu"),
        lambda: O.ResponsibilityEntropy("flat"),
    ):
        with pytest.raises(ValueError, match=r"must be one of|must be 'sharpen'"):
            bad()


def test_robust_inputs():
    with pytest.raises(ValueError, match="at least 2 samples"):
        O.gaussian_infomax(torch.randn(1, 3))
    with pytest.raises(ValueError, match="2-D"):
        O.decorrelation_loss(torch.randn(4, 3, 2))
    half = O.gaussian_infomax(torch.randn(64, 4).bfloat16())
    assert half.dtype == torch.float32 and torch.isfinite(half)
    z = torch.randn(32, 4)
    z[:, 2] = 1.0  # a constant feature
    with pytest.warns(RuntimeWarning, match="constant"):
        assert torch.isfinite(O.gaussian_infomax(z))
    with pytest.warns(RuntimeWarning, match="constant"):
        assert torch.isfinite(O.log_variance_loss(z))


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_2000_steps_at_large_weights_stay_finite(name):
    torch.manual_seed(0)
    layer = torch.nn.Linear(6, 6)
    with torch.no_grad():
        layer.weight.mul_(100 / layer.weight.abs().max())  # weights up to 100
    opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
    x = torch.randn(32, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(2000):
            opt.zero_grad()
            loss = OBJECTIVES[name](layer(x), layer)
            assert torch.isfinite(loss)
            loss.backward()
            assert all(torch.isfinite(p.grad).all() for p in layer.parameters())
            opt.step()


def test_variance_hinge_and_other_objectives_on_no_units_give_zero():
    z = torch.randn(8, 0)
    assert float(O.variance_hinge(z)) == 0.0
    assert float(O.decorrelation_loss(z)) == 0.0
    loss, _ = O.covariance_objective(z, variance_hinge=1.0, logdet=1.0)
    assert float(loss) == 0.0


@pytest.mark.parametrize(
    "fn",
    [
        O.decorrelation_loss,
        O.variance_hinge,
        O.log_variance_loss,
        O.pairwise_hsic,
        lambda z: O.bell_sejnowski_infomax(z, torch.eye(z.shape[1])),
        O.gaussian_entropy,
        O.vasicek_entropy,
        lambda z: O.hsic(z, z),
        O.gaussian_infomax,
        lambda z: O.covariance_objective(z, logdet=1.0)[0],
    ],
)
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_objectives_refuse_non_finite_batches_with_one_clear_error(fn, bad):
    z = torch.randn(16, 3)
    z[4, 1] = bad
    with pytest.raises(ValueError, match=r"^z contains (NaN|inf)|^x contains (NaN|inf)"):
        fn(z)
