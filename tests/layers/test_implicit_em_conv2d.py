"""ImplicitEMConv2d against ImplicitEMLayer on unfolded patches (float64), gradcheck, input."""

import pytest
import torch
import torch.nn.functional as F

from implicit_em.layers import ImplicitEMConv2d, ImplicitEMLayer


def _pair(distance, output="distances", objective="balance+infomax", stride=1, padding=0):
    torch.manual_seed(0)
    init = "normal" if distance == "euclidean" else "uniform"
    same = {"distance": distance, "output": output, "objective": objective, "init": init}
    conv = ImplicitEMConv2d(2, 5, 3, stride=stride, padding=padding, **same).double()
    dense = ImplicitEMLayer(18, 5, **same).double()
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
    rows = _patches_k(x, 2)
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
