"""Issue 22, medium 6: objective hyper-parameters outside their range are refused,
naming the argument, instead of a raw linalg error, a NaN or an inf."""

import pytest
import torch

from implicit_em import objectives as O

Z = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
NAN = float("nan")
CONST = torch.cat([Z[:, :2], torch.ones(64, 1)], 1)  # one constant feature


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: O.gaussian_infomax(Z, eps=-1.0), r"eps \(the variance floor\) must be a finite"),
        (lambda: O.gaussian_infomax(CONST, eps=0), r"constant over the batch and eps=0"),
        (lambda: O.decorrelation_loss(CONST, eps=0), r"constant over the batch and eps=0"),
        (lambda: O.gaussian_infomax(Z, eps=-1e-3), r"eps \(the variance floor\)"),
        (lambda: O.gaussian_infomax(Z, eps=NAN), r"eps \(the variance floor\)"),
        (lambda: O.gaussian_infomax(Z, lam=NAN), r"lam must be a finite number >= 0"),
        (lambda: O.gaussian_infomax(Z, shrinkage=True), r"shrinkage must be 'auto' or a number"),
        (lambda: O.log_variance_loss(CONST, eps=0), r"constant over the batch and eps=0"),
        (lambda: O.variance_hinge(CONST, eps=0), r"constant over the batch and eps=0"),
        (lambda: O.variance_hinge(Z, eps=-1.0), r"eps \(the variance floor\)"),
        (lambda: O.variance_hinge(Z, gamma=-1.0), r"gamma must be a finite number > 0"),
        (lambda: O.decorrelation_loss(Z, eps=NAN), r"eps \(the variance floor\)"),
        (lambda: O.cross_decorrelation_loss(Z, Z, lam=-1.0), r"lam must be a finite number >= 0"),
        (lambda: O.covariance_objective(Z, logdet=-1.0), r"logdet must be a finite number >= 0"),
        (lambda: O.covariance_objective(Z, logdet=1.0, eps=NAN), r"eps \(the variance floor\)"),
        (lambda: O.hsic(Z[:, 0], Z[:, 1], bandwidth_x=0.0), r"bandwidth_x .* > 0, got 0.0"),
        (lambda: O.pairwise_hsic(Z, bandwidth=torch.tensor(0.0)), r"bandwidth must be finite"),
        (lambda: O.pairwise_hsic(Z, n_features=0), r"n_features \(None: exact\) must be"),
        (lambda: O.hsic_rff(Z[:, 0], Z[:, 1], n_features=0), r"n_features must be an integer"),
        (lambda: O.gaussian_kernel(Z, bandwidth=-2.0), r"bandwidth .* must be a finite number"),
    ],
)
def test_out_of_range_hyperparameters_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_in_range_values_still_work():
    assert torch.isfinite(O.decorrelation_loss(Z, eps=0))  # no constant feature: fine
    assert torch.isfinite(O.gaussian_infomax(Z, lam=0.5, eps=1e-3, shrinkage=0.1))
    assert torch.isfinite(O.hsic(Z[:, 0], Z[:, 1], bandwidth_x=1.0, bandwidth_y=2))
    assert torch.isfinite(O.pairwise_hsic(Z, n_features=8))
