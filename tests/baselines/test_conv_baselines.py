"""SoftHebb's conv block and Coates-Ng's conv k-means against float64 transcriptions of
their rules on unfolded patches."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from implicit_em.baselines import ConvTriangleKMeans, SoftHebbConv2d, TriangleKMeans
from implicit_em.baselines.conv_kmeans import quadrant_sum
from implicit_em.baselines.softhebb_conv import softhebb_conv_update

RNG = np.random.default_rng(0)


def _rows(x, k):
    """Patches ``(n, L, C k k)`` of ``x`` in conv order."""
    return F.unfold(torch.as_tensor(x), k).transpose(1, 2).numpy()


def test_softhebb_conv_update_is_the_per_patch_rule():
    w, x = RNG.standard_normal((4, 2, 3, 3)), RNG.random((3, 2, 6, 5))
    p = _rows(x, 3)  # (n, L, D)
    wf = w.reshape(4, -1)
    dw = np.zeros_like(wf)
    for n in range(p.shape[0]):
        for loc in range(p.shape[1]):  # Δw_k = Σ y_k (p - u_k w_k), y = ±softmax(u)
            u = wf @ p[n, loc]
            s = np.exp(0.7 * (u - u.max()))
            s /= s.sum()
            y = -s
            y[u.argmax()] = s[u.argmax()]
            dw += y[:, None] * (p[n, loc][None] - u[:, None] * wf)
    got, u_got = softhebb_conv_update(torch.tensor(w), torch.tensor(x), 0.7)
    np.testing.assert_allclose(got.numpy().reshape(4, -1), dw / np.abs(dw).max(), rtol=1e-9,
                               atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(u_got.numpy(), F.conv2d(torch.tensor(x), torch.tensor(w)).numpy())


def test_softhebb_block_steps_at_the_norm_seeking_rate_and_features():
    block = SoftHebbConv2d(2, 4, 3, padding=1, lr=0.05, power=1.4, pool=("avg", 2, 2, 0)).double()
    x = torch.tensor(RNG.random((5, 2, 6, 6)))
    w0 = block.weight.clone()
    normed = (x - x.mean((0, 2, 3), keepdim=True)) / torch.sqrt(
        x.var((0, 2, 3), unbiased=False, keepdim=True) + 1e-5
    )
    padded = F.pad(normed, (1, 1, 1, 1), "reflect")
    dw, _ = softhebb_conv_update(w0, padded, 1.0)
    block.learn(x)
    rate = 0.05 * (w0.flatten(1).norm(dim=1) - 1).abs() ** 0.5
    torch.testing.assert_close(block.weight, w0 + rate[:, None, None, None] * dw)
    block.eval()
    u = F.conv2d(F.pad(block.norm(x), (1, 1, 1, 1), "reflect"), block.weight)
    tri = torch.relu(u - u.mean(1, keepdim=True)) ** 1.4
    torch.testing.assert_close(block(x), F.avg_pool2d(tri, 2))


def test_softhebb_filters_approach_unit_norm():
    x = torch.rand(400, 1, 10, 10, generator=torch.Generator().manual_seed(0))
    block = SoftHebbConv2d(1, 6, 3, padding=1)
    before = (block.weight.flatten(1).norm(dim=1) - 1).abs().mean()
    for b in x.split(10):
        block.learn(b)
    after = (block.weight.flatten(1).norm(dim=1) - 1).abs().mean()
    assert after < 0.5 * before, (before, after)


def test_conv_kmeans_features_are_the_dense_triangle_kmeans_on_patches():
    x = torch.rand(30, 2, 7, 7, generator=torch.Generator().manual_seed(1))
    block = ConvTriangleKMeans(2, 5, 3, pool=None, n_patches=600, seed=0).fit(x)
    rows = torch.as_tensor(_rows(x.numpy(), 3)).flatten(0, 1)
    dense = TriangleKMeans(5, eps_zca=0.1, seed=0)
    dense.mean_, dense.whitening_ = block.kmeans.mean_, block.kmeans.whitening_
    dense.centroids_, dense.n_features_in_ = block.kmeans.centroids_, 18
    want = dense.transform(rows).view(30, 25, 5).permute(0, 2, 1).reshape(30, 5, 5, 5)
    torch.testing.assert_close(block(x), want)
    # the whitening is the patches' own: whitened patches have about unit covariance
    z = block.kmeans._normalise(rows).double()
    cov = torch.cov(z.T)
    assert cov.diagonal().max() < 1.0 and cov.diagonal().mean() > 0.5


def test_quadrant_sum_matches_loops():
    x = torch.tensor(RNG.random((2, 3, 5, 4)))
    want = torch.zeros(2, 3, 2, 2, dtype=torch.float64)
    for i in range(5):
        for j in range(4):
            want[:, :, int(i >= 2), int(j >= 2)] += x[:, :, i, j]
    torch.testing.assert_close(quadrant_sum(x), want)
    block = ConvTriangleKMeans(1, 3, 2, n_patches=100).fit(torch.rand(10, 1, 6, 6))
    assert block(torch.rand(4, 1, 6, 6)).shape == (4, 3, 2, 2)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: SoftHebbConv2d(1, 4, 3, padding=3), "padding"),
        (lambda: SoftHebbConv2d(1, 4, 3, pool=("median", 2)), "pool"),
        (lambda: SoftHebbConv2d(1, 4, 3, t_invert=-1.0), "t_invert"),
        (lambda: ConvTriangleKMeans(1, 4, 3, pool=("max", 2, 2, 5)), "padding"),
        (lambda: ConvTriangleKMeans(1, 4, 3, n_patches=0), "n_patches"),
    ],
)
def test_bad_settings_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_input_is_named():
    block = SoftHebbConv2d(2, 4, 3)
    with pytest.raises(ValueError, match=r"\(n, 2, H, W\)"):
        block.learn(torch.rand(3, 1, 8, 8))
    with pytest.raises(ValueError, match="smaller"):
        block(torch.rand(3, 2, 2, 2))
    with pytest.raises(RuntimeError, match="fit"):
        ConvTriangleKMeans(1, 4, 3)(torch.rand(2, 1, 8, 8))
