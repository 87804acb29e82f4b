r"""Explicit EM for Gaussian mixtures: initialisation, E/M-steps as GEMMs, reseeding.

Each EM iteration is two matrix products per chunk of the transposed design matrix
``F^T = [q(x); x; 1]`` (:func:`.gaussian.transposed_design`): the E-step ``W @ F^T``
gives the weighted log-densities of all components, the M-step ``F^T @ R`` (``R`` the
``(N, K)`` responsibilities) the counts and moment sums.
Under ``torch.distributed`` the sums are all-reduced, so every rank takes the step of one
process on all the data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._distributed import all_reduce_, broadcast_
from .gaussian import (
    Covariance,
    design_weights,
    design_width,
    normalize_log_prob,
    split_moments,
    transposed_design,
)

Params = dict[str, torch.Tensor]  # {"weights": (K,), "means": (K, D), "p": precision Cholesky}

DESIGN_BUDGET = 2**27  # entries of the cached design matrix (512 MB in float32)
EM_CHUNK_BYTES = 6 * 2**20  # cached design chunks of about this size stay in cache between
# the E-step and M-step products (measured 1.2-1.4x faster than 64k-row chunks)
BUILT_CHUNK_BYTES = 16 * 2**20  # chunks built per pass: full [100k, 32] -> 16 took 41, 35,
# 51 ms a step with 8, 16 and 32 MB chunks


@dataclass
class Fit:
    """What one run of a solver returns."""

    params: Params
    history: list[float]
    converged: bool
    n_iter: int
    n_reseeded: int = 0
    state: dict | None = None  # the gradient solver's raw parameters and optimiser


class BuiltDesigns:
    """Design chunks ``F^T`` ``(W, rows)`` built on the fly from ``X^T`` on every pass:
    memory ``O(rows W)`` instead of ``O(N W)``. With ``reuse`` one buffer holds every
    chunk in turn (only for a consumer done with a chunk before the next, not autograd)."""

    def __init__(self, X: torch.Tensor, cov: Covariance, rows: int, reuse: bool = False):
        self.xT, self.cov, self.rows, self.reuse = X.T.contiguous(), cov, rows, reuse
        self.width = design_width(X.shape[1], cov)

    def __iter__(self) -> Iterator[torch.Tensor]:
        buffer = self.xT.new_empty(self.width, self.rows) if self.reuse else None
        for xT in self.xT.split(self.rows, 1):
            full = buffer is not None and xT.shape[1] == self.rows
            yield transposed_design(xT, self.cov, buffer if full else None)


def designs(
    X: torch.Tensor, cov: Covariance, chunk_size: int, reuse: bool = False
) -> list[torch.Tensor] | BuiltDesigns:
    """Transposed design-matrix chunks ``F^T`` of ``X``: built once when ``q(x)`` is
    narrow (``cov.cache_design``) and they fit in ``DESIGN_BUDGET`` entries (cache-sized
    pieces, so each EM iteration is two GEMMs per piece), else built chunk by chunk on
    every pass (:class:`BuiltDesigns`, ``reuse`` as there)."""
    width = design_width(X.shape[1], cov)
    size = X.element_size()
    if not cov.cache_design or X.shape[0] * width > DESIGN_BUDGET:
        return BuiltDesigns(
            X, cov, max(256, min(chunk_size, BUILT_CHUNK_BYTES // (width * size))), reuse
        )
    rows = max(256, min(chunk_size, EM_CHUNK_BYTES // (width * size)))
    return [transposed_design(xc.T, cov) for xc in X.split(rows)]


def m_step(sums: torch.Tensor, n_total, n_features: int, reg_covar: float, cov: Covariance):
    """Parameters from this rank's moment sums ``R^T F`` ``(K, W)`` (all-reduced here).

    Returns ``(params, nk)`` with ``nk`` the ``(K,)`` total responsibility per component.
    """
    all_reduce_(sums)
    return params_from_sums(sums, n_total, n_features, reg_covar, cov)


def params_from_sums(sums: torch.Tensor, n_total, n_features: int, reg_covar: float, cov):
    """The M-step: ``(params, nk)`` from the moment sums ``R^T F`` of all ``n_total``
    samples (sums of a mean over samples with ``n_total = 1``)."""
    nk, sx, sq = split_moments(sums, n_features)
    safe = nk + 10 * torch.finfo(nk.dtype).eps
    means = sx / safe[:, None]
    weights = safe / n_total
    scatter = cov.scatter(sx, sq, safe)  # exact in exact arithmetic; the data are centred
    covariances = cov.covariance_from_scatter(scatter, safe, n_total, n_features, reg_covar)
    return {"weights": weights, "means": means, "p": cov.precision_cholesky(covariances)}, nk


def sums_from_params(params: Params, reg_covar: float, cov: Covariance) -> torch.Tensor:
    """The mean statistics ``E[r f(x)]`` ``(K, W)`` the parameters stand for: ``pi_k
    [E_k q(x), mu_k, 1]`` with the ridge taken off, so that :func:`params_from_sums`
    with ``n_total = 1`` gives the parameters back."""
    covariances = cov.add_ridge(cov.covariances(params["p"]), -reg_covar)
    quad = cov.quadratic_moments(covariances, params["means"])
    w = params["weights"][:, None]
    return torch.cat([quad, params["means"], torch.ones_like(w)], 1) * w


def parameters_from_responsibilities(
    parts, resp: torch.Tensor, n_total, n_features: int, reg_covar: float, cov: Covariance
) -> Params:
    """The M-step for given responsibilities ``(N, K)`` over design chunks ``parts``."""
    sums: Any = 0  # a tensor after the first chunk
    start = 0
    for f in parts:
        sums = sums + f @ resp[start : start + f.shape[1]]
        start += f.shape[1]
    return m_step(sums.T.contiguous(), n_total, n_features, reg_covar, cov)[0]


def initial_responsibilities(X: torch.Tensor, k: int, init_params: str, rng) -> torch.Tensor:
    """Hard or random responsibilities ``(N, K)`` to start from (as scikit-learn)."""
    n = X.shape[0]
    Xn = X.detach().cpu().double().numpy()
    if init_params == "kmeans":
        from sklearn.cluster import KMeans

        labels = KMeans(k, n_init=1, random_state=rng).fit(Xn).labels_
        resp = np.zeros((n, k))
        resp[np.arange(n), labels] = 1
    elif init_params == "random":
        resp = rng.uniform(size=(n, k))
        resp /= resp.sum(1, keepdims=True)
    else:
        if init_params == "k-means++":
            from sklearn.cluster import kmeans_plusplus

            _, idx = kmeans_plusplus(Xn, k, random_state=rng)
        else:
            idx = rng.choice(n, size=k, replace=False)
        resp = np.zeros((n, k))
        resp[idx, np.arange(k)] = 1
    return torch.as_tensor(resp, dtype=X.dtype, device=X.device)


def em_step(parts, params: Params, n_total, reg_covar: float, cov: Covariance):
    """One EM iteration; returns ``(log-likelihood sum, new params, nk)``."""
    w = design_weights(params["means"], params["p"], torch.log(params["weights"]), cov)
    total: Any = 0.0  # tensors after the first chunk
    sums: Any = 0
    for f in parts:
        norm, resp = normalize_log_prob(w @ f, dim=0)  # (K, rows)
        total = total + norm.sum()
        sums = sums + f @ resp.T
    total = torch.as_tensor(total, dtype=w.dtype, device=w.device)
    all_reduce_(total)
    new, nk = m_step(sums.T.contiguous(), n_total, params["means"].shape[1], reg_covar, cov)
    return total, new, nk


def data_variance(X: torch.Tensor) -> torch.Tensor:
    """Per-feature variance ``(D,)`` of the rows of all ranks (``X.var(0)`` of one
    process on all the data: about the global mean, divided by ``n - 1``; 0 for one row)."""
    n = torch.tensor(float(X.shape[0]), dtype=X.dtype, device=X.device)
    total = X.sum(0)
    all_reduce_(n, total)
    squares = ((X - total / n) ** 2).sum(0)
    all_reduce_(squares)
    return squares / (n - 1).clamp_min(1)


def reseed(
    X, params: Params, empty, gen, reg: float, cov: Covariance, var: torch.Tensor | None = None
) -> Params:
    """Move components that lost (almost) all responsibility to random rows of ``X``
    (one row each suffices), with per-feature variances ``var`` ``(D,)`` (default: the
    data's, :func:`data_variance`, over all ranks) and a small weight; identical on all
    ranks. ``var`` is floored at ``reg`` (``1e-12`` without one)."""
    k = int(empty.sum())
    idx = torch.randint(0, X.shape[0], (k,), generator=gen).to(X.device)
    means, p, weights = params["means"].clone(), params["p"].clone(), params["weights"]
    means[empty] = X[idx]
    broadcast_(means)
    var = data_variance(X) if var is None else var.to(X.dtype)
    p[empty] = cov.spread_cholesky(var.clamp_min(reg or 1e-12))
    weights = torch.where(empty, torch.full_like(weights, 1.0 / len(weights)), weights)
    return {"weights": weights / weights.sum(), "means": means, "p": p}


def fit_em(
    X: torch.Tensor,
    parts,
    params: Params,
    *,
    n_total: float,
    cov: Covariance,
    reg_covar: float,
    tol: float,
    max_iter: int,
    gen: torch.Generator,
    on_iteration: Callable[[int, float], None],
) -> Fit:
    """EM until the mean log-likelihood improves by less than ``tol``.

    As scikit-learn: E-step (the bound of the current parameters), M-step, then the
    test. A reseeded component makes the bound jump, so no test follows that step.
    """
    history, converged, lower, n_reseeded, it = [], False, -math.inf, 0, 0
    for it in range(1, max_iter + 1):
        total, new, nk = em_step(parts, params, n_total, reg_covar, cov)
        empty = nk < 1.0  # less than one sample's worth of responsibility
        if cov.reseeds and bool(empty.any()):
            new = reseed(X, new, empty, gen, reg_covar, cov)
            n_reseeded += int(empty.sum())
            lower = -math.inf
        prev, lower = lower, float(total) / n_total
        history.append(lower)
        on_iteration(it, lower)
        params = new
        if abs(lower - prev) < tol:
            converged = True
            break
    return Fit(params, history, converged, it, n_reseeded)
