"""The layer's LSE and balance terms from one softmax, against the two computed apart
(``lse_loss`` and ``responsibility_entropy``) and against autograd's finite differences."""

import pytest
import torch

from implicit_em.layers import ImplicitEMLayer
from implicit_em.lse import lse_loss
from implicit_em.objectives import responsibility_entropy
from implicit_em.objectives.lse_balance import lse_and_balance


def _apart(s):
    return lse_loss(s, flush_tiny=True), responsibility_entropy(s, "balance")


def test_gradcheck_float64():
    s = torch.randn(12, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: lse_and_balance(t), (s,))


@pytest.mark.parametrize("spread", [1.0, 30.0, 1e4])  # 1e4: most exp(-s) underflow
def test_values_and_gradients_as_the_terms_apart(spread):
    g = torch.Generator().manual_seed(int(spread))
    base = spread * torch.rand(64, 9, generator=g, dtype=torch.float64)
    s1, s2 = base.clone().requires_grad_(), base.clone().requires_grad_()
    together, apart = lse_and_balance(s1), _apart(s2)
    for a, b in zip(together, apart, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    (0.7 * together[0] + 1.9 * together[1]).backward()
    (0.7 * apart[0] + 1.9 * apart[1]).backward()
    assert bool(torch.isfinite(s1.grad).all())
    torch.testing.assert_close(s1.grad, s2.grad, rtol=1e-10, atol=1e-14)


def test_the_default_layer_steps_as_before():
    """The layer's terms and gradients (prototypes and a learned temperature) equal the
    terms computed apart, in float64."""
    torch.manual_seed(0)
    layer = ImplicitEMLayer(6, 4, learn_temperature=True).double()
    x = torch.randn(32, 6, dtype=torch.float64)
    layer.objective(x)  # the first training batch places the means
    terms = layer.objective(x)
    assert set(terms) == {"lse", "balance"}
    sum(terms.values()).backward()
    fused = [p.grad.clone() for p in layer.parameters()]
    assert all(bool(g.abs().sum() > 0) for g in fused)
    layer.zero_grad()
    s = layer.distances(x) / layer.temperature
    lse, balance = _apart(s)
    torch.testing.assert_close(terms["lse"], lse, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(terms["balance"], balance, rtol=1e-12, atol=1e-12)
    (lse + balance).backward()
    for a, p in zip(fused, layer.parameters(), strict=True):
        torch.testing.assert_close(a, p.grad, rtol=1e-10, atol=1e-12)


def test_bad_input_is_refused_and_half_is_computed_in_float32():
    with pytest.raises(ValueError, match="NaN"):
        lse_and_balance(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match=r"\(n, K\)"):
        lse_and_balance(torch.zeros(3))
    lse, balance = lse_and_balance(torch.tensor([[0.0, 1.0]], dtype=torch.bfloat16))
    assert lse.dtype == balance.dtype == torch.float32
