"""Decorrelation terms."""

import numpy as np
import pytest

from helpers import correlated
from implicit_em import objectives as O


def test_decorrelation_terms():
    z = correlated()
    c = np.corrcoef(z.numpy().T)
    assert float(O.decorrelation_loss(z, eps=0.0)) == pytest.approx(
        ((c - np.diag(np.diag(c))) ** 2).sum(), rel=1e-8
    )
    loss, terms = O.cross_decorrelation_loss(z, z, lam=0.1, eps=0.0, return_terms=True)
    assert float(terms["on_diag"]) < 1e-20
    assert float(loss) == pytest.approx(0.1 * ((c - np.diag(np.diag(c))) ** 2).sum(), rel=1e-8)


@pytest.mark.parametrize(("n", "d"), [(6, 40), (64, 500), (40, 30)])
@pytest.mark.parametrize("eps", [0.0, 1e-6])
def test_decorrelation_matches_numpy_on_both_routes(n, d, eps):
    """Narrow batches (2 (n - 1) <= D) take the (n, n) Gram route, wide ones the (D, D)
    covariance: both give numpy's off-diagonal sum of the correlation matrix, and the
    same gradient as the covariance formula, in float64."""
    import torch

    from implicit_em.objectives._moments import correlation, moments, off_diagonal_sq

    g = torch.Generator().manual_seed(n + d)
    z = (torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.randn(d, d, generator=g,
         dtype=torch.float64) * 0.1 + 3).requires_grad_(True)  # fmt: skip
    c = np.corrcoef(z.detach().numpy().T)
    loss = O.decorrelation_loss(z, eps=eps)
    if eps == 0.0:
        want = ((c - np.diag(np.diag(c))) ** 2).sum()
        assert float(loss.detach()) == pytest.approx(want, rel=1e-10)
    ref = off_diagonal_sq(correlation(moments(z)[2], eps))
    assert float(loss.detach()) == pytest.approx(float(ref.detach()), rel=1e-12)
    (grad,) = torch.autograd.grad(loss, z)
    (want,) = torch.autograd.grad(ref, z)
    torch.testing.assert_close(grad, want, rtol=1e-9, atol=1e-12)


def test_decorrelation_rows_route_passes_gradcheck_and_float32():
    import torch

    g = torch.Generator().manual_seed(0)
    z = torch.randn(5, 16, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: O.decorrelation_loss(t), (z,))
    z32 = torch.randn(256, 2000, generator=g)  # the encoder's batch at K = 2000
    ref = O.decorrelation_loss(z32.double())
    # float32 on the rows' route stays within float32 rounding of the float64 value
    assert float(O.decorrelation_loss(z32)) == pytest.approx(float(ref), rel=1e-5)


def test_variances_are_the_covariance_diagonal():
    """``log_variance_loss`` reads ``variances`` (no ``(D, D)`` matrix): the diagonal of
    ``moments``' covariance and numpy's ``var(ddof=1)``, in float64."""
    import torch

    from implicit_em.objectives._moments import moments, variances

    z = torch.randn(7, 30, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 5
    torch.testing.assert_close(variances(z), torch.diagonal(moments(z)[2]), rtol=1e-12, atol=0)
    np.testing.assert_allclose(variances(z).numpy(), z.numpy().var(0, ddof=1), rtol=1e-12)
