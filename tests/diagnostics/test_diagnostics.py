"""Diagnostics against independent references (NumPy/SciPy formulas written here,
known region counts, scikit-learn) plus error paths."""

import math

import numpy as np
import pytest
import torch
from scipy.special import softmax as sp_softmax
from scipy.stats import entropy as sp_entropy

from implicit_em import diagnostics as D
from implicit_em.data import load_dataset


def test_unit_health_on_constructed_activations():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 6))
    a[:, 0] = 0.0  # dead by variance and activity
    a[:, 1] = 3.0  # constant but active: dead by variance only
    a[:, 2] = np.where(np.arange(400) < 2, 1.0, -1.0)  # active on 0.5% < 1%
    h = D.unit_health(torch.tensor(a), tau=1e-6, p=0.01)
    assert h["dead_variance"] == 2 and h["dead_activity"] == 2
    np.testing.assert_allclose(h["variance_max"], a.var(0, ddof=1).max(), rtol=1e-6)
    np.testing.assert_allclose(h["l0_sparsity"], np.mean(np.abs(a) <= 0), rtol=1e-12)
    np.testing.assert_array_equal(D.dead_by_variance(a).numpy(), a.var(0, ddof=1) < 1e-6)
    np.testing.assert_array_equal(D.dead_by_activity(a).numpy(), (a > 0).mean(0) < 0.01)
    np.testing.assert_allclose(D.activation_rate(a, 0.5).numpy(), (a > 0.5).mean(0))
    assert D.l0_sparsity(a, threshold=0.5) == pytest.approx(np.mean(np.abs(a) <= 0.5))


@pytest.mark.parametrize("shape", [(50, 8), (8, 50), (30, 30)])
@pytest.mark.parametrize("center", [False, True])
def test_effective_rank_matches_svd_formula(shape, center):
    rng = np.random.default_rng(1)
    m = rng.standard_normal(shape) @ np.diag(rng.uniform(0.1, 3, shape[1]))
    ref = m - m.mean(0) if center else m
    s = np.linalg.svd(ref, compute_uv=False)
    want = s.sum() ** 2 / (s**2).sum()
    assert D.effective_rank(torch.tensor(m), center=center) == pytest.approx(want, rel=1e-9)


def test_effective_rank_of_equal_spectrum_is_its_rank():
    q, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((40, 40)))
    m = q[:, :7] * 2.5  # seven equal singular values
    assert D.effective_rank(m) == pytest.approx(7.0, rel=1e-9)
    assert D.effective_rank(np.outer(np.arange(1, 11), np.ones(5))) == pytest.approx(1.0)


def test_weight_redundancy_counts_near_duplicates_and_groups():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((6, 10))
    w[1] = 2 * w[0] + 1e-3 * rng.standard_normal(10)
    w[2] = -w[0]
    w[4] = w[3] * 0.5
    got = D.weight_redundancy(w, threshold=0.95)
    unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    cos = np.abs(unit @ unit.T)[np.triu_indices(6, 1)]
    assert got["near_duplicate_pairs"] == int((cos > 0.95).sum()) == 4
    assert got["mean_abs_cos"] == pytest.approx(cos.mean(), rel=1e-9)
    assert got["max_abs_cos"] == pytest.approx(cos.max(), rel=1e-9)
    labels = D.direction_groups(w, 0.95)
    assert got["n_direction_groups"] == 3
    assert labels[0] == labels[1] == labels[2] and labels[3] == labels[4] != labels[0]
    assert labels[5] not in (labels[0], labels[3])


def test_correlation_redundancy_and_gaussian_tc_match_numpy():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((2000, 5)) @ rng.standard_normal((5, 5))
    corr = np.corrcoef(a.T)
    off = corr - np.diag(np.diag(corr))
    assert D.correlation_redundancy(a) == pytest.approx((off**2).sum(), rel=1e-6)
    tc = -0.5 * np.linalg.slogdet(corr)[1]
    assert D.gaussian_total_correlation(a) == pytest.approx(tc, rel=1e-6)
    rep = D.activation_redundancy(a)
    assert rep["gaussian_tc"] == pytest.approx(tc, rel=1e-6)
    assert rep["corr_offdiag_sq"] == pytest.approx((off**2).sum(), rel=1e-6)
    assert rep["effective_rank"] == pytest.approx(D.effective_rank(a, center=True), rel=1e-6)


def test_gaussian_tc_of_a_correlated_pair_and_degenerate_cases():
    rng = np.random.default_rng(5)
    rho = 0.8
    x = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=200_000)
    assert D.gaussian_total_correlation(x) == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.01)
    dup = np.c_[x[:, :1], x[:, :1], np.zeros((len(x), 1))]  # duplicate + constant unit
    with pytest.warns(RuntimeWarning, match="linear combinations"):
        rep = D.activation_redundancy(dup)
    assert rep["gaussian_tc"] == math.inf and rep["n_constant_units"] == 1


def test_responsibility_stats_against_scipy():
    rng = np.random.default_rng(6)
    d = rng.standard_normal((300, 5)) * 2
    r = sp_softmax(-d, axis=1)
    got = D.responsibility_stats(torch.tensor(d))
    assert got["mean_entropy"] == pytest.approx(sp_entropy(r, axis=1).mean(), rel=1e-9)
    np.testing.assert_allclose(got["usage"], r.mean(0), rtol=1e-9)
    assert got["usage_entropy"] == pytest.approx(sp_entropy(r.mean(0)), rel=1e-9)
    assert got["mean_entropy_normalized"] == pytest.approx(got["mean_entropy"] / math.log(5))
    scores = D.responsibility_stats(torch.tensor(-d).T, dim=0, scores=True)
    assert scores["mean_entropy"] == pytest.approx(got["mean_entropy"], rel=1e-9)


def test_collapse_and_starved_units():
    d = torch.zeros(100, 4)
    d[:, 1:] = 8.0  # unit 0 wins everywhere
    s = D.responsibility_stats(d)
    assert s["collapsed"] and s["starved_units"] == 3
    assert s["max_mean_responsibility"] > 0.99
    balanced = D.responsibility_stats(torch.randn(1000, 4) * 0.01)
    assert not balanced["collapsed"] and balanced["starved_units"] == 0
    assert balanced["usage_entropy_normalized"] > 0.999


def test_activation_patterns_count_distinct_rows():
    a = torch.tensor([[1.0, -1, 2], [0.5, -3, 1], [-1, 1, 0], [0, 0, 0], [2, -1, 3]])
    assert D.count_activation_patterns(a) == 3  # 101, 010, 000
    assert D.count_activation_patterns(torch.randn(5000, 40)) == 5000


@pytest.mark.parametrize("k", [3, 5, 7])
def test_region_count_of_lines_in_general_position(k):
    # k lines tangent to a circle at spread angles: all pairs intersect inside the box
    angles = np.pi * (np.arange(k) + 0.37) / k
    normals = np.stack([np.cos(angles), np.sin(angles)], 1)
    offsets = 0.3 * np.cos(np.arange(k) * 2.1)
    w = torch.tensor(normals, dtype=torch.float32)
    b = torch.tensor(-offsets, dtype=torch.float32)
    pts = [np.linalg.solve(normals[[i, j]], offsets[[i, j]]) for i in range(k) for j in range(i)]
    box = 1.2 * np.abs(np.array(pts)).max() + 0.5
    count = D.count_regions_2d(lambda x: x @ w.T + b, (-box, box, -box, box), resolution=1200)
    assert count == 1 + k + k * (k - 1) // 2


def test_linear_probe_separable_vs_shuffled():
    ds = load_dataset("digits", seed=0)
    good = D.linear_probe(ds.X_train, ds.y_train, ds.X_test, ds.y_test)
    assert good["test_accuracy"] > 0.9 and good["train_accuracy"] > 0.97
    rng = np.random.default_rng(0)
    bad = D.linear_probe(ds.X_train, rng.permutation(ds.y_train), ds.X_test, ds.y_test)
    assert bad["test_accuracy"] < 0.2  # chance is 0.1
    x = np.r_[rng.normal(-3, 1, (100, 2)), rng.normal(3, 1, (100, 2))]
    y = np.r_[np.zeros(100), np.ones(100)].astype(int)
    assert D.linear_probe(x, y, x, y)["test_accuracy"] == 1.0
    huge = (x * 1e20).astype(np.float32)  # finite, but standardising overflows float32
    with pytest.raises(ValueError, match=r"train_features has values up to .* overflows"):
        D.linear_probe(huge, y, x, y)
    assert D.linear_probe(huge.astype(np.float64), y, x * 1e20, y)["test_accuracy"] == 1.0
    subnormal = np.c_[x, np.where(y == 1, 1e-45, 0.0)].astype(np.float32)  # std 0 in float32
    assert D.linear_probe(subnormal, y, subnormal, y)["test_accuracy"] == 1.0


@pytest.mark.parametrize(
    "fn",
    [
        D.unit_health,
        D.unit_variance,
        D.l0_sparsity,
        D.effective_rank,
        D.activation_redundancy,
        D.gaussian_total_correlation,
        D.correlation_redundancy,
        D.count_activation_patterns,
        D.responsibility_stats,
    ],
)
def test_bad_activations_raise(fn):
    with pytest.raises(ValueError, match="NaN"):
        fn(torch.tensor([[0.0, float("nan")], [1.0, 2.0]]))
    if fn not in (D.effective_rank, D.count_activation_patterns, D.responsibility_stats):
        with pytest.raises(ValueError, match="at least 2 rows"):
            fn(torch.ones(1, 3))
        with pytest.raises(ValueError, match="2-D"):
            fn(torch.ones(4, 3, 2))


def test_other_bad_inputs():
    with pytest.raises(ValueError, match="at least 2 inputs"):
        D.responsibility_stats(torch.ones(1, 3))
    with pytest.raises(ValueError, match="threshold"):
        D.direction_groups(torch.randn(3, 2), threshold=0)
    with pytest.raises(ValueError, match="bounds"):
        D.count_regions_2d(lambda x: x, (1, 0, 0, 1))
    with pytest.raises(ValueError, match="labels"):
        D.linear_probe(np.ones((4, 2)), np.ones(3), np.ones((4, 2)), np.ones(4))
    with pytest.raises(ValueError, match="2 classes"):
        D.linear_probe(np.ones((4, 2)), np.ones(4), np.ones((4, 2)), np.ones(4))
    with pytest.raises(ValueError, match="p must"):
        D.dead_by_activity(torch.ones(3, 2), p=2)


def test_pairwise_correlations_match_numpy_and_skip_constant_units():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((200, 4))
    a[:, 1] += a[:, 0]
    scaled = np.c_[a * 1e-4, np.full(200, 3.0)]  # tiny scale: still counted; constant: not
    rho, constant = D.pairwise_correlations(torch.tensor(scaled))
    ref = np.corrcoef(a.T)[~np.eye(4, dtype=bool)]
    np.testing.assert_allclose(rho.numpy(), ref, rtol=1e-10)
    assert constant == 1
