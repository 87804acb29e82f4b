"""The gradient solver's pieces: the parametrisation, the implicit-EM gradient identity
(against the float64 responsibility formula) and the Xu-Jordan step (against EM)."""

import math

import numpy as np
import pytest
import torch

from helpers import gradient_settings
from implicit_em.mixture import _em, _gradient
from implicit_em.mixture.gaussian import COVARIANCE_TYPES, COVARIANCES, log_gaussian_prob


def _start(ct, n=90, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)) + np.repeat(rng.normal(0, 3, (k, 2)), n // k, 0)
    X = torch.as_tensor(X - X.mean(0))
    c = COVARIANCES[ct]
    resp = _em.initial_responsibilities(X, k, "kmeans", np.random.RandomState(seed))
    params = _em.parameters_from_responsibilities(_em.designs(X, c, 64), resp, n, 2, 1e-6, c)
    return X, params


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
@pytest.mark.parametrize("reg", [0.0, 1e-3])
def test_raw_parameters_round_trip(ct, reg):
    _, params = _start(ct)
    s = gradient_settings(ct, reg=reg)
    back = _gradient.params_from_raw(_gradient.raw_from_params(params, s), s)
    for name in params:
        torch.testing.assert_close(back[name], params[name], rtol=1e-9, atol=1e-12)
    if reg:  # the positive entries of P stay below 1/sqrt(reg) whatever the raw values
        raw = _gradient.raw_from_params(params, s)
        raw["raw_p"] = raw["raw_p"] + 1e3
        p = _gradient.params_from_raw(raw, s)["p"]
        scales = torch.diagonal(p, dim1=-2, dim2=-1) if ct in ("full", "tied") else p
        assert float(scales.max()) <= s.p_max == pytest.approx(1 / math.sqrt(reg))


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_gradient_of_the_objective_carries_the_responsibilities(ct):
    """d/dmu_k sum_n log sum_j exp(-d_nj) = sum_n r_nk Sigma_k^-1 (x_n - mu_k)."""
    X, params = _start(ct)
    s = gradient_settings(ct, reg=0.0)
    raw = {k: v.requires_grad_(True) for k, v in _gradient.raw_from_params(params, s).items()}
    (g_mu,) = torch.autograd.grad(_gradient.objective_sum(X, raw, s), [raw["means"]])
    c = COVARIANCES[ct]
    wlp = log_gaussian_prob(X, params["means"], params["p"], c) + params["weights"].log()
    r = torch.softmax(wlp, 1)  # (N, K)
    diff = X[:, None] - params["means"][None]  # (N, K, D)
    prec = torch.as_tensor(
        np.stack(
            [np.linalg.inv(c.dense(c.covariances(params["p"]).numpy(), k, 2)) for k in range(3)]
        )
    )
    want = torch.einsum("nk,kde,nke->kd", r, prec, diff)
    torch.testing.assert_close(g_mu, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_a_full_preconditioned_step_is_an_em_step(ct):
    X, params = _start(ct, seed=1)
    s = gradient_settings(ct, optimizer="preconditioned", learning_rate=1.0)
    c = COVARIANCES[ct]
    parts = _em.designs(X, c, 64)
    total, new, cov, reseeded = _gradient.preconditioned_step(
        X, parts, params, c.covariances(params["p"]), torch.Generator(), s
    )
    em_total, em_new, _ = _em.em_step(parts, params, float(len(X)), s.reg, c)
    torch.testing.assert_close(total, em_total)
    for name in params:
        torch.testing.assert_close(new[name], em_new[name], rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(cov, c.covariances(new["p"]), rtol=1e-7, atol=1e-9)
    assert reseeded == 0


def test_data_scale_is_the_root_mean_variance():
    X = torch.randn(200, 5, dtype=torch.float64) * torch.arange(1, 6) * 1e3
    Xc = X - X.mean(0)
    want = math.sqrt(float((Xc**2).mean()))
    got = _gradient.data_scale(Xc, float(len(X)), Xc.abs().max())
    assert got == pytest.approx(want, rel=1e-12)
    assert _gradient.data_scale(Xc * 0, 200.0, torch.tensor(0.0)) == 1.0


def test_fit_gradient_raises_the_divergence_advice():
    X, params = _start("full")
    s = gradient_settings("full", optimizer="sgd", learning_rate=1e6)
    with pytest.raises(FloatingPointError, match="lower learning_rate"):
        _gradient.fit_gradient(
            X * 1e3, params, n_total=float(len(X)), scale=1.0, s=s,
            gen=torch.Generator(), on_iteration=lambda *a: None,
        )  # fmt: skip


@pytest.mark.parametrize("optimizer", _gradient.OPTIMIZERS)
def test_divergence_advice_never_suggests_the_optimiser_in_use(optimizer):
    for batch_size in (None, 1):
        s = gradient_settings("full", optimizer=optimizer, batch_size=batch_size)
        message = str(_gradient.diverged(3, s))
        assert "lower learning_rate" in message and f"use optimizer={optimizer!r}" not in message
        assert ("use optimizer='preconditioned'" in message) == (optimizer != "preconditioned")
