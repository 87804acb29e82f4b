"""The FeatureLearner contract: fit/transform, reproducibility, refused hyper-parameters."""

import pytest
import torch

from helpers import blobs
from implicit_em.baselines import (
    PCA,
    DecoderFreeEncoder,
    KrotovHopfield,
    SoftHebb,
    SparseAutoencoder,
    TriangleKMeans,
)


@pytest.mark.parametrize(
    "make",
    [
        lambda s: TriangleKMeans(3, seed=s),
        lambda s: KrotovHopfield(4, epochs=10, seed=s, power=3.0),  # 4.5 flattens 4 units
        lambda s: SoftHebb(4, epochs=3, seed=s),
        lambda s: DecoderFreeEncoder(4, epochs=2, seed=s),
        lambda s: SparseAutoencoder(4, epochs=2, seed=s),
        lambda s: PCA(3, seed=s),
    ],
    ids=["kmeans", "krotov", "softhebb", "encoder", "sae", "pca"],
)
def test_fit_transform_contract_and_reproducibility(make):
    x, y = blobs()
    a, b = make(0).fit(x), make(0).fit(x)
    fa = a.transform(x)
    assert fa.shape == (300, a.n_components) and torch.isfinite(fa).all()
    torch.testing.assert_close(fa, b.transform(x))  # same seed, same features
    torch.testing.assert_close(make(0).fit_transform(x), fa)
    assert a.n_parameters > 0 and type(a).__name__ in repr(a)
    with pytest.raises(RuntimeError, match="not fitted yet"):
        make(0).transform(x)
    with pytest.raises(ValueError, match=r"x has 5 features, but .* fitted on 12"):
        a.transform(torch.randn(3, 5))
    assert a.transform(x[:0]).shape == (0, a.n_components)
    # the probe sees the clusters in every learner's features
    from implicit_em.diagnostics.probe import linear_probe

    assert linear_probe(fa, y, fa, y)["test_accuracy"] > 0.9


def test_bad_hyper_parameters_are_refused():
    with pytest.raises(ValueError, match="n_components must be an integer >= 1"):
        SoftHebb(0)
    with pytest.raises(ValueError, match=r"k must be in \[2, n_components = 4\]"):
        KrotovHopfield(4, k=5)
    with pytest.raises(ValueError, match="p must be a finite number >= 2"):
        KrotovHopfield(4, p=1.5)
    with pytest.raises(ValueError, match="whiten must be one of"):
        TriangleKMeans(4, whiten="pca")
    with pytest.raises(ValueError, match="output must be one of"):
        SoftHebb(4, output="relu")
    with pytest.raises(ValueError, match="at least one of lse, var, tc"):
        DecoderFreeEncoder(4, lse=0, var=0, tc=0)
    with pytest.raises(ValueError, match="needs at least n_components = 50 samples"):
        TriangleKMeans(50).fit(torch.rand(10, 3))
