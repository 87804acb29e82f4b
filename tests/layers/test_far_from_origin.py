"""Issue 34: distances that keep their digits far from the origin.

The float32 expansion ``||x||^2 - 2 x.mu + ||mu||^2`` cancels at ``x ~ 1e4`` (before the
fix the dense layer's nearest prototype was right for 4.7 % of the rows, the conv
layer's for 18 %). Each check compares with float64 distances of the same float32 values
and never asks for one exact argmin: the chosen prototype's true distance must be the
row's true minimum to a relative 1e-6 (ties anywhere are allowed).
"""

import math

import pytest
import torch
import torch.nn.functional as F

from implicit_em.layers import ImplicitEMConv2d, ImplicitEMLayer
from implicit_em.layers.distances import (
    _expansion,
    euclidean_distances,
    lost_digits,
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
    layer = ImplicitEMLayer(9, 6, output="distances", input_norm=None, temperature=1.0)
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
    conv = ImplicitEMConv2d(2, 6, 3, padding=padding, output="distances", patch_norm=False)
    x = offset + torch.rand(4, 2, 8, 8)
    conv.objective(x)
    conv.eval()
    d = conv.distances(x).double()
    patches = F.unfold(F.pad(x.double(), (padding,) * 4), 3).transpose(1, 2)  # (n, L, Ckk)
    w = conv.layer.weight.double()
    exact = 0.5 * ((patches[:, :, None] - w[None, None]) ** 2).sum(-1)  # (n, L, K)
    exact = exact.permute(0, 2, 1).reshape(d.shape)
    assert _nearest_is_right(d, exact) == 1.0
    # lost_digits' contract: each value within 1e-5 of itself or 1e-3 of its location's
    # scale (the larger of the nearest distance and its gap to the second nearest)
    near = exact.topk(2, dim=1, largest=False).values
    scale = torch.maximum(near[:, :1], near[:, 1:] - near[:, :1])
    assert bool(((d - exact).abs() <= 1e-5 * exact.abs() + 1e-3 * scale + 1e-3).all())


def test_prototypes_far_from_each_other_are_recomputed_exactly():
    """Two clusters at -1e4 and +1e4: no single centre is near every input, so the
    rounding bound flags the rows and direct float64 differences take over."""
    g = torch.Generator().manual_seed(0)
    mu = torch.cat([-1e4 + torch.rand(5, 9, generator=g), 1e4 + torch.rand(5, 9, generator=g)])
    x = torch.cat([-1e4 + torch.rand(40, 9, generator=g), 1e4 + torch.rand(40, 9, generator=g)])
    assert bool(lost_digits(*_expansion(x, mu, None, centre=False)).any())
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
    assert not bool(lost_digits(*_expansion(x, mu, None, centre=False)).any())


def test_the_rounding_bound_can_say_either():
    x, mu = torch.tensor([[0.5]]), torch.tensor([[0.0], [1.0]])
    assert not bool(lost_digits(*_expansion(x, mu, None, centre=False)).any())
    shifted = _expansion(x + 1e4, mu + 1e4, None, centre=True)  # centred: fine
    assert not bool(lost_digits(*shifted).any())
    xx, mm = (x + 1e4) ** 2, ((mu + 1e4) ** 2).T  # the uncentred terms
    sq = xx - 2 * (x + 1e4) @ (mu + 1e4).T + mm
    assert bool(lost_digits(sq, xx, mm, 1).all())


def test_centring_leaves_values_and_gradients_unchanged():
    g = torch.Generator().manual_seed(0)
    x = (1e4 + torch.rand(5, 3, generator=g, dtype=torch.float64)).requires_grad_()
    mu = (1e4 + torch.rand(4, 3, generator=g, dtype=torch.float64)).requires_grad_()
    lp = (0.3 * torch.randn(4, 3, generator=g, dtype=torch.float64)).requires_grad_()
    exact = 0.5 * ((x[:, None] - mu[None]) ** 2).sum(-1)
    centred_sq = _expansion(x, mu, None, centre=True)[0]
    torch.testing.assert_close(0.5 * centred_sq, exact, rtol=1e-12, atol=1e-9)
    # the check keeps each row within 1e-3 of its nearest distance (float64 at 1e4: the
    # uncentred expansion stays well inside that)
    torch.testing.assert_close(euclidean_distances(x, mu), exact, rtol=1e-5, atol=1e-5)
    # (finite differences of the uncentred 3e8-sized terms would keep no digit: the
    # gradients are checked on the centred forms, which the distances equal)
    assert torch.autograd.gradcheck(lambda a, b: _expansion(a, b, None, centre=True)[0],
                                    (x, mu))  # fmt: skip
    assert torch.autograd.gradcheck(
        lambda a, b, c: _expansion(a, b, c.exp(), centre=True)[0], (x, mu, lp)
    )


def test_a_row_gets_the_same_nearest_prototype_whatever_else_is_in_the_batch():
    """Issue 34, round-three probe H1: a batch-wide check let a far outlier vouch for a
    row that had lost its nearest prototype."""
    layer = ImplicitEMLayer(1, 3, output="distances")
    layer.objective(torch.tensor([[-1e4], [1e4], [1e4 + 3.0]]))
    layer.eval()
    x = torch.tensor([[1e4 + 2.2], [0.0], [0.0], [5e3]])
    with torch.no_grad():
        together, alone = layer(x)[0], layer(x[:1])[0]
    assert int(together.argmin()) == int(alone.argmin()) == 2
    torch.testing.assert_close(together, alone)


def test_float64_rows_far_out_are_recomputed_by_differences():
    """Probe H2: float64 at 1e6 with two prototypes 3e-3 apart lost the nearest."""
    mu = torch.tensor([[-1e6], [1e6], [1e6 + 30], [1e6 + 30.003]], dtype=torch.float64)
    x = torch.tensor([[1e6 + 30.0029]], dtype=torch.float64)
    d = euclidean_distances(x, mu)
    assert int(d.argmin()) == 3
    torch.testing.assert_close(d[0, 2:], torch.tensor([4.205e-6, 5e-9], dtype=torch.float64),
                               rtol=1e-2, atol=1e-10)  # fmt: skip
    lp = torch.zeros(4, 1, dtype=torch.float64)
    assert int(mahalanobis_distances(x, mu, lp).argmin()) == 3


def test_a_convolution_resolves_by_direct_differences_what_float64_expansions_cannot():
    """Prototypes 1e12 from the origin and 1e-3 apart: even the float64 expansion loses
    the nearest one; the location's patch is then compared by direct differences."""
    torch.manual_seed(0)
    conv = ImplicitEMConv2d(1, 3, 1, output="distances", patch_norm=False).double()
    with torch.no_grad():
        conv.layer.weight.copy_(torch.tensor([[-1e12], [1e12], [1e12 + 1e-3]], dtype=torch.float64))
        conv.layer.n_filled.fill_(3)
    conv.eval()
    x = torch.full((1, 1, 2, 2), 1e12 + 9e-4, dtype=torch.float64)
    d = conv(x)
    exact = 0.5 * (x.flatten()[:, None] - conv.layer.weight.detach().flatten()[None]) ** 2
    torch.testing.assert_close(d.permute(0, 2, 3, 1).reshape(-1, 3), exact)
    assert bool((d.argmin(1) == 2).all())


@pytest.mark.parametrize(
    ("call", "said"),
    [(lambda: euclidean_distances(torch.rand(3, 2), torch.zeros(0, 2)), "shape \\(K, D\\)"),
     (lambda: euclidean_distances(torch.rand(3, 2), torch.zeros(2)), "shape \\(K, D\\)"),
     (lambda: mahalanobis_distances(torch.rand(3, 2), torch.rand(2, 2), torch.rand(3, 2)),
      "log_precision must have the means' shape"),
     (lambda: ImplicitEMConv2d(1, 4, 3, pool=("max", 8))(torch.rand(2, 1, 6, 6)),
      "smaller than the pool window")],
)  # fmt: skip
def test_bad_prototypes_and_pools_are_named(call, said):
    """Round-three probes: raw IndexError / RuntimeError from deep in torch."""
    with pytest.raises(ValueError, match=said):
        call()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
@pytest.mark.parametrize("value", [0.0, 1.0, 100.0])
@pytest.mark.parametrize(("width", "seed"), [(2, 0), (1, 2), (1, 5)])
def test_repeated_inputs_give_distinct_means_in_every_dtype(dtype, value, width, seed):
    """Round-three probes: a random jitter below (or colliding at) half precision's
    resolution left equal means."""
    torch.manual_seed(seed)
    layer = ImplicitEMLayer(width, 6, output="distances").to(dtype)
    for _ in range(3):
        layer.objective(torch.full((5, width), value, dtype=dtype))
    w = layer.weight.detach().float()
    gaps = torch.cdist(w, w).fill_diagonal_(1.0)
    assert bool((gaps > 0).all())


@pytest.mark.parametrize("k", [1, 2, 7])
def test_lost_digits_flags_as_the_sorted_reference(k):
    """The nearest and second nearest by min and masked min, against topk: the same flag
    at every location of a (n, K, H, W) layout, ties included (the prototypes' sizes are
    equal, so a tie's nearest is any of them)."""
    g = torch.Generator().manual_seed(k)
    sq = torch.randint(0, 4, (3, k, 5, 6), generator=g).double() * 1e-4  # many ties
    xx = torch.rand(3, 1, 5, 6, generator=g, dtype=torch.float64) * 2e8
    mm = torch.full((1, k, 1, 1), 1e7, dtype=torch.float64)
    near = sq.topk(min(2, k), dim=1, largest=False).values
    low = near[:, :1].clamp_min(0)
    scale = torch.maximum(low, near[:, -1:] - near[:, :1])
    eps = torch.finfo(torch.float64).eps * math.sqrt(10)
    reference = (eps * (xx + 1e7) > 1e-3 * scale).squeeze(1)
    flags = lost_digits(sq, xx, mm, 10)
    assert flags.shape == (3, 5, 6) and torch.equal(flags, reference)
    assert bool(flags.any()) and not bool(flags.all())  # both outcomes occur


@pytest.mark.parametrize("padding", [0, 2])
def test_blank_patches_keep_float32_under_patch_norm(padding):
    """Images mostly of one value (MNIST's background after a batch norm): the expansion
    of the normalised patches, from pixels less their median, is exact where a patch is
    blank, so no location of a blank image is sent to float64; the distances agree with
    float64 differences of the normalised patches."""
    g = torch.Generator().manual_seed(0)
    x = torch.full((4, 2, 12, 12), -3.0)  # far from 0: its square cancels on blank patches
    x[:2, :, 4:8, 3:9] = 2.5 + torch.rand(2, 2, 4, 6, generator=g)  # two images with a stroke
    conv = ImplicitEMConv2d(2, 5, 3, padding=padding, output="distances")
    conv.objective(x)
    w = conv.layer.weight.detach()
    lost = lost_digits(*conv._expansion(x, conv._filters().detach(), centre=False))
    inner = slice(padding, lost.shape[-1] - padding)  # locations without padding
    assert not bool(lost[2:, inner, inner].any())  # the blank images
    rows = conv.patches(x).double()
    exact = 0.5 * ((rows[:, None] - w.double()[None]) ** 2).sum(-1)
    d = conv.distances(x).permute(0, 2, 3, 1).reshape(-1, 5).double()
    assert _nearest_is_right(d, exact) == 1.0
    torch.testing.assert_close(d, exact, rtol=1e-5, atol=1e-3)  # distances ~ C k k = 18
