"""PCA features equal scikit-learn's."""

import numpy as np
import pytest

from helpers import blobs
from implicit_em.baselines import PCA


def test_pca_equals_scikit_learn():
    from sklearn.decomposition import PCA as SkPCA

    x, _ = blobs()
    ref = SkPCA(3, whiten=True, random_state=0).fit(x.numpy())
    np.testing.assert_allclose(
        PCA(3, whiten=True).fit(x).transform(x).numpy(), ref.transform(x.numpy()), atol=1e-5
    )
    with pytest.raises(ValueError, match="exceeds min"):
        PCA(20).fit(x)
