"""The covariance-type table against float64 references (SciPy, scikit-learn, direct sums)."""

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture as SKGaussianMixture

from implicit_em.mixture.gaussian import (
    COVARIANCE_TYPES,
    COVARIANCES,
    Covariance,
    SingularCovarianceError,
    design_matrix,
    design_weights,
    far_log_resp,
    log_gaussian_prob,
    n_parameters,
    split_moments,
)

K, D = 3, 4


def _problem(ct, seed=0):
    """Random data, means and SPD covariances of type ``ct`` (float64)."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(50, D, generator=g, dtype=torch.float64)
    means = torch.randn(K, D, generator=g, dtype=torch.float64)
    a = torch.randn(K, D, D, generator=g, dtype=torch.float64)
    full = a @ a.mT + 0.5 * torch.eye(D, dtype=torch.float64)
    cov = {
        "full": full,
        "tied": full[0],
        "diag": torch.diagonal(full, dim1=-2, dim2=-1).clone(),
        "spherical": torch.diagonal(full, dim1=-2, dim2=-1).mean(1),
    }[ct]
    return X, means, cov


def _dense(c: Covariance, cov):
    return np.stack([c.dense(cov.numpy(), k, D) for k in range(K)])


def test_the_table_names_every_type_once():
    assert COVARIANCE_TYPES == ("full", "tied", "diag", "spherical")
    assert all(isinstance(c, Covariance) and c.name == n for n, c in COVARIANCES.items())
    assert [c.reseeds for c in COVARIANCES.values()] == [True, False, True, True]
    with pytest.raises(TypeError, match="shared"):
        COVARIANCES["tied"].spread_cholesky(torch.ones(D))


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_log_density_matches_scipy(ct):
    X, means, cov = _problem(ct)
    c = COVARIANCES[ct]
    p = c.precision_cholesky(cov)
    got = log_gaussian_prob(X, means, p, c).numpy()
    dense = _dense(c, cov)
    want = np.stack(
        [multivariate_normal(means[k].numpy(), dense[k]).logpdf(X.numpy()) for k in range(K)], 1
    )
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_cholesky_round_trips_and_precisions_invert_covariances(ct):
    _, _, cov = _problem(ct)
    c = COVARIANCES[ct]
    p = c.precision_cholesky(cov)
    torch.testing.assert_close(c.covariances(p), cov, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(c.cholesky_from_precisions(c.precisions(p)), p)
    prec = np.stack([np.linalg.inv(m) for m in _dense(c, cov)])
    dense_prec = _dense(c, c.precisions(p))
    np.testing.assert_allclose(dense_prec, prec, rtol=1e-10, atol=1e-12)
    logdet = np.array([np.linalg.slogdet(m)[1] for m in prec]) / 2
    got = c.log_det(p, D).expand(K).numpy()
    np.testing.assert_allclose(got, logdet, rtol=1e-12)


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_non_spd_covariances_are_refused(ct):
    _, _, cov = _problem(ct)
    bad = -cov if ct in ("diag", "spherical") else cov - 100 * torch.eye(D, dtype=cov.dtype)
    with pytest.raises(SingularCovarianceError, match="reg_covar"):
        COVARIANCES[ct].precision_cholesky(bad)


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_design_product_is_the_weighted_log_density(ct):
    X, means, cov = _problem(ct)
    c = COVARIANCES[ct]
    p = c.precision_cholesky(cov)
    log_w = torch.log(torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64))
    got = design_matrix(X, c) @ design_weights(means, p, log_w, c).T
    torch.testing.assert_close(got, log_gaussian_prob(X, means, p, c) + log_w)


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_moment_scatter_is_the_centred_scatter(ct):
    X, _, _ = _problem(ct)
    c = COVARIANCES[ct]
    resp = torch.softmax(torch.randn(len(X), K, dtype=torch.float64), 1)
    nk, sx, sq = split_moments(resp.T @ design_matrix(X, c), D)
    mu = sx / nk[:, None]
    diff = X[None] - mu[:, None]  # (K, N, D)
    full = torch.einsum("kn,knd,kne->kde", resp.T, diff, diff)
    want = {
        "full": full,
        "tied": full.sum(0),
        "diag": torch.diagonal(full, dim1=-2, dim2=-1),
        "spherical": torch.diagonal(full, dim1=-2, dim2=-1).sum(1),
    }[ct]
    torch.testing.assert_close(c.scatter(sx, sq, nk), want)
    torch.testing.assert_close(nk, resp.sum(0))


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_parameter_count_matches_scikit_learn(ct):
    X = np.random.default_rng(0).normal(size=(40, D))
    sk = SKGaussianMixture(K, covariance_type=ct, random_state=0).fit(X)
    assert n_parameters(K, D, COVARIANCES[ct]) == sk._n_parameters()


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_far_rows_go_to_the_nearest_component(ct):
    X, means, cov = _problem(ct)
    c = COVARIANCES[ct]
    params = {"weights": torch.full((K,), 1 / K, dtype=X.dtype), "means": means}
    params["p"] = c.precision_cholesky(cov)
    far = 1e200 * (means[1] - means[0])[None]
    log_r = far_log_resp(far, params, c)
    assert torch.isfinite(log_r.logsumexp(1)).all()
    if ct == "tied":  # one shared covariance: every component is as near, and the equal
        # weights share the tie (no argmax of tied values: its pick is the rounding's)
        torch.testing.assert_close(log_r.exp(), torch.full_like(log_r, 1 / K))
        return
    maha = c.mahalanobis(far / 1e200, means * 0, params["p"])  # direction only
    assert float(maha.sort(1).values.diff(1)[0, 0]) > 0.1 * float(maha.min())  # no near-tie
    assert int(log_r.argmax()) == int(maha.argmin())


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_feature_variances_of_pooled_moments_are_the_data_variances(ct):
    """The moment sums of all rows (one component) give NumPy's float64 per-feature
    variance (spherical: their mean in every feature)."""
    X, _, _ = _problem(ct)
    c = COVARIANCES[ct]
    nk, sx, sq = split_moments(design_matrix(X, c).sum(0, keepdim=True), D)
    got = c.feature_variances(sx[0], sq[0], nk[0]).numpy()
    want = X.numpy().var(0)
    want = np.full(D, want.mean()) if ct == "spherical" else want
    np.testing.assert_allclose(got, want, rtol=1e-12)
