r"""Gradient solvers for Gaussian mixtures: implicit EM by gradient ascent.

The objective is the exact log-likelihood ``sum_n log sum_k exp(-d_nk)`` with energies
``d_nk = -log pi_k - log N(x_n | mu_k, Sigma_k)``, through
:func:`implicit_em.lse.lse_objective`: the responsibilities are never computed for the
update -- they arrive as gradients (``dL/dd_nk = -r_nk``). The parameters are the weight
logits, the means and the precision Cholesky factors (their positive entries bounded by
``1/sqrt(reg)``), whose ``log det`` is the volume term that stops components collapsing.

The solver sees the centred data divided by one global scale (:func:`data_scale`), so
its steps do not depend on the data's units. Under ``torch.distributed`` the gradients
are all-reduced: every rank takes the step of one process on all the data.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch
import torch.distributed as dist

from .._distributed import all_reduce_
from ..lse import lse_objective
from ._em import Fit, Params, designs, params_from_sums, reseed, sums_from_params
from .gaussian import Covariance, design_weights, log_gaussian_prob, split_moments

OPTIMIZERS = ("adam", "lbfgs", "sgd", "preconditioned")
PATIENCE = 10  # epochs: the window of the convergence test where an epoch can lower the bound
DEFAULT_LEARNING_RATE = {"adam": 0.05, "sgd": 0.05, "lbfgs": 1.0, "preconditioned": 1.0}


@dataclass(frozen=True)
class Settings:
    """What the gradient solver needs to know, in the solver's (scaled) units."""

    cov: Covariance
    optimizer: str
    learning_rate: float
    batch_size: int | None
    chunk_size: int
    reg: float  # reg_covar / scale**2
    tol: float
    max_iter: int
    alpha: float = 0.7  # stepwise EM's step decay: eta_t = lr (t + 2)^-alpha
    stepwise: bool = False  # preconditioned: stepwise EM even on one full batch (partial_fit)

    @property
    def p_max(self) -> float:
        """Bound on the positive entries of ``P`` (``inf`` without regularisation)."""
        return 1.0 / math.sqrt(self.reg) if self.reg > 0 else math.inf


def raw_from_params(params: Params, s: Settings) -> dict[str, torch.Tensor]:
    """Unconstrained leaves: weight logits, means, ``P`` with its positive entries
    mapped through a logit onto ``(0, p_max)`` (a log without a bound)."""
    p_max = s.p_max

    def logit(v):
        if math.isinf(p_max):
            return torch.log(v)
        q = (v / p_max).clamp(1e-12, 1 - 1e-7)
        return torch.log(q) - torch.log1p(-q)

    return {
        "logits": torch.log(params["weights"]).clone(),
        "means": params["means"].clone(),
        "raw_p": s.cov.map_scale(params["p"], logit).clone(),
    }


def params_from_raw(raw: dict[str, torch.Tensor], s: Settings) -> Params:
    """Inverse of :func:`raw_from_params`."""
    p_max = s.p_max

    def bound(v):
        return torch.exp(v) if math.isinf(p_max) else p_max * torch.sigmoid(v)

    p = s.cov.map_scale(raw["raw_p"], bound)
    return {"weights": torch.softmax(raw["logits"], 0), "means": raw["means"], "p": p}


def energies(X: torch.Tensor, raw: dict[str, torch.Tensor], s: Settings) -> torch.Tensor:
    """``d_nk = -log pi_k - log N(x_n | mu_k, Sigma_k)`` from the raw parameters."""
    params = params_from_raw(raw, s)
    log_pi = torch.log_softmax(raw["logits"], 0)
    return -(log_gaussian_prob(X, params["means"], params["p"], s.cov) + log_pi)


def make_optimizer(leaves: list[torch.Tensor], s: Settings):
    """The torch optimiser; for ``"preconditioned"`` (computed here) the state of its
    mini-batch mode, stepwise EM: the running statistics and the step count."""
    if s.optimizer == "adam":
        return torch.optim.Adam(leaves, lr=s.learning_rate)
    if s.optimizer == "sgd":
        return torch.optim.SGD(leaves, lr=s.learning_rate, momentum=0.9)
    if s.optimizer == "lbfgs":
        return torch.optim.LBFGS(
            leaves, lr=s.learning_rate, max_iter=20, line_search_fn="strong_wolfe"
        )
    return {"stats": None, "t": 0}


def objective_sum(X: torch.Tensor, raw: dict[str, torch.Tensor], s: Settings) -> torch.Tensor:
    """``sum_n log sum_k exp(-d_nk)`` over chunks (with autograd)."""
    return cast(
        torch.Tensor,
        sum(
            lse_objective(energies(c, raw, s), reduction="sum", flush_tiny=True)
            for c in X.split(s.chunk_size)
        ),
    )


def _reduce_grads(leaves: list[torch.Tensor]) -> None:
    all_reduce_(*(leaf.grad for leaf in leaves))


def _order(n: int, s: Settings, gen: torch.Generator, device):
    """Batch size and a shuffled order (``None``: one full batch, no shuffle)."""
    size = s.batch_size or n
    return size, (torch.randperm(n, generator=gen).to(device) if size < n else None)


def optimizer_epoch(X, raw, opt, n_total: float, gen, s: Settings) -> None:
    """One pass of a torch optimiser over the data (L-BFGS: one full-batch step)."""
    leaves = list(raw.values())
    if s.optimizer == "lbfgs":

        def closure():
            opt.zero_grad()
            loss = -objective_sum(X, raw, s) / n_total
            loss.backward()
            _reduce_grads(leaves)
            return loss

        opt.step(closure)
        return
    size, order = _order(X.shape[0], s, gen, X.device)
    for start in range(0, X.shape[0], size):
        batch = X if order is None else X[order[start : start + size]]
        opt.zero_grad()
        # global mean over the batch across ranks: scale by the global batch size
        count = torch.tensor(float(len(batch)), dtype=X.dtype, device=X.device)
        all_reduce_(count)
        loss = -lse_objective(energies(batch, raw, s), reduction="sum", flush_tiny=True)
        loss = loss / count
        loss.backward()
        _reduce_grads(leaves)
        opt.step()


def preconditioned_epoch(X, raw, gen, s: Settings, full_parts, state: dict, n_seen: float):
    """One pass of the preconditioned solver; returns ``(objective sum or None,
    n_reseeded)``: one Xu-Jordan step on the full batch (:func:`preconditioned_step`;
    ``full_parts()`` gives the design chunks of all of ``X``, built once by the caller,
    and the objective at the start of the pass comes for free), or stepwise EM over
    mini-batches (:func:`stepwise_step`, ``state`` its running statistics, which stand
    for ``n_seen`` samples) -- over one batch of all rows too with ``s.stepwise``."""
    with torch.no_grad():
        params = params_from_raw(raw, s)
    size, order = _order(X.shape[0], s, gen, X.device)
    total, n_reseeded = None, 0
    if order is None and not s.stepwise:
        cov = s.cov.covariances(params["p"])
        total, params, cov, n_reseeded = preconditioned_step(X, full_parts(), params, cov, gen, s)
    else:
        for start in range(0, X.shape[0], size):
            rows = slice(start, start + size)
            batch = X[rows] if order is None else X[order[rows]]
            params, reseeded = stepwise_step(batch, params, state, n_seen, gen, s)
            n_reseeded += reseeded
    with torch.no_grad():
        for name, value in raw_from_params(params, s).items():
            raw[name].copy_(value)
    return total, n_reseeded


def batch_statistics(X: torch.Tensor, params: Params, s: Settings):
    r"""``(R^T F, count)`` of a batch over all ranks, as a gradient: with design weights
    ``W`` (:func:`.gaussian.design_weights`), ``d/dW sum_n log sum_k exp(W F^T)_kn =
    R^T F`` -- the counts, first and second moment sums arrive as the gradient of the
    batch's log-likelihood."""
    w = design_weights(params["means"], params["p"], torch.log(params["weights"]), s.cov)
    w = w.detach().requires_grad_(True)
    with torch.enable_grad():
        objective = cast(
            torch.Tensor,
            sum(
                lse_objective(-(w @ f), 0, reduction="sum", flush_tiny=True)
                for f in designs(X, s.cov, s.chunk_size)
            ),
        )
        (sums,) = torch.autograd.grad(objective, w)
    count = torch.tensor(float(X.shape[0]), dtype=X.dtype, device=X.device)
    all_reduce_(sums, count)
    return sums, count


def stepwise_step(X, params: Params, state: dict, n_total: float, gen, s: Settings):
    r"""One step of stepwise EM (Cappe & Moulines 2009; Liang & Klein 2009) on batch ``X``.

    The running mean statistics ``S`` ``(K, W)`` (at first those the parameters stand
    for, :func:`._em.sums_from_params`) move ``eta_t = lr (t + 2)^-alpha |B| / max|B|``
    of the way to the batch's ``R^T F / |B|`` (a batch shorter than the longest seen
    moves in proportion) (:func:`batch_statistics`), and the parameters are their
    M-step; ``eta_t < 1``, so a covariance stays positive definite however few samples a
    batch gives a component. A component whose statistics stand for less than one
    sample's worth of responsibility out of ``n_total`` (``S_k[count] n_total <``
    :meth:`.gaussian.Covariance.min_count`: ``D + 1`` for a full covariance) is reseeded
    on a row of the batch (one row is enough) with the per-feature variances of the
    running statistics pooled over components (:func:`pooled_variances`: the data's,
    as the E-step's responsibilities sum to 1 per row; never a batch's own variance,
    which one row leaves undefined), its statistics those of the new parameters.
    Returns ``(params, n_reseeded)``; ``state`` (``stats``, ``t``) is updated in place.
    """
    wide = torch.float64 if X.device.type != "mps" else X.dtype  # second moments minus
    with torch.no_grad():  # squared means: kept in float64, the M-step too (K x W only)
        if state["stats"] is None:
            state["stats"] = sums_from_params(_cast(params, wide), s.reg, s.cov)
        sums, count = batch_statistics(X, params, s)
        # a short batch (the last of an epoch) moves in proportion to its rows: one row
        # after batches of 296 must not take a full step
        state["rows"] = max(state.get("rows", 0), float(count))
        eta = s.learning_rate * (state["t"] + 2) ** -s.alpha * float(count) / state["rows"]
        state["stats"] = torch.lerp(state["stats"], sums.to(wide) / float(count), eta)
        state["t"] += 1
        empty = state["stats"][:, -1] * n_total < s.cov.min_count(X.shape[1])
        reseeding = s.cov.reseeds and bool(empty.any())
        if reseeding:  # its statistics may not define a covariance: the old ones, then
            var = pooled_variances(state["stats"], X.shape[1], s.cov)  # a new place
            old = sums_from_params(_cast(params, wide), s.reg, s.cov)
            state["stats"][empty] = old[empty]
        new = _cast(params_from_sums(state["stats"], 1.0, X.shape[1], s.reg, s.cov)[0], X.dtype)
        if reseeding:
            new = reseed(X, new, empty, gen, s.reg, s.cov, var)
            state["stats"] = sums_from_params(_cast(new, wide), s.reg, s.cov)
            return new, int(empty.sum())
    return new, 0


def pooled_variances(stats: torch.Tensor, n_features: int, cov: Covariance) -> torch.Tensor:
    """Per-feature variances ``(D,)`` of mean statistics ``(K, W)`` summed over the
    components: the mixture's marginal, whatever the batch size."""
    nk, sx, sq = split_moments(stats, n_features)
    return cov.feature_variances(sx.sum(0), sq.sum(0), nk.sum())


def _cast(params: Params, dtype: torch.dtype) -> Params:
    return {name: value.to(dtype) for name, value in params.items()}


def preconditioned_step(X, parts, params: Params, cov: torch.Tensor, gen, s: Settings):
    r"""``theta + lr * P(theta) grad l(theta)`` with the Xu-Jordan preconditioner ``P``.

    ``l = sum_n log sum_k exp(F_n . W_k)`` is differentiated by autograd with respect to
    the weight logits ``a``, the means and the covariances; then ``N_k = N pi_k +
    dl/da_k`` (the responsibilities arrive as gradients), ``mu_k* = mu_k + Sigma_k
    dl/dmu_k / N_k``, ``Sigma_k* = Sigma_k + 2/N_k Sigma_k dl/dSigma_k Sigma_k - d_k
    d_k^T + reg I`` with ``d_k = mu_k* - mu_k`` (the scatter about the new mean), ``pi* =
    N_k / N``. ``(pi*, mu*, Sigma*)`` is exactly the EM update, and the step moves ``lr``
    of the way there (a convex combination: ``Sigma`` stays SPD).

    Returns ``(objective sum, params, covariances, n_reseeded)``.
    """
    c = s.cov
    logits = torch.log(params["weights"]).detach().requires_grad_(True)
    means = params["means"].detach().clone().requires_grad_(True)
    cov_leaf = cov.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        p = c.precision_cholesky(c.symmetrize(cov_leaf))
        w = design_weights(means, p, torch.log_softmax(logits, 0), c)
        objective = cast(
            torch.Tensor,
            sum(lse_objective(-(w @ f), 0, reduction="sum", flush_tiny=True) for f in parts),
        )
        g_a, g_mu, g_cov = torch.autograd.grad(objective, (logits, means, cov_leaf))
    total = objective.detach()
    count = torch.tensor(float(X.shape[0]), dtype=X.dtype, device=X.device)
    all_reduce_(total, count, g_a, g_mu, g_cov)
    n_reseeded = 0
    with torch.no_grad():
        weights = params["weights"]
        nk = count * weights + g_a + 10 * torch.finfo(X.dtype).eps
        d = X.shape[1]
        denominator = c.denominator(nk, count, d)
        step = c.times_covariance(cov, g_mu)
        target = cov + 2 * c.sandwich(cov, g_cov) / denominator
        new_means = means.detach() + step / nk[:, None]
        delta = new_means - means.detach()
        target = c.add_ridge(target - c.shift_scatter(delta, nk, count), s.reg)
        lr = s.learning_rate
        new = {
            "weights": weights + lr * (nk / count - weights),
            "means": params["means"] + lr * (new_means - params["means"]),
        }
        cov = cov + lr * (target - cov)
        new["p"] = c.precision_cholesky(cov)
        empty = nk < 1.0
        if c.reseeds and bool(empty.any()):
            new = reseed(X, new, empty, gen, s.reg, c)
            cov = c.covariances(new["p"])
            n_reseeded = int(empty.sum())
    return total, new, cov, n_reseeded


def data_scale(Xc: torch.Tensor, n_total: float, peak: torch.Tensor) -> float:
    """Root mean variance of the centred data over all ranks (1 for constant data);
    computed as ``m * rms(X / m)`` with ``m = max |X|`` (``peak``, this rank's, from
    :func:`implicit_em._checks.check_finite`) so that squares cannot overflow."""
    peak = peak.clone()
    all_reduce_(peak, op=dist.ReduceOp.MAX)
    if not float(peak) > 0:
        return 1.0
    ss = ((Xc / peak) ** 2).sum()
    all_reduce_(ss)
    scale = float(peak) * math.sqrt(float(ss) / (n_total * Xc.shape[1]))
    return scale if math.isfinite(scale) and scale > 0 else 1.0


def advice(s: Settings) -> str:
    """What to try after a divergence: never the optimiser already in use."""
    if s.optimizer == "preconditioned":  # EM-sized steps (stepwise EM): no optimiser to switch to
        return (
            "with EM-sized steps (optimizer='preconditioned', or solver='em' partial_fit) and "
            f"learning_rate={s.learning_rate}; lower learning_rate, use a larger batch_size, "
            "or raise reg_covar"
        )
    return (
        f"with optimizer={s.optimizer!r} and learning_rate={s.learning_rate}; lower "
        "learning_rate, or use optimizer='preconditioned' (EM-sized steps, which cannot "
        "overshoot)"
    )


def diverged(epoch: int, s: Settings) -> FloatingPointError:
    """The error for a step that left the finite numbers."""
    return FloatingPointError(
        f"the gradient solver diverged in epoch {epoch}: the parameters or the "
        f"log-likelihood became non-finite {advice(s)}"
    )


def patience(s: Settings, n_rows: int) -> int:
    """Epochs the convergence test looks back over: 1 where every epoch raises the bound
    (full-batch EM steps, L-BFGS's line search), as EM; else :data:`PATIENCE`. Adam,
    SGD and mini-batch steps oscillate, and a single epoch's change is near 0 at every
    turn of an oscillation (Adam's default stopped 1.19 nats/sample short of EM on
    50k x 16 data, ``converged_=True``, on a change of -6.7e-4 between epochs whose
    changes reached 0.02)."""
    full = s.batch_size is None or s.batch_size >= n_rows
    return 1 if s.optimizer == "lbfgs" or (s.optimizer == "preconditioned" and full) else PATIENCE


def stalled(history: list[float], tol: float, window: int) -> bool:
    """The convergence test: the best mean log-likelihood of the last ``window`` epochs
    is less than ``tol`` above the best before them (``window = 1``: EM's ``|change| <
    tol``). Never with ``tol <= 0`` or fewer than ``window + 1`` epochs."""
    if tol <= 0 or len(history) <= window:
        return False
    if window == 1:
        return abs(history[-1] - history[-2]) < tol
    return max(history[-window:]) - max(history[:-window]) < tol


def fit_gradient(
    X: torch.Tensor,
    params: Params,
    *,
    n_total: float,
    scale: float,
    s: Settings,
    gen: torch.Generator,
    on_iteration: Callable[[int, float], None],
    state: dict | None = None,
    n_seen: float | None = None,
) -> Fit:
    """Gradient ascent on the log-likelihood of ``X / scale`` for ``s.max_iter`` epochs
    or until the mean log-likelihood improves by less than ``s.tol`` (:func:`stalled`
    over :func:`patience` epochs).

    ``X``, ``params`` and the returned parameters and bounds are in the data's units;
    ``state`` (raw parameters and optimiser, to continue a fit) is in the scaled units.
    ``n_seen``: the samples stepwise EM's running statistics stand for (``partial_fit``:
    all rows seen so far; default ``n_total``).
    """
    Xs = X / scale if scale != 1.0 else X
    log_jacobian = X.shape[1] * math.log(scale)  # log N(x/s) = log N(x) + d log s
    if state:
        raw = state["raw"]
    else:
        scaled = {"weights": params["weights"], "means": params["means"] / scale}
        scaled["p"] = params["p"] * scale  # precision Cholesky of Sigma / s^2
        raw = {k: v.detach().requires_grad_(True) for k, v in raw_from_params(scaled, s).items()}
    opt = state["opt"] if state else make_optimizer(list(raw.values()), s)
    full_parts = functools.cache(lambda: designs(Xs, s.cov, s.chunk_size))  # built once

    history, converged, lower, n_reseeded, it = [], False, -math.inf, 0, 0
    window = patience(s, X.shape[0])
    with torch.no_grad():  # where the fit starts: it must not end far below it
        at_start = objective_sum(Xs, raw, s)
    all_reduce_(at_start)
    start = float(at_start) / n_total - log_jacobian
    for it in range(1, s.max_iter + 1):
        try:
            total = None
            if s.optimizer == "preconditioned":
                total, reseeded = preconditioned_epoch(
                    Xs, raw, gen, s, full_parts, opt, n_seen or n_total
                )
                n_reseeded += reseeded
            else:
                optimizer_epoch(Xs, raw, opt, n_total, gen, s)
            if total is None:
                with torch.no_grad():
                    total = objective_sum(Xs, raw, s)
                all_reduce_(total)
        except ValueError as err:  # lse_objective refuses NaN or all-inf energies; the
            raise diverged(it, s) from err  # data were checked, so the step diverged
        lower = float(total) / n_total - log_jacobian
        if not math.isfinite(lower):
            raise diverged(it, s)
        history.append(lower)
        on_iteration(it, lower)
        if stalled(history, s.tol, window):
            converged = True
            break
    if math.isfinite(start) and lower < start - max(1.0, 0.1 * abs(start)):
        raise FloatingPointError(
            f"the gradient solver diverged: the mean log-likelihood fell from {start:.5g} at "
            f"the start to {lower:.5g} after {it} epoch(s) {advice(s)}"
        )
    with torch.no_grad():
        out = {k: v.detach() for k, v in params_from_raw(raw, s).items()}
    out["means"], out["p"] = out["means"] * scale, out["p"] / scale
    return Fit(out, history, converged, it, n_reseeded, {"raw": raw, "opt": opt})
