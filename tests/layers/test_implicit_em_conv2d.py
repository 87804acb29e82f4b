"""ImplicitEMConv2d against ImplicitEMLayer on unfolded patches (float64), gradcheck, input."""

import pytest
import torch
import torch.nn.functional as F

from implicit_em.layers import ImplicitEMConv2d, ImplicitEMLayer, SampleNorm


def _pair(distance, output="distances", objective="balance+infomax", stride=1, padding=0):
    torch.manual_seed(0)
    init = "normal" if distance == "euclidean" else "uniform"
    same = {"distance": distance, "output": output, "objective": objective, "init": init}
    conv = ImplicitEMConv2d(2, 5, 3, stride=stride, padding=padding, **same).double()
    # Euclidean prototypes meet patches centred and scaled (patch_norm, on by default):
    # the dense layer's input_norm="sample" on the unfolded patches, the same eps
    norm = "sample" if distance == "euclidean" else None
    dense = ImplicitEMLayer(18, 5, input_norm=norm, **same).double()
    dense.load_state_dict(conv.layer.state_dict())
    return conv, dense


def _patches(x, stride=1, padding=0):
    """Rows ``(n * H' * W', C k k)`` in the conv's location order (n, H', W')."""
    p = F.unfold(x, 3, stride=stride, padding=padding)
    return p.transpose(1, 2).reshape(-1, p.shape[1])


def _rows(t):
    return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])


@pytest.mark.parametrize("distance", ["euclidean", "linear"])
@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (2, 1)])
def test_the_same_numbers_as_the_dense_layer_on_unfolded_patches(distance, stride, padding):
    conv, dense = _pair(distance, stride=stride, padding=padding)
    x = torch.randn(3, 2, 7, 6, dtype=torch.float64)
    rows = _patches(x, stride, padding)
    torch.testing.assert_close(_rows(conv.distances(x)), dense.distances(rows), rtol=1e-12,
                               atol=1e-12)  # fmt: skip
    torch.testing.assert_close(_rows(conv.responsibilities(x)), dense.responsibilities(rows))
    ours, theirs = conv.objective(x), dense.objective(rows)
    assert set(ours) == set(theirs) == {"lse", "balance", "infomax"}
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("output", ["triangle", "responsibilities", "neg_log_softmin"])
def test_outputs_match_and_pool(output):
    conv, dense = _pair("euclidean", output=output)
    x = torch.randn(2, 2, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(_rows(conv(x)), dense(_patches(x)))
    pooled = ImplicitEMConv2d(2, 5, 3, output=output, pool=("max", 2), init="normal").double()
    pooled.layer.load_state_dict(conv.layer.state_dict())
    torch.testing.assert_close(pooled(x), F.max_pool2d(conv(x), 2))


@pytest.mark.parametrize("distance", ["euclidean", "linear"])
def test_gradcheck(distance):
    conv, _ = _pair(distance, output="responsibilities", objective="balance")
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: conv(v), (x,))
    assert torch.autograd.gradcheck(lambda v: sum(conv.objective(v).values()), (x,))


def test_data_init_places_the_means_at_patches():
    torch.manual_seed(0)
    conv = ImplicitEMConv2d(1, 4, 2)  # euclidean, init="data"
    x = torch.randn(3, 1, 5, 5)
    conv.objective(x)
    assert conv.layer.means_placed
    rows = conv.patches(x)  # centred and scaled (patch_norm)
    torch.testing.assert_close(rows, SampleNorm()(_patches_k(x, 2)))
    for w in conv.layer.weight:  # every mean is one of the batch's patches
        assert (rows - w).abs().amax(1).min() == 0


def _patches_k(x, k):
    p = F.unfold(x, k)
    return p.transpose(1, 2).reshape(-1, p.shape[1])


def test_bad_input_is_named():
    conv = ImplicitEMConv2d(2, 4, 3, init="normal")
    with pytest.raises(ValueError, match=r"x must be \(n, 2, H, W\)"):
        conv(torch.randn(2, 3, 6, 6))
    with pytest.raises(ValueError, match=r"x must be \(n, 2, H, W\)"):
        conv(torch.randn(2, 18))
    with pytest.raises(TypeError, match="dtype"):
        conv(torch.randn(2, 2, 6, 6, dtype=torch.float64))
    bad = torch.randn(2, 2, 6, 6)
    bad[0, 0, 1, 1] = float("nan")
    with pytest.raises(ValueError, match="x holds NaN"):
        conv(bad)
    with pytest.raises(ValueError, match="distance must be"):
        ImplicitEMConv2d(2, 4, 3, distance="mahalanobis_diag")
    with pytest.raises(ValueError, match="pool"):
        ImplicitEMConv2d(2, 4, 3, pool=("median", 2))
    with pytest.raises(ValueError, match="kernel_size"):
        ImplicitEMConv2d(2, 4, 0)


def test_images_smaller_than_a_patch_and_useless_padding_are_refused():
    conv = ImplicitEMConv2d(1, 3, 3, padding=1, init="normal")
    assert conv(torch.randn(2, 1, 1, 1)).shape == (2, 3, 1, 1)  # padded to 3 x 3: one patch
    with pytest.raises(ValueError, match="smaller than the 3 x 3 patch"):
        ImplicitEMConv2d(1, 3, 3, init="normal")(torch.randn(2, 1, 2, 5))
    with pytest.raises(ValueError, match="padding must be below kernel_size"):
        ImplicitEMConv2d(1, 3, 3, padding=3)


def test_a_greedy_conv_stack_trains_layer_by_layer():
    from implicit_em.training import train_layerwise

    torch.manual_seed(0)
    x = torch.rand(64, 1, 10, 10)
    net = [ImplicitEMConv2d(1, 6, 3, pool=("max", 2)),
           ImplicitEMConv2d(6, 8, 2, input_norm="batch", init="normal")]  # fmt: skip
    net[0].objective(x)  # places the means at patches of x

    def loss():
        with torch.no_grad():
            return float(sum(net[0].eval().objective(x).values()))

    before = loss()
    train_layerwise(net, x, epochs=3, batch_size=16, lr=1e-2, seed=0, progress=False)
    assert loss() < before
    assert net[1](net[0](x[:2])).shape == (2, 8, 3, 3)


@pytest.mark.parametrize("padding", [0, 2])
@pytest.mark.parametrize("offset", [0.0, 300.0])
def test_patch_norm_distances_match_normalised_patches_in_float64(padding, offset):
    """Issue 35, item 4: ``patch_norm`` gives ``1/2 ||q - w||^2`` with ``q`` each patch
    centred and scaled over its ``C k k`` entries, by convolutions, against the unfolded
    patches normalised directly in float64 (blank patches and pixels far from the origin
    included); float32 keeps every location's nearest filter."""
    from implicit_em.layers import ImplicitEMConv2d

    torch.manual_seed(0)
    x = torch.randn(4, 3, 9, 9, dtype=torch.float64) + offset
    x[0, :, :5, :5] = offset  # blank patches: q = 0
    conv = ImplicitEMConv2d(3, 5, 3, padding=padding, patch_norm=True).double()
    conv.distances(x)  # places the filters on normalised patches
    conv.eval()
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    p = padded.unfold(2, 3, 1).unfold(3, 3, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 27)
    q = (p - p.mean(1, keepdim=True)) / (p.var(1, keepdim=True) + 10 / 255**2).sqrt()
    w = conv.layer.weight.detach()
    ref = 0.5 * ((q[:, None, :] - w[None]) ** 2).sum(-1)
    got = conv.distances(x).detach().permute(0, 2, 3, 1).reshape(-1, 5)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-8)
    torch.testing.assert_close(conv.patches(x), q)
    single = conv.float().distances(x.float()).detach().permute(0, 2, 3, 1).reshape(-1, 5)
    assert torch.equal(single.argmin(1), ref.argmin(1))


def test_patch_norm_gradients_match_finite_differences():
    from implicit_em.layers import ImplicitEMConv2d

    torch.manual_seed(0)
    conv = ImplicitEMConv2d(2, 3, 3, padding=1, patch_norm=0.1).double()
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64)
    conv.distances(x)
    conv.eval()
    conv.forward = conv.distances  # functional_call calls forward
    w = conv.layer.weight.detach().clone().requires_grad_()

    def distances(a, w):
        return torch.func.functional_call(conv, {"layer.weight": w}, (a,), strict=False)

    assert torch.autograd.gradcheck(distances, (x.clone().requires_grad_(), w))


def test_patch_norm_refuses_a_bad_eps():
    from implicit_em.layers import ImplicitEMConv2d

    for bad in (0.0, -1.0, float("nan"), "x"):
        with pytest.raises(ValueError, match="patch_norm must be"):
            ImplicitEMConv2d(1, 2, 3, patch_norm=bad)
    assert "patch_norm=0.5" in repr(ImplicitEMConv2d(1, 2, 3, patch_norm=0.5))
    assert ImplicitEMConv2d(1, 2, 1).patch_norm is None  # one entry a patch: off by default
    with pytest.raises(ValueError, match="needs at least 2"):
        ImplicitEMConv2d(1, 2, 1, patch_norm=True)


def test_whiten_gives_identity_covariance_and_exact_distances():
    """Issue 35, item 4: ``whiten`` is a ZCA of the first training batch's (normalised)
    patches: their covariance becomes ``L / (L + eps)`` in the eigenbasis (identity for a
    tiny eps, float64), the distances are those of the whitened patches, and the
    measured whitening travels with the state dict."""
    from implicit_em.layers import ImplicitEMConv2d

    torch.manual_seed(0)
    x = torch.randn(60, 2, 7, 7, dtype=torch.float64) * torch.tensor([3.0, 0.1]).view(1, 2, 1, 1)
    conv = ImplicitEMConv2d(2, 4, 3, patch_norm=True, whiten=1e-9).double()
    conv.distances(x)  # measures Z, places the filters
    conv.eval()
    rows = conv.patches(x)
    centring = torch.eye(18, dtype=torch.float64) - 1 / 18  # patch_norm removes 1 direction
    torch.testing.assert_close(torch.cov(rows.T), centring, rtol=0, atol=1e-5)
    w = conv.layer.weight.detach()
    ref = 0.5 * torch.cdist(rows, w) ** 2
    got = conv.distances(x).detach().permute(0, 2, 3, 1).reshape(-1, 4)
    torch.testing.assert_close(got, ref, rtol=1e-9, atol=1e-9)
    fresh = ImplicitEMConv2d(2, 4, 3, patch_norm=True, whiten=1e-9).double().eval()
    fresh.load_state_dict(conv.state_dict())
    torch.testing.assert_close(fresh(x), conv(x))
    with pytest.raises(ValueError, match="has not measured"):
        ImplicitEMConv2d(2, 4, 3, whiten=True).eval()(torch.randn(2, 2, 7, 7))
    with pytest.raises(ValueError, match="apply to Euclidean"):
        ImplicitEMConv2d(2, 4, 3, whiten=True, distance="linear")


def test_weight_and_bias_follow_conv2d_conventions():
    """``weight`` ``(K, C, k, k)`` and ``bias`` as nn.Conv2d's: a linear-distance layer
    with them loaded into an nn.Conv2d gives the same map (d = w * patch + b)."""
    conv, _ = _pair("linear")
    assert conv.weight.shape == (5, 2, 3, 3) and conv.bias is not None and conv.bias.shape == (5,)
    x = torch.randn(2, 2, 6, 6, dtype=torch.float64)
    ref = torch.nn.Conv2d(2, 5, 3).double()
    with torch.no_grad():
        ref.weight.copy_(conv.weight)
        ref.bias.copy_(conv.bias)
    torch.testing.assert_close(conv.distances(x), ref(x))
    with torch.no_grad():  # a view: an in-place change reaches the prototypes
        conv.weight[0].zero_()
    assert float(conv.layer.weight.detach()[0].abs().max()) == 0.0
    euclid, _ = _pair("euclidean")
    assert euclid.bias is None and euclid.weight.shape == (5, 2, 3, 3)


def test_the_fused_patch_squares_against_autograd_of_the_formula():
    """``a pw + b sw + c + ww`` by two passes and a hand backward, against autograd
    through the formula in float64 (values, every gradient, a subset of them)."""
    from implicit_em.layers.implicit_em_conv2d import _PatchSquares

    g = torch.Generator().manual_seed(0)

    def draw(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)

    args = (draw(2, 3, 4, 5), draw(2, 1, 4, 5), draw(2, 1, 4, 5), draw(2, 1, 4, 5), draw(3),
            draw(3))  # fmt: skip
    pw, a, b, c, sw, ww = args
    ref = a * pw + b * sw[None, :, None, None] + c + ww[None, :, None, None]
    out = _PatchSquares.apply(*args)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    up = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64)
    for got, want in zip(torch.autograd.grad(out, args, up), torch.autograd.grad(ref, args, up),
                         strict=True):  # fmt: skip
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(_PatchSquares.apply, args)
    (only,) = torch.autograd.grad(_PatchSquares.apply(pw, *(t.detach() for t in args[1:])),
                                  (pw,), up)  # fmt: skip
    torch.testing.assert_close(only, up * a.detach(), rtol=1e-12, atol=1e-12)
