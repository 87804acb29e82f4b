"""Redundancy measures against NumPy/SVD formulas: effective rank, weight redundancy,
correlations, Gaussian total correlation."""

import math

import numpy as np
import pytest
import torch

from implicit_em import diagnostics as D


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


def test_pairwise_correlations_match_numpy_and_skip_constant_units():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((200, 4))
    a[:, 1] += a[:, 0]
    scaled = np.c_[a * 1e-4, np.full(200, 3.0)]  # tiny scale: still counted; constant: not
    rho, constant = D.pairwise_correlations(torch.tensor(scaled))
    ref = np.corrcoef(a.T)[~np.eye(4, dtype=bool)]
    np.testing.assert_allclose(rho.numpy(), ref, rtol=1e-10)
    assert constant == 1
