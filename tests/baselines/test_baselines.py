"""Baselines: each rule against an independent float64 transcription of its authors'
formula, each learner's fit/transform contract, reproducibility and behaviour."""

import numpy as np
import pytest
import torch

from implicit_em.baselines import (
    PCA,
    BackpropMLP,
    DecoderFreeEncoder,
    KrotovHopfield,
    SoftHebb,
    SparseAutoencoder,
    TriangleKMeans,
)
from implicit_em.baselines.decoder_free_encoder import encoder_loss
from implicit_em.baselines.krotov_hopfield import krotov_update
from implicit_em.baselines.softhebb import softhebb_update
from implicit_em.baselines.triangle_kmeans import triangle_features

RNG = np.random.default_rng(0)


def _blobs(n=300, d=12, k=3, seed=0):
    g = np.random.default_rng(seed)
    centres = 3 * g.standard_normal((k, d))
    y = g.integers(0, k, n)
    x = centres[y] + 0.5 * g.standard_normal((n, d))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def test_triangle_features_match_the_formula():
    x, c = RNG.standard_normal((7, 5)), RNG.standard_normal((4, 5))
    z = np.sqrt(((x[:, None] - c[None]) ** 2).sum(-1))
    expected = np.maximum(z.mean(1, keepdims=True) - z, 0)
    got = triangle_features(torch.tensor(x), torch.tensor(c)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert (expected == 0).any() and (expected > 0).any()


def test_triangle_kmeans_whitens_and_matches_scikit_learn_kmeans():
    from sklearn.cluster import KMeans

    x, _ = _blobs()
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


def _krotov_reference(w, x, p, k, delta):
    """The authors' notebook step, literally (NumPy, columns are samples)."""
    hid, num = w.shape[0], x.shape[0]
    inputs = x.T
    tot = (np.sign(w) * np.abs(w) ** (p - 1)) @ inputs
    y = np.argsort(tot, axis=0)
    yl = np.zeros((hid, num))
    yl[y[hid - 1, :], np.arange(num)] = 1.0
    yl[y[hid - k], np.arange(num)] = -delta
    xx = np.sum(yl * tot, 1)
    ds = yl @ inputs.T - xx[:, None] * w
    return ds / max(np.abs(ds).max(), 1e-30)


@pytest.mark.parametrize(("p", "k"), [(2.0, 2), (3.0, 4)])
def test_krotov_update_is_the_notebook_rule(p, k):
    w, x = RNG.standard_normal((6, 9)), RNG.random((20, 9))
    got = krotov_update(torch.tensor(w), torch.tensor(x), p, k, 0.4).numpy()
    np.testing.assert_allclose(got, _krotov_reference(w, x, p, k, 0.4), rtol=1e-10, atol=1e-12)


def test_krotov_weights_reach_the_unit_p_sphere():
    from implicit_em.baselines.krotov_hopfield import p_current

    x = torch.rand(2000, 16, generator=torch.Generator().manual_seed(0))
    kh = KrotovHopfield(8, p=3.0, k=2, epochs=30, lr=0.04).fit(x)
    norms = kh.weight_.abs().pow(3).sum(1).pow(1 / 3)
    wins = torch.bincount(p_current(kh.weight_, x, 3.0).argmax(1), minlength=8)
    often = wins >= 100  # units winning on >= 5 % of the data have converged
    assert int(often.sum()) >= 4
    assert torch.allclose(norms[often], torch.ones(int(often.sum())), atol=0.01), norms
    assert float((norms - 1).abs().mean()) < 0.2  # from about 2.9 at N(0, 1) initialisation


def test_softhebb_update_is_the_per_sample_rule():
    w, x, b = RNG.standard_normal((5, 7)), RNG.random((11, 7)), RNG.standard_normal(5)
    for bias in (None, b):
        u = x @ w.T + (0 if bias is None else bias)
        y = np.exp(12 * (u - u.max(1, keepdims=True)))
        y /= y.sum(1, keepdims=True)
        dw = np.zeros_like(w)
        for n in range(len(x)):  # Δw_k = Σ_n y_nk (x_n - u_nk w_k)
            for k in range(len(w)):
                dw[k] += y[n, k] * (x[n] - u[n, k] * w[k])
        tb = None if bias is None else torch.tensor(bias)
        got, y_got = softhebb_update(torch.tensor(w), torch.tensor(x), tb, 12.0)
        np.testing.assert_allclose(got.numpy(), dw / np.abs(dw).max(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(y_got.numpy(), y, rtol=1e-9, atol=1e-12)


def test_softhebb_seeks_unit_norm_and_learns_priors():
    x = torch.rand(2000, 16, generator=torch.Generator().manual_seed(0))
    sh = SoftHebb(6, epochs=20, bias=True, seed=0).fit(x)
    assert torch.allclose(sh.weight_.norm(dim=1), torch.ones(6), atol=0.1), sh.weight_.norm(dim=1)
    usage = torch.softmax(12 * (x @ sh.weight_.T + sh.bias_), 1).mean(0)
    prior = torch.exp(12 * sh.bias_)
    assert torch.allclose(prior, usage, atol=0.1)  # e^{t b} tracks each unit's usage
    assert SoftHebb(6, output="current").fit(x).transform(x[:2]).shape == (2, 6)


def test_encoder_loss_is_the_authors_formula():
    a = torch.relu(torch.randn(64, 5, dtype=torch.float64)) + 0.01
    an = a.numpy()
    lse = -np.log(np.exp(-an).sum(1)).sum()
    var = -np.log(an.var(0, ddof=1) + 1e-6).sum()
    corr = np.corrcoef(an.T)
    tc = (corr**2).sum() - np.trace(corr**2)
    terms = encoder_loss(a)
    np.testing.assert_allclose(float(terms["lse"]), lse, rtol=1e-10)
    np.testing.assert_allclose(float(terms["var"]), var, rtol=1e-10)
    # the library's correlation divides by sqrt(Var + 1e-6), the author's by std + 1e-8
    np.testing.assert_allclose(float(terms["tc"]), tc, rtol=1e-4)
    sd = np.sqrt(an.var(0, ddof=1) + 1e-6)
    c6 = np.cov(an.T) / sd[:, None] / sd[None]
    np.testing.assert_allclose(float(terms["tc"]), (c6**2).sum() - np.trace(c6**2), rtol=1e-10)
    assert set(encoder_loss(a, var=0, tc=0)) == {"lse"}


@pytest.mark.parametrize(
    "make",
    [
        lambda s: TriangleKMeans(3, seed=s),
        lambda s: KrotovHopfield(4, epochs=10, seed=s),
        lambda s: SoftHebb(4, epochs=3, seed=s),
        lambda s: DecoderFreeEncoder(4, epochs=2, seed=s),
        lambda s: SparseAutoencoder(4, epochs=2, seed=s),
        lambda s: PCA(3, seed=s),
    ],
    ids=["kmeans", "krotov", "softhebb", "encoder", "sae", "pca"],
)
def test_fit_transform_contract_and_reproducibility(make):
    x, y = _blobs()
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


def test_pca_equals_scikit_learn():
    from sklearn.decomposition import PCA as SkPCA

    x, _ = _blobs()
    ref = SkPCA(3, whiten=True, random_state=0).fit(x.numpy())
    np.testing.assert_allclose(
        PCA(3, whiten=True).fit(x).transform(x).numpy(), ref.transform(x.numpy()), atol=1e-5
    )
    with pytest.raises(ValueError, match="exceeds min"):
        PCA(20).fit(x)


def test_sparse_autoencoder_reconstructs_and_backprop_classifies():
    x, y = _blobs()
    sae = SparseAutoencoder(8, epochs=30, lr=1e-2).fit(x)
    err = float(((sae.reconstruct(x) - x) ** 2).mean())
    assert err < 0.5 * float(x.var(0).mean())
    mlp = BackpropMLP(8, epochs=20, lr=1e-2).fit(x, y + 5)  # labels need not start at 0
    assert float((mlp.predict(x) == y + 5).float().mean()) > 0.95
    with pytest.raises(ValueError, match="supervised: call fit\\(x, y\\)"):
        BackpropMLP(8).fit(x)
    with pytest.raises(ValueError, match="y must hold 300 integer labels"):
        BackpropMLP(8).fit(x, y.float())


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
