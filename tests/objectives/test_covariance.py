"""The combined covariance objective equals its separate terms."""

import pytest
import torch

from implicit_em import objectives as O


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
