"""Layer distances against NumPy formulas; gradcheck."""

import numpy as np
import pytest
import torch

from implicit_em.layers import (
    euclidean_distances,
    linear_distances,
    mahalanobis_distances,
)

X = torch.randn(7, 5, dtype=torch.float64)


MU = torch.randn(3, 5, dtype=torch.float64)


LOG_P = 0.3 * torch.randn(3, 5, dtype=torch.float64)


def test_distances_match_numpy_formulas():
    x, mu, lp = X.numpy(), MU.numpy(), LOG_P.numpy()
    diff = x[:, None, :] - mu[None]  # (n, K, D)
    np.testing.assert_allclose(
        euclidean_distances(X, MU).numpy(), 0.5 * (diff**2).sum(-1), rtol=1e-12
    )
    want = 0.5 * (np.exp(lp)[None] * diff**2).sum(-1) - 0.5 * lp.sum(1)
    np.testing.assert_allclose(mahalanobis_distances(X, MU, LOG_P).numpy(), want, rtol=1e-10)
    b = np.arange(3.0)
    got = linear_distances(X, MU, torch.as_tensor(b)).numpy()
    np.testing.assert_allclose(got, x @ mu.T + b, rtol=1e-12)
    # mahalanobis with unit precision is the euclidean distance
    torch.testing.assert_close(
        mahalanobis_distances(X, MU, torch.zeros_like(MU)), euclidean_distances(X, MU)
    )


def test_distances_gradcheck():
    x, mu, lp = (t.clone().requires_grad_(True) for t in (X, MU, LOG_P))
    assert torch.autograd.gradcheck(euclidean_distances, (x, mu))
    assert torch.autograd.gradcheck(mahalanobis_distances, (x, mu, lp))
    b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(linear_distances, (x, mu, b))


@pytest.mark.parametrize("weighted", [False, True])
def test_the_float64_fallback_expands_and_keeps_differences_for_what_it_cannot_vouch_for(
    weighted, monkeypatch
):
    """``_direct``: rows a float32 expansion lost (near-constant patches scaled up by a
    patch norm) are redone by a float64 expansion, equal to direct differences; rows
    1e12 out, which float64 loses too, still go to differences."""
    import implicit_em.layers.distances as D

    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 25, generator=g, dtype=torch.float64) * 80
    mu = torch.randn(7, 25, generator=g, dtype=torch.float64)
    p = torch.rand(7, 25, generator=g, dtype=torch.float64) + 0.5 if weighted else None
    want = ((x[:, None] - mu[None]) ** 2 * (p[None] if weighted else 1)).sum(-1)

    def differences(*args):
        raise AssertionError("the float64 expansion could vouch for every row")

    monkeypatch.setattr(D, "_differences", differences)
    torch.testing.assert_close(D._direct(x, mu, p), want, rtol=1e-12, atol=1e-9)
    monkeypatch.undo()
    far = torch.tensor([[1e12 + 9e-4]], dtype=torch.float64)
    means = torch.tensor([[-1e12], [1e12], [1e12 + 1e-3]], dtype=torch.float64)
    got = D._direct(far, means)
    assert int(got.argmin()) == 2
    torch.testing.assert_close(got, (far - means.T) ** 2, rtol=1e-9, atol=1e-12)


def test_the_fused_expansion_against_autograd_of_the_formula():
    """``_SquaredDistances`` (one addmm, a backward of one GEMM plus a rank-one term per
    operand) against autograd through ``||x||^2 - 2 x mu^T + ||mu||^2`` in float64: values,
    both gradients under an arbitrary upstream gradient, and only the gradients asked for."""
    from implicit_em.layers.distances import _SquaredDistances

    g = torch.Generator().manual_seed(1)
    x = torch.randn(9, 6, generator=g, dtype=torch.float64, requires_grad=True)
    mu = torch.randn(4, 6, generator=g, dtype=torch.float64, requires_grad=True)
    up = torch.randn(9, 4, generator=g, dtype=torch.float64)
    sq, xx, mm = _SquaredDistances.apply(x, mu)
    ref = (x * x).sum(1, keepdim=True) - 2 * x @ mu.T + (mu * mu).sum(1)[None]
    torch.testing.assert_close(sq, ref, rtol=1e-12, atol=1e-12)
    assert not xx.requires_grad and not mm.requires_grad and mm.shape == (1, 4)
    fused = torch.autograd.grad(sq, (x, mu), up)
    want = torch.autograd.grad(ref, (x, mu), up)
    for a, b in zip(fused, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(lambda a, b: _SquaredDistances.apply(a, b)[0], (x, mu))
    frozen = x.detach()  # inputs without grad: only the prototypes' gradient is computed
    (grad,) = torch.autograd.grad(_SquaredDistances.apply(frozen, mu)[0], (mu,), up)
    torch.testing.assert_close(grad, want[1], rtol=1e-12, atol=1e-12)
