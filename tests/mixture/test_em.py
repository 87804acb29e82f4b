"""EM's pieces against scikit-learn's own M-step and direct float64 sums."""

import itertools

import numpy as np
import pytest
import torch
from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters

from implicit_em.mixture import _em
from implicit_em.mixture.gaussian import COVARIANCE_TYPES, COVARIANCES, log_gaussian_prob

REG = 1e-6


def _data(seed=0, n=120, d=3):
    rng = np.random.default_rng(seed)
    X = np.r_[rng.normal(-2, 1, (n // 2, d)), rng.normal(2, 0.5, (n - n // 2, d))]
    return torch.as_tensor(X - X.mean(0))


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_m_step_matches_scikit_learn(ct):
    X = _data()
    c = COVARIANCES[ct]
    resp = torch.softmax(torch.randn(len(X), 3, dtype=X.dtype), 1)
    params = _em.parameters_from_responsibilities(
        _em.designs(X, c, chunk_size=50), resp, len(X), X.shape[1], REG, c
    )
    nk, means, cov = _estimate_gaussian_parameters(X.numpy(), resp.numpy(), REG, ct)
    np.testing.assert_allclose(params["weights"].numpy(), nk / len(X), rtol=1e-12)
    np.testing.assert_allclose(params["means"].numpy(), means, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c.covariances(params["p"]).numpy(), cov, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_em_step_bound_is_the_log_likelihood_and_never_falls(ct):
    X = _data(1)
    c = COVARIANCES[ct]
    parts = _em.designs(X, c, chunk_size=40)
    resp = _em.initial_responsibilities(X, 3, "random", np.random.RandomState(0))
    params = _em.parameters_from_responsibilities(parts, resp, len(X), 3, REG, c)
    bounds = []
    for _ in range(6):
        total, new, nk = _em.em_step(parts, params, float(len(X)), REG, c)
        direct = torch.logsumexp(
            log_gaussian_prob(X, params["means"], params["p"], c) + params["weights"].log(), 1
        ).sum()
        torch.testing.assert_close(total, direct)
        torch.testing.assert_close(nk.sum(), torch.tensor(float(len(X)), dtype=X.dtype))
        bounds.append(float(total))
        params = new
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(bounds)), bounds


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
@pytest.mark.parametrize("budget", [None, 10])
def test_design_chunks_are_the_transposed_design_matrix(monkeypatch, ct, budget):
    """Cached or built per pass (a triangular q(x), or over budget), with or without a
    reused buffer: the chunks side by side are [q(x), x, 1]^T, q built by hand."""
    X = _data(2, n=700)
    c = COVARIANCES[ct]
    if budget is not None:
        monkeypatch.setattr(_em, "DESIGN_BUDGET", budget)
    monkeypatch.setattr(_em, "BUILT_CHUNK_BYTES", 1)  # 256-row chunks: several, one short
    i, j = torch.triu_indices(3, 3)
    q = {
        "full": X[:, i] * X[:, j],
        "tied": X[:, i] * X[:, j],
        "diag": X * X,
        "spherical": (X * X).sum(1, keepdim=True),
    }[ct]
    want = torch.cat([q, X, torch.ones(len(X), 1, dtype=X.dtype)], 1).T
    for reuse in (False, True):
        parts = _em.designs(X, c, chunk_size=300, reuse=reuse)
        built = not c.cache_design or budget is not None
        assert isinstance(parts, _em.BuiltDesigns) == built
        got = torch.cat([f.clone() for f in parts], 1)  # a reused buffer: copy each
        assert [f.shape[1] for f in parts] == ([256, 256, 188] if built else [300, 300, 100])
        # products are exact everywhere; spherical's |x|^2 is a sum, whose order (and so
        # its last bit) is the kernel's: a few ulps
        exact = ct != "spherical"
        eps = torch.finfo(X.dtype).eps
        torch.testing.assert_close(got, want, rtol=0 if exact else 4 * eps, atol=0)


def test_em_step_is_the_same_with_cached_and_built_designs(monkeypatch):
    X = _data(5, n=600)
    c = COVARIANCES["diag"]
    resp = _em.initial_responsibilities(X, 3, "random", np.random.RandomState(0))
    cached = _em.designs(X, c, 256)
    params = _em.parameters_from_responsibilities(cached, resp, len(X), 3, REG, c)
    monkeypatch.setattr(_em, "DESIGN_BUDGET", 10)
    built = _em.designs(X, c, 256, reuse=True)
    a, b = _em.em_step(cached, params, 600.0, REG, c), _em.em_step(built, params, 600.0, REG, c)
    torch.testing.assert_close(a[0], b[0], rtol=1e-14, atol=0)
    for name in params:
        torch.testing.assert_close(a[1][name], b[1][name], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("ct", ["full", "diag", "spherical"])
def test_reseed_moves_only_the_emptied_components_onto_data(ct):
    X = _data(3)
    c = COVARIANCES[ct]
    resp = _em.initial_responsibilities(X, 4, "kmeans", np.random.RandomState(0))
    params = _em.parameters_from_responsibilities(_em.designs(X, c, 64), resp, len(X), 3, REG, c)
    empty = torch.tensor([False, True, False, True])
    new = _em.reseed(X, params, empty, torch.Generator().manual_seed(0), REG, c)
    torch.testing.assert_close(new["means"][~empty], params["means"][~empty])
    rows = (new["means"][empty][:, None] == X[None]).all(-1).any(1)
    assert rows.all()  # each reseeded mean is a data point
    var = X.var(0)
    spread = c.covariances(new["p"][empty])
    want = {"full": torch.diag(var), "diag": var, "spherical": var.mean()}[ct]
    torch.testing.assert_close(spread, want.expand_as(spread))
    torch.testing.assert_close(new["weights"].sum(), torch.tensor(1.0, dtype=X.dtype))


def test_data_variance_is_the_unbiased_variance_and_finite_for_one_row():
    X = _data(6)
    torch.testing.assert_close(_em.data_variance(X), X.var(0), rtol=1e-12, atol=0)
    assert torch.equal(_em.data_variance(X[:1]), torch.zeros(3, dtype=X.dtype))


@pytest.mark.parametrize("ct", ["full", "diag", "spherical"])
def test_reseeding_from_a_single_row_is_finite(ct):
    """One row has no variance of its own (``X.var(0)`` is NaN): the spread falls back
    to the floor ``reg``, never NaN; given variances are used as they are."""
    X = _data(7)
    c = COVARIANCES[ct]
    resp = _em.initial_responsibilities(X, 3, "kmeans", np.random.RandomState(0))
    params = _em.parameters_from_responsibilities(_em.designs(X, c, 64), resp, len(X), 3, REG, c)
    empty = torch.tensor([False, True, False])
    new = _em.reseed(X[:1], params, empty, torch.Generator().manual_seed(0), REG, c)
    assert all(bool(torch.isfinite(v).all()) for v in new.values())
    var = torch.tensor([0.5, 2.0, 3.5], dtype=X.dtype)
    new = _em.reseed(X[:1], params, empty, torch.Generator().manual_seed(0), REG, c, var)
    spread = c.covariances(new["p"][empty])[0]
    want = {"full": torch.diag(var), "diag": var, "spherical": var.mean()}[ct]
    torch.testing.assert_close(spread, want)
    torch.testing.assert_close(new["means"][1], X[0])


def test_fit_em_reports_iterations_and_stops_at_tol():
    X = _data(4)
    c = COVARIANCES["diag"]
    parts = _em.designs(X, c, 64)
    resp = _em.initial_responsibilities(X, 2, "kmeans", np.random.RandomState(0))
    params = _em.parameters_from_responsibilities(parts, resp, len(X), 3, REG, c)
    seen = []
    fit = _em.fit_em(
        X, parts, params, n_total=float(len(X)), cov=c, reg_covar=REG, tol=1e-8,
        max_iter=200, gen=torch.Generator(), on_iteration=lambda it, b: seen.append((it, b)),
    )  # fmt: skip
    assert fit.converged and fit.n_iter == len(seen) == len(fit.history) < 200
    assert [b for _, b in seen] == fit.history
    assert abs(fit.history[-1] - fit.history[-2]) < 1e-8
