"""PCA features equal scikit-learn's."""

import numpy as np
import pytest
import torch

from implicit_em.baselines import (
    PCA,
)


def _blobs(n=300, d=12, k=3, seed=0):
    g = np.random.default_rng(seed)
    centres = 3 * g.standard_normal((k, d))
    y = g.integers(0, k, n)
    x = centres[y] + 0.5 * g.standard_normal((n, d))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def test_pca_equals_scikit_learn():
    from sklearn.decomposition import PCA as SkPCA

    x, _ = _blobs()
    ref = SkPCA(3, whiten=True, random_state=0).fit(x.numpy())
    np.testing.assert_allclose(
        PCA(3, whiten=True).fit(x).transform(x).numpy(), ref.transform(x.numpy()), atol=1e-5
    )
    with pytest.raises(ValueError, match="exceeds min"):
        PCA(20).fit(x)
