"""GaussianMixture against scikit-learn (estimator checks, identical EM steps, final
likelihoods), robustness, torch/NumPy in-out, and the two-process distributed fit."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SKGaussianMixture
from sklearn.utils.estimator_checks import parametrize_with_checks

from implicit_em.mixture import COVARIANCE_TYPES, GaussianMixture


def _blobs(seed=0, n=200, offset=0.0):
    rng = np.random.default_rng(seed)
    return (
        offset
        + np.r_[
            rng.normal(-2, 1, (n, 3)),
            rng.normal(2, 0.5, (n, 3)),
            rng.normal([0, 4, 0], 0.7, (n, 3)),
        ]
    )


@parametrize_with_checks(
    [
        GaussianMixture(),
        GaussianMixture(solver="gradient", optimizer="adam", max_iter=20, covariance_type="diag"),
        GaussianMixture(solver="gradient", optimizer="preconditioned", covariance_type="tied"),
    ]
)
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def _init(X, ct, k=3):
    means = X[[0, 250, 500]]
    d = X.shape[1]
    prec = {
        "full": np.stack([np.eye(d) * 0.8] * k),
        "tied": np.eye(d) * 0.8,
        "diag": np.full((k, d), 0.8),
        "spherical": np.full(k, 0.8),
    }[ct]
    return {"weights_init": [0.3, 0.3, 0.4], "means_init": means, "precisions_init": prec}


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
@pytest.mark.parametrize("n_iter", [1, 7])
def test_em_steps_equal_scikit_learn(ct, n_iter):
    X = _blobs()
    kw = dict(covariance_type=ct, max_iter=n_iter, tol=0.0, **_init(X, ct))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = SKGaussianMixture(3, **kw).fit(X)
        ours = GaussianMixture(3, **kw).fit(X)
    for attr in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(
            getattr(ours, attr), getattr(ref, attr), rtol=1e-9, atol=1e-10, err_msg=attr
        )
    assert ours.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-10)
    np.testing.assert_allclose(ours.score_samples(X), ref.score_samples(X), rtol=1e-10)
    assert ours.bic(X) == pytest.approx(ref.bic(X)) and ours.aic(X) == pytest.approx(ref.aic(X))


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_gradient_solver_reaches_the_em_likelihood(ct):
    X = _blobs(1)
    ref = SKGaussianMixture(3, covariance_type=ct, random_state=0, tol=1e-8, max_iter=500).fit(X)
    g = GaussianMixture(
        3,
        covariance_type=ct,
        solver="gradient",
        optimizer="adam",
        random_state=0,
        tol=1e-7,
        max_iter=1000,
        learning_rate=0.05,
    ).fit(X)
    assert g.converged_
    assert abs(g.lower_bound_ - ref.lower_bound_) < 1e-3 * abs(ref.lower_bound_)
    lbfgs = GaussianMixture(
        3,
        covariance_type=ct,
        solver="gradient",
        optimizer="lbfgs",
        random_state=0,
        tol=1e-9,
        max_iter=100,
        learning_rate=1.0,
    ).fit(X)
    assert abs(lbfgs.lower_bound_ - ref.lower_bound_) < 1e-3 * abs(ref.lower_bound_)


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
@pytest.mark.parametrize("n_iter", [1, 7])
def test_preconditioned_gradient_steps_are_em_steps(ct, n_iter):
    """Autograd's gradient times the Xu-Jordan preconditioner is exactly one EM step."""
    X = _blobs(3)
    kw = dict(covariance_type=ct, max_iter=n_iter, tol=0.0, **_init(X, ct))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        em = GaussianMixture(3, **kw).fit(X)
        pg = GaussianMixture(3, solver="gradient", optimizer="preconditioned", **kw).fit(X)
        half = GaussianMixture(
            3, solver="gradient", optimizer="preconditioned", learning_rate=0.5, **kw
        ).fit(X)
    for attr in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(pg, attr), getattr(em, attr), rtol=0, atol=1e-10)
    assert pg.lower_bound_history_ == pytest.approx(em.lower_bound_history_, rel=1e-12)
    if n_iter == 1:  # a half step lands half-way between the start and the EM update
        np.testing.assert_allclose(
            half.means_, (em.means_ + np.asarray(kw["means_init"])) / 2, atol=1e-10
        )


def test_preconditioned_mini_batches_reach_the_em_likelihood():
    X = _blobs(4)
    ref = GaussianMixture(3, random_state=0, tol=1e-8).fit(X)
    g = GaussianMixture(
        3,
        solver="gradient",
        optimizer="preconditioned",
        batch_size=150,
        learning_rate=0.2,  # a constant step leaves noise of order learning_rate
        max_iter=30,
        tol=0.0,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        g.fit(X)
    assert abs(g.score(X) - ref.score(X)) < 1e-3 * abs(ref.score(X))
    g.partial_fit(X)  # continues from the fitted state
    assert len(g.lower_bound_history_) == 31
    for lr in (0, 1.5):
        with pytest.raises(ValueError, match="0 < learning_rate <= 1"):
            GaussianMixture(solver="gradient", optimizer="preconditioned", learning_rate=lr).fit(X)


def test_mini_batches_and_partial_fit_improve_the_bound():
    X = _blobs(2)
    g = GaussianMixture(
        3, solver="gradient", optimizer="adam", batch_size=64, max_iter=5, random_state=0,
        covariance_type="diag",
    )  # fmt: skip
    g.partial_fit(X)
    first = g.lower_bound_
    for _ in range(10):
        g.partial_fit(X)
    assert g.lower_bound_ > first and len(g.lower_bound_history_) == 11


@pytest.mark.parametrize(
    "kw", [{}, {"solver": "gradient", "optimizer": "preconditioned", "covariance_type": "full"}]
)
def test_float32_has_no_catastrophic_cancellation(kw):
    X = _blobs(3, offset=1e4)  # large offset, small variances
    kw = {"covariance_type": "diag", "random_state": 0, **kw}
    ref = GaussianMixture(3, **kw).fit(X)
    f32 = GaussianMixture(3, **kw).fit(X.astype(np.float32))
    order = np.argsort(ref.means_[:, 1]), np.argsort(f32.means_[:, 1])
    np.testing.assert_allclose(
        f32.covariances_[order[1]], ref.covariances_[order[0]], rtol=1e-3, atol=1e-4
    )


def test_torch_in_torch_out_and_numpy_in_numpy_out():
    X = _blobs(4)
    Xt = torch.tensor(X, dtype=torch.float32)
    g = GaussianMixture(3, random_state=0).fit(Xt)
    assert isinstance(g.predict(Xt), torch.Tensor) and g.predict_proba(Xt).dtype == torch.float32
    assert isinstance(g.score_samples(X), np.ndarray) and isinstance(g.score(Xt), float)
    Xs, ys = g.sample(50)
    assert isinstance(Xs, torch.Tensor) and Xs.shape == (50, 3) and len(ys) == 50
    g.fit(Xt)  # fitting twice works
    g.fit(X)
    assert isinstance(g.sample(5)[0], np.ndarray)


def test_bad_input_and_singular_covariance():
    X = _blobs(5)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixture(2).fit(bad)
    with pytest.raises(ValueError, match="NaN or infinity"):
        GaussianMixture(2).fit(torch.tensor(bad))
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(5).fit(X[:3])
    with pytest.raises(ValueError, match="2D"):
        GaussianMixture(2).fit(torch.zeros(3, 2, 2))
    with pytest.raises(ValueError, match="covariance_type"):
        GaussianMixture(2, covariance_type="banded").fit(X)
    dup = np.repeat(X[:1], 10, axis=0)
    with pytest.raises(ValueError, match="increase reg_covar"):
        GaussianMixture(1, reg_covar=0.0).fit(dup)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        GaussianMixture(3, max_iter=1, tol=0.0, random_state=0).fit(X)


@pytest.mark.parametrize("solver", ["em", "gradient", "gradient:preconditioned"])
def test_two_gloo_processes_match_one_process(tmp_path, solver, run_script):
    script = "gmm_ddp_script.py"
    single, shards = tmp_path / "single.npz", tmp_path / "ddp.npz"
    run_script(script, solver, single)
    run_script(script, solver, shards, processes=2)
    a, b = np.load(single), np.load(shards)
    for key in ("means", "cov", "weights", "bound"):
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-6, err_msg=key)


def test_an_emptied_component_is_reseeded_and_reported():
    X = _blobs(6)
    far = [*X[[0, 250]].tolist(), [1e3, 1e3, 1e3]]  # the third component owns nothing
    gm = GaussianMixture(
        3,
        covariance_type="diag",
        weights_init=[0.4, 0.4, 0.2],
        means_init=far,
        max_iter=200,
        random_state=0,
    )
    with pytest.warns(RuntimeWarning, match="re-seeded"):
        gm.fit(X)
    assert gm.n_reseeded_ >= 1 and np.all(gm.weights_ > 0.05)
    assert np.abs(gm.means_).max() < 20  # no component left at 1e3
    ref = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    assert gm.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-2)


# ---------------------------------------------------------------- robustness (issue 10)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_half_precision_input_is_fitted_in_float32_and_returned_in_its_dtype(
    dtype, covariance_type
):
    X = torch.as_tensor(_blobs(n=60), dtype=torch.float32)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X.to(dtype))
    ref = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(
        X.to(dtype).float()
    )
    assert np.isfinite(gm.lower_bound_) and np.isfinite(gm.weights_).all()
    assert gm.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-6)
    proba = gm.predict_proba(X[:5].to(dtype))
    assert proba.dtype == dtype and torch.isfinite(proba).all()
    assert torch.equal(gm.predict(X.to(dtype)), ref.predict(X.to(dtype).float()))
    assert gm.sample(4)[0].dtype == dtype
    with pytest.raises(TypeError, match="float32 or float64"):
        GaussianMixture(2, dtype=dtype).fit(X)


@pytest.mark.parametrize("optimizer", ["adam", "preconditioned"])
def test_gradient_solver_is_scale_invariant(optimizer):
    """Scaling the data (and reg_covar, which is in the data's squared units) by s moves
    the mean log-likelihood by -d log s and nothing else; with reg_covar left at its
    default the bound stays within 0.02 (before: -7623 against EM's -21 at s = 1e4)."""
    X = _blobs(seed=1, n=80)
    kw = {"solver": "gradient", "optimizer": optimizer, "max_iter": 200, "random_state": 0}
    exact, default = [], []
    for s in (1.0, 1e4, 1e8):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm = GaussianMixture(3, reg_covar=1e-6 * s**2, **kw).fit(X * s)
            exact.append(gm.lower_bound_ + X.shape[1] * np.log(s))
            gm = GaussianMixture(3, **kw).fit(X * s)
            default.append(gm.lower_bound_ + X.shape[1] * np.log(s))
    em = GaussianMixture(3, random_state=0).fit(X).lower_bound_
    assert exact[1] == pytest.approx(exact[0], abs=1e-9)
    assert exact[2] == pytest.approx(exact[0], abs=1e-9)
    assert default[1] == pytest.approx(default[0], abs=0.02)
    assert default[2] == pytest.approx(default[0], abs=0.02)
    assert min(default) > em - 0.05  # and the bound is EM's, not stuck far below


def test_requires_grad_input_is_detached_up_front():
    X = torch.as_tensor(_blobs(n=30), dtype=torch.float32).requires_grad_(True)
    gm = GaussianMixture(3, random_state=0).fit(X)
    out = gm.predict_proba(X)
    assert not out.requires_grad and torch.isfinite(out).all()


def test_far_points_get_finite_responsibilities_and_a_warned_score():
    X = _blobs(n=60)
    for ct in COVARIANCE_TYPES:
        gm = GaussianMixture(3, covariance_type=ct, random_state=0).fit(X)
        far = np.array([[1e200, 1e200, 1e200], [-1e200, 0.0, 1e150]])
        proba = gm.predict_proba(far)
        assert np.isfinite(proba).all() and np.allclose(proba.sum(1), 1)
        # the limit: the component whose covariance is widest along x/|x| wins
        cov = gm.covariances_
        u = far / np.abs(far).max(1, keepdims=True)
        if ct == "full":
            prec = np.linalg.inv(cov)
        elif ct == "tied":
            prec = np.repeat(np.linalg.inv(cov)[None], 3, 0)
        elif ct == "diag":
            prec = np.stack([np.diag(1 / c) for c in cov])
        else:
            prec = np.stack([np.eye(3) / c for c in cov])
        q = np.einsum("nd,kde,ne->nk", u, prec, u)
        if ct != "tied":  # tied: equal q, the tie is shared by weights and means
            assert (gm.predict(far) == q.argmin(1)).all()
        with pytest.warns(RuntimeWarning, match="below the floating-point range"):
            assert np.isneginf(gm.score_samples(far)).all()


@pytest.mark.parametrize(("optimizer", "lr"), [("adam", 1e6), ("sgd", 10.0)])
def test_diverging_gradient_fit_gives_the_solver_advice(optimizer, lr):
    X = _blobs(n=40)
    gm = GaussianMixture(3, solver="gradient", optimizer=optimizer, learning_rate=lr)
    with pytest.raises(FloatingPointError, match=r"lower learning_rate.*preconditioned"):
        gm.fit(X)


def test_warm_start_with_another_shape_says_so():
    X = _blobs(n=40)
    gm = GaussianMixture(3, warm_start=True, random_state=0).fit(X)
    with pytest.raises(ValueError, match="n_features 3 -> 2"):
        gm.fit(X[:, :2])
    gm.set_params(covariance_type="diag")
    with pytest.raises(ValueError, match="covariance_type 'full' -> 'diag'"):
        gm.fit(X)
    gm.set_params(covariance_type="full", n_components=2)
    with pytest.raises(ValueError, match="n_components 3 -> 2"):
        gm.fit(X)
    gm.set_params(warm_start=False)
    assert np.isfinite(gm.fit(X).lower_bound_)  # a cold start is fine


def test_meta_device_is_refused_at_the_entry_point():
    with pytest.raises(ValueError, match="meta"):
        GaussianMixture(2).fit(torch.empty(10, 2, device="meta"))
    with pytest.raises(ValueError, match="meta"):
        GaussianMixture(2, device="meta").fit(torch.randn(10, 2))
