"""Triangle k-means against its formula and scikit-learn KMeans."""

import numpy as np
import torch

from helpers import blobs
from implicit_em.baselines import TriangleKMeans
from implicit_em.baselines.triangle_kmeans import triangle_features

RNG = np.random.default_rng(0)


def test_triangle_features_match_the_formula():
    x, c = RNG.standard_normal((7, 5)), RNG.standard_normal((4, 5))
    z = np.sqrt(((x[:, None] - c[None]) ** 2).sum(-1))
    expected = np.maximum(z.mean(1, keepdims=True) - z, 0)
    got = triangle_features(torch.tensor(x), torch.tensor(c)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert (expected == 0).any() and (expected > 0).any()


def test_triangle_kmeans_whitens_and_matches_scikit_learn_kmeans():
    from sklearn.cluster import KMeans

    x, _ = blobs()
    km = TriangleKMeans(3, whiten="zca", eps_zca=1e-6, eps_norm=0.0, seed=1).fit(x)
    xw = km._normalise(x).double()
    cov = np.cov(xw.numpy().T)
    keep = np.linalg.eigvalsh(cov) > 1e-3  # per-sample centring removes one direction
    assert np.allclose(np.linalg.eigvalsh(cov)[keep], 1.0, atol=1e-2)
    ref = KMeans(3, init="random", n_init=1, max_iter=50, random_state=1).fit(
        km._normalise(x).numpy()
    )
    np.testing.assert_allclose(km.centroids_.numpy(), ref.cluster_centers_, atol=1e-5)
    f = km.transform(x)
    assert f.shape == (300, 3) and float(f.min()) >= 0
