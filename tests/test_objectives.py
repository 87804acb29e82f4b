"""Objectives against NumPy/SciPy/scikit-learn references, gradcheck, robustness (NaN-free
training at large weights), and distributed moments equal to one process."""

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.covariance import ledoit_wolf

from implicit_em import objectives as O


def _z(n=200, d=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=dtype)
    return torch.randn(n, d, generator=g, dtype=dtype) @ a


def test_gaussian_infomax_matches_numpy():
    z = _z()
    c = np.cov(z.numpy().T)
    off = c - np.diag(np.diag(c))
    want = -np.linalg.slogdet(c)[1] + 0.3 * (off**2).sum()
    got, terms = O.gaussian_infomax(z, 0.3, shrinkage=0.0, eps=0.0, return_terms=True)
    assert float(got) == pytest.approx(want, rel=1e-10)
    assert float(terms["logdet"]) == pytest.approx(np.linalg.slogdet(c)[1], rel=1e-10)
    corr = O.gaussian_infomax(z, correlation=True, shrinkage=0.0, eps=0.0)
    assert float(corr) == pytest.approx(-np.linalg.slogdet(np.corrcoef(z.numpy().T))[1])


def test_ledoit_wolf_matches_scikit_learn_and_auto_shrinkage_handles_wide_batches():
    z = _z(n=30, d=10)
    assert O.ledoit_wolf_shrinkage(z) == pytest.approx(ledoit_wolf(z.numpy())[1], rel=1e-8)
    wide = _z(n=8, d=20)  # features >= batch: sample covariance singular
    loss = O.gaussian_infomax(wide)
    assert torch.isfinite(loss)


def test_variance_terms():
    z = _z()
    base = O.log_variance_loss(z, eps=0.0)
    # unbounded below: scaling by 10 lowers it by 2 D log 10, for ever
    assert float(O.log_variance_loss(10 * z, eps=0.0)) == pytest.approx(
        float(base) - 2 * 5 * math.log(10), rel=1e-10
    )
    assert float(base) == pytest.approx(-np.log(z.numpy().var(0, ddof=1)).sum(), rel=1e-10)
    assert float(O.variance_hinge(100 * z, gamma=1.0)) == 0.0
    small = O.variance_hinge(1e-3 * z, gamma=1.0)
    assert 0.9 < float(small) < 1.0


def test_decorrelation_terms():
    z = _z()
    c = np.corrcoef(z.numpy().T)
    assert float(O.decorrelation_loss(z, eps=0.0)) == pytest.approx(
        ((c - np.diag(np.diag(c))) ** 2).sum(), rel=1e-8
    )
    loss, terms = O.cross_decorrelation_loss(z, z, lam=0.1, eps=0.0, return_terms=True)
    assert float(terms["on_diag"]) < 1e-20
    assert float(loss) == pytest.approx(0.1 * ((c - np.diag(np.diag(c))) ** 2).sum(), rel=1e-8)


def test_weight_terms():
    q, _ = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64))
    assert float(O.weight_orthogonality(3 * q)) < 1e-20
    w = torch.randn(6, 6, dtype=torch.float64)
    assert float(O.neg_log_abs_det(w)) == pytest.approx(-np.linalg.slogdet(w.numpy())[1])
    wide = torch.randn(3, 7, dtype=torch.float64)
    want = -0.5 * np.linalg.slogdet(wide.numpy() @ wide.numpy().T)[1]
    assert float(O.neg_log_det_gram(wide)) == pytest.approx(want)
    assert float(O.neg_log_det_gram(wide.T)) == pytest.approx(want)
    with pytest.raises(ValueError, match="square"):
        O.neg_log_abs_det(wide)


def test_bell_sejnowski_matches_its_formula():
    z, w = _z(d=4), torch.randn(4, 4, dtype=torch.float64)
    zn = z.numpy()
    sig = 1 / (1 + np.exp(-zn))
    want = -np.log(sig * (1 - sig)).sum(1).mean() - np.linalg.slogdet(w.numpy())[1]
    assert float(O.bell_sejnowski_infomax(z, w)) == pytest.approx(want, rel=1e-10)
    t = -np.log(1 - np.tanh(zn) ** 2).sum(1).mean() - np.linalg.slogdet(w.numpy())[1]
    assert float(O.bell_sejnowski_infomax(z, w, "tanh")) == pytest.approx(t, rel=1e-8)
    assert torch.isfinite(O.bell_sejnowski_infomax(z * 100, w, "extended"))


def _hsic_reference(x, y):
    def k(a):
        a = a.reshape(len(a), -1)
        d2 = ((a[:, None, :] - a[None, :, :]) ** 2).sum(-1)
        iu = np.triu_indices(len(a), 1)
        s = np.median(np.sqrt(d2[iu]))
        return np.exp(-d2 / (2 * s**2))

    n = len(x)
    h = np.eye(n) - 1.0 / n
    return np.trace(k(x) @ h @ k(y) @ h) / (n - 1) ** 2


def test_hsic_estimators():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 2))
    y = np.sin(2 * x[:, :1]) + 0.1 * rng.normal(size=(150, 1))
    xt, yt = torch.tensor(x), torch.tensor(y)
    assert float(O.hsic(xt, yt)) == pytest.approx(_hsic_reference(x, y), rel=1e-8)
    dep = float(O.hsic(xt, yt, estimator="unbiased"))
    indep = float(O.hsic(xt, torch.tensor(rng.normal(size=(150, 1))), estimator="unbiased"))
    assert dep > 10 * abs(indep)
    rff = float(O.hsic_rff(xt, yt, n_features=4096))
    assert rff == pytest.approx(float(O.hsic(xt, yt)), rel=0.2)


def test_pairwise_hsic_sums_pairs():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(120, 1))
    z = torch.tensor(np.c_[a, a**2, rng.normal(size=(120, 1))])
    want = sum(float(O.hsic(z[:, i], z[:, j])) for i in range(3) for j in range(i + 1, 3))
    assert float(O.pairwise_hsic(z)) == pytest.approx(want, rel=1e-8)
    assert float(O.pairwise_hsic(z, n_features=2048)) == pytest.approx(want, rel=0.25)


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


def test_knn_entropy_and_total_correlation():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(3000, 3, generator=g, dtype=torch.float64)
    assert float(O.knn_entropy(z)) == pytest.approx(1.5 * math.log(2 * math.pi * math.e), abs=0.1)
    # a correlated Gaussian: TC = -1/2 log det Corr (scipy-free closed form, NumPy det)
    y = z @ torch.tensor([[1, 0.8, 0.3], [0, 0.6, 0.5], [0, 0, 0.8]], dtype=torch.float64)
    true = -0.5 * np.linalg.slogdet(np.corrcoef(y.numpy().T))[1]
    assert float(O.total_correlation(y, "gaussian")) == pytest.approx(true, rel=1e-10)
    assert float(O.total_correlation(y)) == pytest.approx(true, abs=0.05)
    # independent non-Gaussian units: ~0; y = x^2 + noise: the spacing TC sees what the
    # Gaussian TC (zero correlation) cannot
    laplace = torch.log(torch.rand(3000, 1, generator=g) / torch.rand(3000, 1, generator=g))
    u = torch.cat([torch.rand(3000, 1, generator=g), laplace], 1)
    x = torch.randn(3000, 1, generator=g, dtype=torch.float64)
    w = torch.cat([x, x**2 + 0.1 * torch.randn(3000, 1, generator=g, dtype=torch.float64)], 1)
    assert abs(float(O.total_correlation(u.double()))) < 0.1  # estimator bias ~0.05 nat
    assert float(O.total_correlation(w)) > 1.0 > 0.01 > float(O.total_correlation(w, "gaussian"))
    batch = O.total_correlation(torch.stack([y[:, :2], u.double(), w]))  # groups at once
    assert batch.shape == (3,) and float(batch[2]) == pytest.approx(float(O.total_correlation(w)))
    with pytest.raises(ValueError, match="z needs more than k = 5 samples"):
        O.knn_entropy(z[:3], k=5)
    with pytest.raises(ValueError, match="estimator"):
        O.total_correlation(z, "kde")


def test_gradcheck():
    z = _z(n=12, d=3).requires_grad_(True)
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


def test_covariance_objective_equals_the_separate_terms():
    g = torch.Generator().manual_seed(6)
    z = torch.randn(40, 5, generator=g, dtype=torch.float64) @ torch.randn(
        5, 5, generator=g, dtype=torch.float64
    )
    loss, terms = O.covariance_objective(
        z, logdet=1.0, offdiag=0.3, decorrelation=2.0, log_variance=0.5, variance_hinge=4.0
    )
    want = (
        O.gaussian_infomax(z, 0.3)
        + 2.0 * O.decorrelation_loss(z)
        + 0.5 * O.log_variance_loss(z)
        + 4.0 * O.variance_hinge(z)
    )
    torch.testing.assert_close(loss, want)
    assert set(terms) == {"logdet", "offdiag", "decorrelation", "log_variance", "variance_hinge"}
    wide = torch.randn(8, 12, generator=g, dtype=torch.float64)  # features >= batch: shrinkage
    torch.testing.assert_close(
        O.covariance_objective(wide, logdet=1.0)[0], O.gaussian_infomax(wide)
    )
    zz = z.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda v: O.covariance_objective(v, logdet=1.0, decorrelation=1.0)[0], (zz,)
    )
    module = O.CovarianceObjective(logdet=1.0, offdiag=0.3)
    torch.testing.assert_close(module(z), O.gaussian_infomax(z, 0.3))
    assert set(module.last_terms) == {"logdet", "offdiag"}
    with pytest.raises(ValueError, match="non-zero weight"):
        O.covariance_objective(z)
    with pytest.raises(ValueError, match="unknown terms"):
        O.CovarianceObjective(logdett=1.0)


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


OBJECTIVES = {
    "gaussian": lambda z, m: O.gaussian_infomax(z, 0.5),
    "correlation": lambda z, m: O.gaussian_infomax(z, correlation=True),
    "log_variance+orth": lambda z, m: O.log_variance_loss(z) + O.weight_orthogonality(m.weight),
    "hinge+decorrelation": lambda z, m: O.variance_hinge(z) + O.decorrelation_loss(z),
    "hsic_rff": lambda z, m: O.pairwise_hsic(z, n_features=32) + O.variance_hinge(z),
    "bell_sejnowski": lambda z, m: O.bell_sejnowski_infomax(z, m.weight, "extended"),
    "entropy": lambda z, m: O.responsibility_entropy(z, "balance") + O.neg_log_abs_det(m.weight),
}


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


def test_two_gloo_processes_match_one_process(tmp_path, run_script):
    script = "objectives_ddp_script.py"
    run_script(script, tmp_path / "one.pt")
    run_script(script, tmp_path / "two.pt", processes=2)
    one, two = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")
    for name in one:
        torch.testing.assert_close(two[name][0], one[name][0], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(two[name][1], one[name][1], rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------- robustness (issue 10)


def test_total_correlation_leaves_constant_units_out_with_a_warning():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 1, generator=g, dtype=torch.float64)
    z = torch.cat([x, x + 0.3 * torch.randn(600, 1, generator=g, dtype=torch.float64)], 1)
    with_const = torch.cat([z, torch.full((600, 1), 2.0, dtype=torch.float64)], 1)
    for estimator in ("spacing", "gaussian"):
        with pytest.warns(RuntimeWarning, match="constant unit"):
            tc = O.total_correlation(with_const, estimator)
        assert float(tc) == pytest.approx(float(O.total_correlation(z, estimator)), abs=1e-9)
        with pytest.warns(RuntimeWarning, match="constant unit"):
            alone = O.total_correlation(torch.cat([x, torch.ones_like(x)], 1), estimator)
        assert float(alone) == 0.0  # one informative unit: nothing to be redundant with
    with pytest.raises(ValueError, match="more samples than units"):
        O.total_correlation(z[:2], "gaussian")  # batch 2: was +inf


def test_gaussian_entropy_of_a_constant_unit_is_finite_warned_and_has_a_zero_gradient():
    z = torch.cat([torch.randn(32, 2), torch.full((32, 1), 3.0)], 1).requires_grad_(True)
    with pytest.warns(RuntimeWarning, match="constant"):
        h = O.gaussian_entropy(z)
    assert torch.isfinite(h).all()
    h.sum().backward()
    assert torch.isfinite(z.grad).all() and float(z.grad[:, 2].abs().max()) == 0.0


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


def test_weight_volume_is_scale_safe_and_refuses_singular_weights():
    w = torch.randn(4, 4, dtype=torch.float64)
    for s in (1e-30, 1e30):
        ref = float(O.neg_log_abs_det(w)) - 4 * math.log(s)
        assert float(O.neg_log_abs_det((w * s).float())) == pytest.approx(ref, rel=1e-5)
        wide = torch.randn(3, 6, dtype=torch.float64)
        ref = float(O.neg_log_det_gram(wide)) - 3 * math.log(s)
        assert float(O.neg_log_det_gram((wide * s).float())) == pytest.approx(ref, rel=1e-5)
    with pytest.raises(ValueError, match="singular"):
        O.neg_log_abs_det(torch.ones(3, 3))
