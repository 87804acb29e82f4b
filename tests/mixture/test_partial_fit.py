"""``partial_fit`` on a stream of chunks (issue 34): stepwise EM whose running statistics
and step count persist across calls, for ``optimizer="preconditioned"`` and for
``solver="em"`` (which had no ``partial_fit``), against scikit-learn's full fit and the
recurrence written out in float64."""

import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture as SKGaussianMixture

from implicit_em.mixture import GaussianMixture
from implicit_em.mixture.gaussian import COVARIANCES, log_gaussian_prob

STEPWISE = [{"solver": "em"}, {"solver": "gradient", "optimizer": "preconditioned"}]


def _stream(n, seed):
    """Three anisotropic clusters in 3-D, in a random order."""
    rng = np.random.default_rng(seed)
    centres = np.array([[-4.0, 0.0, 0.0], [0.0, 4.0, 1.0], [4.0, 0.0, -1.0]])
    return centres[rng.integers(0, 3, n)] + rng.normal(size=(n, 3)) * [1.0, 0.5, 2.0]


@pytest.mark.parametrize("kw", STEPWISE, ids=["em", "preconditioned"])
def test_fifty_chunks_approach_the_full_fit(kw):
    """After 50 chunks of 400 rows the held-out log-likelihood is within 2e-3 of
    scikit-learn's EM on all 20k rows and clearly above the one-chunk model (before:
    each call was one EM step on its chunk alone, forgetting the others -- 50 chunks
    scored below 1, -5.411 against -5.407 and EM's -5.368)."""
    X, X_test = _stream(20_000, 0), _stream(5_000, 1)
    full = SKGaussianMixture(3, random_state=0, tol=1e-8).fit(X).score(X_test)
    gm = GaussianMixture(3, random_state=0, **kw)
    chunks = np.array_split(X, 50)
    one = gm.partial_fit(chunks[0]).score(X_test)
    for chunk in chunks[1:]:
        gm.partial_fit(chunk)
    fifty = gm.score(X_test)
    assert fifty > one + 0.01, (one, fifty, full)
    assert abs(fifty - full) < 2e-3, (fifty, full)
    assert gm.n_steps_ == 50 and gm.n_samples_seen_ == 20_000 and not gm.converged_
    assert gm.running_statistics_.shape == (3, 6 + 3 + 1)  # [x_i x_j (i <= j), x, 1]
    assert len(gm.lower_bound_history_) == 50


def _direct_sums(X, params, c):
    """``R^T F`` from float64 responsibilities and the design written out (full)."""
    r = torch.softmax(log_gaussian_prob(X, params["means"], params["p"], c)
                      + params["weights"].log(), 1)  # fmt: skip
    i, j = torch.triu_indices(X.shape[1], X.shape[1])
    return r.T @ torch.cat([X[:, i] * X[:, j], X, torch.ones(len(X), 1, dtype=X.dtype)], 1)


def test_em_partial_fit_carries_its_statistics_across_calls():
    """Call ``t`` moves the statistics left by call ``t - 1`` ``eta = (t + 1)^-0.7`` of
    the way to its chunk's ``R^T F / n`` (EM works in the data's units, centred on the
    first chunk's mean)."""
    c = COVARIANCES["full"]
    chunks = np.array_split(_stream(900, 2), 3)
    gm = GaussianMixture(3, random_state=0, solver="em").partial_fit(chunks[0])
    for t, chunk in enumerate(chunks[1:], start=1):
        before = gm.running_statistics_.clone()
        params = {k: v.clone() for k, v in gm._params.items()}  # centred frame
        Xc = torch.as_tensor(chunk) - gm._shift
        gm.partial_fit(chunk)
        eta = (t + 2) ** -0.7
        want = (1 - eta) * before + eta * _direct_sums(Xc, params, c) / len(chunk)
        torch.testing.assert_close(gm.running_statistics_, want, rtol=1e-9, atol=1e-12)
        assert gm.n_steps_ == t + 1
    cov = c.covariances(gm._params["p"]).numpy()
    np.testing.assert_allclose(gm.covariances_, cov, rtol=1e-12)


def test_em_partial_fit_checks_its_step_and_keeps_fit_working():
    X = _stream(300, 3)
    with pytest.raises(ValueError, match="learning_rate"):
        GaussianMixture(3, solver="em", learning_rate=1.5).partial_fit(X)
    gm = GaussianMixture(3, random_state=0).fit(X)  # fit, then continue on new chunks
    assert gm.n_samples_seen_ == 300 and gm.running_statistics_ is None
    gm.partial_fit(_stream(200, 4))
    assert gm.n_samples_seen_ == 500 and gm.n_steps_ == 1
    assert np.isfinite(gm.lower_bound_) and np.allclose(gm.weights_.sum(), 1)
