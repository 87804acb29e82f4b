"""Issue 34: distances that keep their digits far from the origin.

The float32 expansion ``||x||^2 - 2 x.mu + ||mu||^2`` cancels at ``x ~ 1e4`` (before the
fix the dense layer's nearest prototype was right for 4.7 % of the rows, the conv
layer's for 18 %). Each check compares with float64 distances of the same float32 values
and never asks for one exact argmin: the chosen prototype's true distance must be the
row's true minimum to a relative 1e-6 (ties anywhere are allowed).
"""

import pytest
import torch
import torch.nn.functional as F

from implicit_em.layers import ImplicitEMConv2d, ImplicitEMLayer
from implicit_em.layers.distances import (
    _euclidean_expansion,
    euclidean_distances,
    kept_digits,
    mahalanobis_distances,
)


def _nearest_is_right(d: torch.Tensor, exact: torch.Tensor) -> float:
    """Share of rows (alternatives on dim 1) whose chosen alternative is a true nearest."""
    chosen = exact.gather(1, d.argmin(1, keepdim=True))
    best = exact.min(1, keepdim=True).values
    return float((chosen <= best + 1e-6 * best.abs().clamp_min(1.0)).double().mean())


@pytest.mark.parametrize("offset", [1e3, 1e4, 1e5])
def test_the_dense_layer_finds_the_nearest_prototype_far_from_the_origin(offset):
    torch.manual_seed(0)
    layer = ImplicitEMLayer(9, 6, output="distances")
    z = offset + torch.rand(64, 9)
    layer.objective(z)  # places the prototypes on the first inputs
    layer.eval()
    exact = 0.5 * torch.cdist(z.double(), layer.weight.double()) ** 2
    d = layer(z).double()
    assert _nearest_is_right(d, exact) == 1.0
    torch.testing.assert_close(d, exact, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize(("offset", "padding"), [(1e3, 0), (1e4, 0), (1e3, 1), (1e4, 1)])
def test_the_conv_layer_finds_the_nearest_prototype_far_from_the_origin(offset, padding):
    torch.manual_seed(0)
    conv = ImplicitEMConv2d(2, 6, 3, padding=padding, output="distances")
    x = offset + torch.rand(4, 2, 8, 8)
    conv.objective(x)
    conv.eval()
    d = conv.distances(x).double()
    patches = F.unfold(F.pad(x.double(), (padding,) * 4), 3).transpose(1, 2)  # (n, L, Ckk)
    w = conv.layer.weight.double()
    exact = 0.5 * ((patches[:, :, None] - w[None, None]) ** 2).sum(-1)  # (n, L, K)
    exact = exact.permute(0, 2, 1).reshape(d.shape)
    assert _nearest_is_right(d, exact) == 1.0
    torch.testing.assert_close(d, exact, rtol=1e-5, atol=1e-3)


def test_prototypes_far_from_each_other_are_recomputed_exactly():
    """Two clusters at -1e4 and +1e4: no single centre is near every input, so the
    rounding bound says the float32 expansion lost its digits and float64 takes over."""
    g = torch.Generator().manual_seed(0)
    mu = torch.cat([-1e4 + torch.rand(5, 9, generator=g), 1e4 + torch.rand(5, 9, generator=g)])
    x = torch.cat([-1e4 + torch.rand(40, 9, generator=g), 1e4 + torch.rand(40, 9, generator=g)])
    assert not kept_digits(*_euclidean_expansion(x, mu))
    exact = 0.5 * torch.cdist(x.double(), mu.double()) ** 2
    d = euclidean_distances(x, mu)
    assert d.dtype == torch.float32
    assert _nearest_is_right(d.double(), exact) == 1.0
    lp = torch.zeros(10, 9)
    assert _nearest_is_right(mahalanobis_distances(x, mu, lp).double(), exact) == 1.0


def test_data_in_the_unit_cube_keeps_float32():
    """The float64 path costs a second expansion: ordinary data never take it."""
    g = torch.Generator().manual_seed(0)
    x, mu = torch.rand(256, 784, generator=g), torch.rand(500, 784, generator=g)
    assert kept_digits(*_euclidean_expansion(x, mu))


def test_the_rounding_bound_can_say_either():
    x, mu = torch.tensor([[0.5]]), torch.tensor([[0.0], [1.0]])
    assert kept_digits(*_euclidean_expansion(x, mu))
    shifted = _euclidean_expansion(x + 1e4, mu + 1e4)  # centred: still fine
    assert kept_digits(*shifted)
    xx, mm = (x + 1e4) ** 2, ((mu + 1e4) ** 2).T  # the uncentred terms
    sq = xx - 2 * (x + 1e4) @ (mu + 1e4).T + mm
    assert not kept_digits(sq, xx, mm, 1)


def test_centring_leaves_values_and_gradients_unchanged():
    g = torch.Generator().manual_seed(0)
    x = (1e4 + torch.rand(5, 3, generator=g, dtype=torch.float64)).requires_grad_()
    mu = (1e4 + torch.rand(4, 3, generator=g, dtype=torch.float64)).requires_grad_()
    lp = (0.3 * torch.randn(4, 3, generator=g, dtype=torch.float64)).requires_grad_()
    exact = 0.5 * ((x[:, None] - mu[None]) ** 2).sum(-1)
    torch.testing.assert_close(euclidean_distances(x, mu), exact, rtol=1e-12, atol=1e-9)
    assert torch.autograd.gradcheck(euclidean_distances, (x, mu))
    assert torch.autograd.gradcheck(mahalanobis_distances, (x, mu, lp))
