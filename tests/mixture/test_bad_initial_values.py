"""Issue 22, medium 7 and 8: bad initial values get the right advice; a diverged gradient
fit is an error, not a fitted model."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from implicit_em.mixture import GaussianMixture

X, _ = make_blobs(400, centers=2, random_state=0)
SPD = np.array([np.eye(2)] * 2)


@pytest.mark.parametrize(
    ("init", "match"),
    [
        ({"weights_init": [-0.5, 1.5]}, "weights_init must be finite, >= 0 and not all 0"),
        ({"weights_init": [np.nan, 1.0]}, "weights_init must be finite"),
        ({"weights_init": [0.0, 0.0]}, "not all 0"),
        ({"means_init": [[np.nan, 0.0], [1.0, 1.0]]}, "means_init holds NaN/inf"),
        ({"precisions_init": np.full((2, 2, 2), np.nan)}, "precisions_init holds NaN/inf"),
        ({"precisions_init": np.ones((3, 3))}, r"must have shape \(2, 2, 2\)"),
        ({"precisions_init": np.array([[[1.0, 2.0], [2.0, 1.0]]] * 2)},
         "must be symmetric positive definite"),
    ],
)  # fmt: skip
def test_bad_initial_values_are_named_not_blamed_on_reg_covar(init, match):
    with pytest.raises(ValueError, match=match) as err:
        GaussianMixture(2, **init).fit(X)
    assert "reg_covar" not in str(err.value)


def test_good_initial_values_still_fit():
    gm = GaussianMixture(2, weights_init=[0.3, 0.7], precisions_init=SPD, random_state=0)
    assert np.isfinite(gm.fit(X).lower_bound_)


def test_a_diverged_gradient_fit_is_an_error():
    gm = GaussianMixture(
        2, solver="gradient", optimizer="adam", learning_rate=100, max_iter=30, random_state=0
    )
    with pytest.raises(FloatingPointError, match="diverged: the mean log-likelihood fell from"):
        gm.fit(X)
    ok = GaussianMixture(2, solver="gradient", max_iter=30, random_state=0).fit(X)
    em = GaussianMixture(2, random_state=0).fit(X)
    assert ok.lower_bound_ > em.lower_bound_ - 0.05


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
def test_each_covariance_type_knows_scikit_learns_shape(kind):
    from sklearn.mixture import GaussianMixture as SkGM

    from implicit_em.mixture.gaussian import COVARIANCES

    sk = SkGM(3, covariance_type=kind, random_state=0).fit(X)
    assert COVARIANCES[kind].shape(3, 2) == sk.precisions_.shape == sk.covariances_.shape
