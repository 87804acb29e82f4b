r"""``GaussianMixture``: fitted by explicit EM or by gradient descent (implicit EM).

The gradient solver maximises the exact log-likelihood
``sum_n log sum_k exp(-d_nk)`` with energies ``d_nk = -log pi_k - log N(x_n | mu_k,
Sigma_k)`` through :func:`implicit_em.lse.lse_objective`: the responsibilities are
never computed for the update -- they arrive as gradients (``dL/dd_nk = -r_nk``). The
parameters are the weight logits, the means and the precision Cholesky factors, whose
``log det`` is the volume term that stops components from collapsing.

Both solvers run on any torch device and dtype, in chunks of ``chunk_size`` rows, with
mini-batches for the gradient solver, and under ``torch.distributed``: each rank holds a
shard, EM all-reduces sufficient statistics and the gradient solver all-reduces
gradients, so all ranks end with the parameters of one process on all the data.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.distributed as dist
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from .._checks import check_finite
from .._distributed import distributed, world_size
from ..lse import lse_objective
from ..progress import bar as progress_bar
from .gaussian import (
    COVARIANCE_TYPES,
    covariances_from_precision_cholesky,
    design_matrix,
    design_weights,
    log_det_cholesky,
    log_gaussian_prob,
    n_parameters,
    normalize_log_prob,
    parameters_from_statistics,
    precision_cholesky,
    scatter_from_moments,
    split_moments,
)

INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
SOLVERS = ("em", "gradient")
OPTIMIZERS = ("adam", "lbfgs", "sgd", "preconditioned")
DEFAULT_LEARNING_RATE = {"adam": 0.05, "sgd": 0.05, "lbfgs": 1.0, "preconditioned": 1.0}


DESIGN_BUDGET = 2**27  # entries of the cached design matrix (512 MB in float32)
EM_CHUNK_BYTES = 6 * 2**20  # cached design chunks of about this size stay in cache between
# the E-step and M-step products (measured 1.2-1.4x faster than 64k-row chunks)


class _LazyDesigns:
    """Iterates design-matrix chunks, building each on the fly."""

    def __init__(self, chunks, covariance_type):
        self.chunks, self.covariance_type = chunks, covariance_type

    def __iter__(self):
        return (design_matrix(xc, self.covariance_type) for xc in self.chunks)


def _all_reduce(*tensors):
    if distributed():
        for t in tensors:
            dist.all_reduce(t)


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture model, scikit-learn compatible, fitted by EM or gradient descent.

    Args:
        n_components: number of mixture components ``K``.
        covariance_type: ``"full"`` | ``"tied"`` | ``"diag"`` | ``"spherical"``.
        solver: ``"em"`` (explicit EM) or ``"gradient"`` (implicit EM: gradient ascent on
            the log-likelihood).
        tol: stop when the mean log-likelihood improves by less than this.
        reg_covar: added to covariance diagonals (EM); the gradient solver bounds the
            precision Cholesky diagonal by ``1/sqrt(reg_covar)`` instead. The gradient
            solver works on the centred data divided by one global scale (the root mean
            variance), so its steps do not depend on the data's units; results are
            reported in the data's units.
        max_iter: EM iterations, or gradient epochs (passes over the data).
        n_init: initialisations; the best lower bound is kept.
        init_params: ``"kmeans"`` | ``"k-means++"`` | ``"random"`` | ``"random_from_data"``.
        weights_init, means_init, precisions_init: explicit initial parameters (as in
            scikit-learn; ``precisions_init`` are precision matrices).
        batch_size: mini-batch size of the gradient solver (``None``: full batch).
        optimizer: gradient solver's optimiser: ``"adam"`` | ``"sgd"`` | ``"lbfgs"`` (full
            batch) | ``"preconditioned"``: autograd's gradient times the Xu & Jordan (1996)
            preconditioner (``Sigma_k / N_k`` for means, ``2/N_k Sigma_k (.) Sigma_k`` for
            covariances, ``1/N`` for weights), with ``N_k`` read off the weight-logit
            gradient; at ``learning_rate=1`` and full batch each epoch is exactly one EM
            step, with mini-batches a stochastic-approximation (online) EM.
        learning_rate: step size of the gradient solver (``None``: 0.05 for adam/sgd, 1 for
            lbfgs and preconditioned, whose step must lie in ``(0, 1]``).
        device, dtype: torch device/dtype of the computation (default: the input's;
            float64 for float64 NumPy input). float16/bfloat16 input is computed in
            float32 and the outputs of ``predict_proba``/``score_samples``/``sample`` are
            returned in the input's dtype; ``dtype`` itself must be float32 or float64.
            Input that requires grad is detached (the fit is not differentiable).
        random_state: seed (int), ``RandomState`` or ``None``.
        warm_start: start from the previous fit's parameters.
        verbose: ``>0`` shows a progress bar with the current bound.
        chunk_size: at most this many rows are processed at once (cached EM design
            chunks are also kept cache-sized, ~6 MB: each EM iteration is two GEMMs per
            chunk, the second reading what the first left in cache).

    Raises:
        ValueError: NaN/inf, empty or meta-device input; bad hyper-parameters; a warm
            start on data or settings of another shape.
        TypeError: a half-precision ``dtype`` or a non-float ``dtype``.
        FloatingPointError: the gradient solver diverged (lower ``learning_rate`` or use
            ``optimizer="preconditioned"``).

    Attributes:
        weights_, means_, covariances_, precisions_cholesky_: fitted parameters (NumPy).
        converged_, n_iter_, lower_bound_ (mean log-likelihood), lower_bound_history_.
        n_reseeded_: how often EM moved an emptied component (total responsibility < 1)
            to a random data point (a ``RuntimeWarning`` reports it).

    Example:
        >>> X = np.r_[np.random.default_rng(0).normal(-3, 1, (100, 2)),
        ...           np.random.default_rng(1).normal(3, 1, (100, 2))]
        >>> gm = GaussianMixture(2, random_state=0).fit(X)
        >>> np.sort(gm.means_[:, 0]).round(0)
        array([-3.,  3.])
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        solver: str = "em",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        batch_size: int | None = None,
        optimizer: str = "adam",
        learning_rate: float | None = None,
        device=None,
        dtype=None,
        random_state=None,
        warm_start: bool = False,
        verbose: int = 0,
        chunk_size: int = 65536,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.solver = solver
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.chunk_size = chunk_size

    # ------------------------------------------------------------------ validation

    def _check_parameters(self):
        def positive_int(name):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")

        for name in ("n_components", "max_iter", "n_init", "chunk_size"):
            positive_int(name)
        choices = {
            "covariance_type": COVARIANCE_TYPES,
            "solver": SOLVERS,
            "init_params": INIT_PARAMS,
            "optimizer": OPTIMIZERS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("tol", "reg_covar", "learning_rate"):
            v = getattr(self, name)
            if name == "learning_rate" and v is None:
                continue
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.optimizer == "preconditioned" and not 0 < self._lr() <= 1:
            raise ValueError(
                "optimizer='preconditioned' needs 0 < learning_rate <= 1 (1 is one EM step "
                f"per full batch; smaller values damp mini-batch noise), got {self.learning_rate!r}"
            )
        if self.batch_size is not None:
            positive_int("batch_size")

    def _torch_options(self, X_is_torch, X):
        device = (
            torch.device(self.device)
            if self.device is not None
            else (X.device if X_is_torch else torch.device("cpu"))
        )
        if device.type == "meta":
            raise ValueError(
                "GaussianMixture cannot fit on the 'meta' device (it holds no values); "
                "set device='cpu' or 'cuda'"
            )
        if self.dtype is not None:
            try:
                dtype = (
                    self.dtype
                    if isinstance(self.dtype, torch.dtype)
                    else getattr(torch, np.dtype(self.dtype).name)
                )
            except (TypeError, AttributeError):
                dtype = None
            if dtype not in (torch.float32, torch.float64):
                raise TypeError(
                    f"dtype must be float32 or float64 (or None), got {self.dtype!r}; "
                    "half-precision input is computed in float32 automatically"
                )
        elif X_is_torch:
            dtype = X.dtype if X.is_floating_point() else torch.get_default_dtype()
            if dtype in (torch.float16, torch.bfloat16):
                dtype = torch.float32  # Cholesky, logdet and EM sums need float32 at least
        else:
            dtype = torch.float64 if X.dtype == np.float64 else torch.float32
        return device, dtype

    def _validate(self, X, reset: bool) -> torch.Tensor:
        """Validate ``X`` (NumPy via scikit-learn, torch directly) -> torch tensor."""
        is_torch = isinstance(X, torch.Tensor)
        if is_torch:
            if X.device.type == "meta":
                raise ValueError(
                    "X is on the 'meta' device and holds no values; GaussianMixture needs "
                    "real data (move it to 'cpu' or 'cuda')"
                )
            if X.ndim != 2:
                raise ValueError(
                    f"Expected 2D input X (n_samples, n_features), got {X.ndim}D; reshape a "
                    "single feature with X.reshape(-1, 1) or a single sample with X.reshape(1, -1)"
                )
            if X.is_complex():
                raise TypeError(f"X must be real, got dtype {X.dtype}")
            X = X.detach()  # the fit is not differentiable: never build a graph through it
            if reset and X.shape[0] < 2:
                raise ValueError(
                    f"X has {X.shape[0]} sample(s) (shape={tuple(X.shape)}) while a minimum of 2 "
                    "is required by GaussianMixture."
                )
            if X.shape[1] < 1:
                raise ValueError(
                    f"X has 0 feature(s) (shape={tuple(X.shape)}) while a minimum of 1 is "
                    "required by GaussianMixture."
                )
            if not bool(torch.isfinite(X).all()):
                raise ValueError("Input X contains NaN or infinity")
            if reset:
                self.n_features_in_ = X.shape[1]
            elif X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input"
                )
        else:
            X = validate_data(
                self,
                X,
                dtype=[np.float64, np.float32],
                reset=reset,
                ensure_min_samples=2 if reset else 1,
            )
        if reset:
            self._input_kind = "torch" if is_torch else "numpy"
            self._input_dtype = X.dtype if is_torch and X.is_floating_point() else None
            self._device, self._dtype = self._torch_options(is_torch, X)
        if not is_torch:  # torch needs a writeable, C-ordered buffer (copied only if not)
            X = torch.from_numpy(np.require(X, requirements=["C", "W"]))
        return X.to(self._device, self._dtype)

    def _output(self, t: torch.Tensor, like):
        if isinstance(like, torch.Tensor):
            if t.is_floating_point() and like.dtype in (torch.float16, torch.bfloat16):
                t = t.to(like.dtype)  # computed in float32, returned in the input's dtype
            return t.to(like.device)
        return t.detach().cpu().numpy()

    # ------------------------------------------------------------------ initialisation

    def _initialize(self, X: torch.Tensor, rng) -> dict:
        """Initial ``{"weights", "means", "p"}`` (means in the centred frame)."""
        n = X.shape[0]
        k = self.n_components
        if (
            self.means_init is not None
            or self.weights_init is not None
            or (self.precisions_init is not None)
        ):
            return self._initialize_explicit(X, rng)
        Xn = X.detach().cpu().double().numpy()
        if self.init_params == "kmeans":
            from sklearn.cluster import KMeans

            labels = KMeans(k, n_init=1, random_state=rng).fit(Xn).labels_
            resp = np.zeros((n, k))
            resp[np.arange(n), labels] = 1
        elif self.init_params == "random":
            resp = rng.uniform(size=(n, k))
            resp /= resp.sum(1, keepdims=True)
        else:
            if self.init_params == "k-means++":
                from sklearn.cluster import kmeans_plusplus

                _, idx = kmeans_plusplus(Xn, k, random_state=rng)
            else:
                idx = rng.choice(n, size=k, replace=False)
            resp = np.zeros((n, k))
            resp[idx, np.arange(k)] = 1
        resp_t = torch.as_tensor(resp, dtype=X.dtype, device=X.device)
        return self._m_step(X, resp_t, n)

    def _initialize_explicit(self, X, rng) -> dict:
        d, k = X.shape[1], self.n_components
        partial = None
        if self.means_init is None or self.weights_init is None or self.precisions_init is None:
            partial = self._initialize_from_defaults(X, rng)

        def t(a):
            return torch.as_tensor(np.asarray(a), dtype=X.dtype, device=X.device)

        weights = t(self.weights_init) if self.weights_init is not None else partial["weights"]
        means = (
            t(self.means_init) - self._shift if self.means_init is not None else (partial["means"])
        )
        if weights.shape != (k,) or means.shape != (k, d):
            raise ValueError(
                f"weights_init must have shape ({k},) and means_init ({k}, {d}); got "
                f"{tuple(weights.shape)} and {tuple(means.shape)}"
            )
        if self.precisions_init is not None:
            prec = t(self.precisions_init)
            if self.covariance_type in ("full", "tied"):  # upper P with P P^T = prec
                p = precision_cholesky(torch.linalg.inv(prec), self.covariance_type)
            else:
                p = prec.sqrt()
        else:
            p = partial["p"]
        return {"weights": weights / weights.sum(), "means": means, "p": p}

    def _initialize_from_defaults(self, X, rng):
        saved = (self.weights_init, self.means_init, self.precisions_init)
        self.weights_init = self.means_init = self.precisions_init = None
        try:
            return self._initialize(X, rng)
        finally:
            self.weights_init, self.means_init, self.precisions_init = saved

    # ------------------------------------------------------------------ EM

    def _design_width(self, n_features: int) -> int:
        d = n_features
        return {"diag": d, "spherical": 1}.get(self.covariance_type, d * (d + 1) // 2) + d + 1

    def _chunks(self, X):
        return X.split(self.chunk_size)

    def _designs(self, X):
        """Design-matrix chunks ``F = [q(x), x, 1]``: built once per fit when they fit in
        ``DESIGN_BUDGET`` entries (each EM iteration is then two GEMMs per chunk), else
        rebuilt chunk by chunk in every iteration (bounded memory)."""
        cached = getattr(self, "_design_cache", None)
        if cached is not None and cached[0] is X:  # initialisation and EM share one build
            return cached[1]
        width = self._design_width(X.shape[1])
        if X.shape[0] * width <= DESIGN_BUDGET:
            rows = max(256, EM_CHUNK_BYTES // (width * X.element_size()))
            designs = [
                part
                for xc in self._chunks(X)
                for part in design_matrix(xc, self.covariance_type).split(rows)
            ]
        else:
            designs = _LazyDesigns(self._chunks(X), self.covariance_type)
        self._design_cache = (X, designs)
        return designs

    def _weighted_log_prob(self, X, params):
        return log_gaussian_prob(X, params["means"], params["p"], self.covariance_type) + (
            torch.log(params["weights"])
        )

    def _parameters(self, sums, n_total, n_features) -> dict:
        """M-step from the all-reduced moment sums ``R^T F``."""
        ct = self.covariance_type
        _all_reduce(sums)
        stats = split_moments(sums, n_features)
        stats["scatter"] = scatter_from_moments(stats, ct)
        weights, means, cov = parameters_from_statistics(stats, n_total, self.reg_covar, ct)
        self._last_nk = stats["nk"]
        return {"weights": weights, "means": means, "p": precision_cholesky(cov, ct)}

    def _reseed(self, X, params, empty, gen) -> dict:
        """Move components that lost (almost) all responsibility to random data points,
        with the data's per-feature spread and a small weight; identical on all ranks."""
        k = int(empty.sum())
        idx = torch.randint(0, X.shape[0], (k,), generator=gen).to(X.device)
        means, p, weights = params["means"].clone(), params["p"].clone(), params["weights"]
        means[empty] = X[idx]
        if distributed():
            dist.broadcast(means, 0)
        var = X.var(0).clamp_min(self._reg() or 1e-12)
        _all_reduce(var)
        var = var / world_size()
        if self.covariance_type == "full":
            p[empty] = torch.diag(var.rsqrt())
        elif self.covariance_type == "diag":
            p[empty] = var.rsqrt()
        elif self.covariance_type == "spherical":
            p[empty] = var.mean().rsqrt()
        weights = torch.where(empty, torch.full_like(weights, 1.0 / len(weights)), weights)
        return {"weights": weights / weights.sum(), "means": means, "p": p}

    def _m_step(self, X, resp, n_total) -> dict:
        """Parameters from given responsibilities (used for initialisation)."""
        sums, start = 0, 0
        for f in self._designs(X):
            sums = sums + resp[start : start + len(f)].T @ f
            start += len(f)
        return self._parameters(sums, n_total, X.shape[1])

    def _em_step(self, designs, params, n_total, n_features):
        """One EM iteration: per chunk, E-step ``F @ W^T`` (weighted log-densities of all
        components) and M-step ``R^T @ F`` (counts and moment sums)."""
        ct = self.covariance_type
        w = design_weights(params["means"], params["p"], torch.log(params["weights"]), ct)
        total, sums = 0.0, 0
        for f in designs:
            norm, resp = normalize_log_prob(f @ w.T)
            total = total + norm.sum()
            sums = sums + resp.T @ f
        total = torch.as_tensor(total, dtype=w.dtype, device=w.device)
        _all_reduce(total)
        return total, self._parameters(sums, n_total, n_features)

    def _fit_em(self, X, params, n_total, bar, gen):
        history, converged, lower = [], False, -math.inf
        designs = self._designs(X)
        for it in range(1, self.max_iter + 1):
            total, new = self._em_step(designs, params, n_total, X.shape[1])
            empty = self._last_nk < 1.0  # less than one sample's worth of responsibility
            if self.covariance_type != "tied" and bool(empty.any()):
                new = self._reseed(X, new, empty, gen)
                self.n_reseeded_ += int(empty.sum())
                lower = -math.inf  # the bound jumps: do not test convergence on it
            prev, lower = lower, float(total) / n_total
            history.append(lower)
            self._tick(bar, it, lower)
            params = new  # as scikit-learn: E-step (bound), M-step, then the test
            if abs(lower - prev) < self.tol:
                converged = True
                break
        return params, history, converged, it

    # ------------------------------------------------------------------ gradient

    def _reg(self) -> float:
        """``reg_covar`` in the units of the data the solver sees (scaled by ``1/_scale``)."""
        return self.reg_covar / getattr(self, "_scale", 1.0) ** 2

    def _pmax(self):
        return 1.0 / math.sqrt(self._reg()) if self.reg_covar > 0 else math.inf

    def _raw_from_params(self, params) -> dict:
        ct, p, pmax = self.covariance_type, params["p"], self._pmax()

        def logit(v):
            if math.isinf(pmax):
                return torch.log(v)
            q = (v / pmax).clamp(1e-12, 1 - 1e-7)
            return torch.log(q) - torch.log1p(-q)

        if ct in ("full", "tied"):
            raw = torch.triu(p, 1) + torch.diag_embed(logit(torch.diagonal(p, dim1=-2, dim2=-1)))
        else:
            raw = logit(p)
        return {
            "logits": torch.log(params["weights"]).clone(),
            "means": params["means"].clone(),
            "raw_p": raw.clone(),
        }

    def _params_from_raw(self, raw) -> dict:
        ct, pmax = self.covariance_type, self._pmax()

        def bound(v):
            return torch.exp(v) if math.isinf(pmax) else pmax * torch.sigmoid(v)

        if ct in ("full", "tied"):
            r = raw["raw_p"]
            p = torch.triu(r, 1) + torch.diag_embed(bound(torch.diagonal(r, dim1=-2, dim2=-1)))
        else:
            p = bound(raw["raw_p"])
        return {"weights": torch.softmax(raw["logits"], 0), "means": raw["means"], "p": p}

    def _energies(self, X, raw):
        """``d_nk = -log pi_k - log N(x_n | mu_k, Sigma_k)`` from the raw parameters."""
        params = self._params_from_raw(raw)
        log_pi = torch.log_softmax(raw["logits"], 0)
        return -(log_gaussian_prob(X, params["means"], params["p"], self.covariance_type) + log_pi)

    def _lr(self) -> float:
        lr = self.learning_rate
        return DEFAULT_LEARNING_RATE.get(self.optimizer, 0.05) if lr is None else float(lr)

    def _make_optimizer(self, leaves):
        if self.optimizer == "adam":
            return torch.optim.Adam(leaves, lr=self._lr())
        if self.optimizer == "sgd":
            return torch.optim.SGD(leaves, lr=self._lr(), momentum=0.9)
        if self.optimizer == "lbfgs":
            return torch.optim.LBFGS(
                leaves, lr=self._lr(), max_iter=20, line_search_fn="strong_wolfe"
            )
        return None  # preconditioned: the step is computed in _preconditioned_step

    def _objective_sum(self, X, raw):
        """``sum_n log sum_k exp(-d_nk)`` over chunks (with autograd)."""
        return sum(
            lse_objective(self._energies(c, raw), reduction="sum", flush_tiny=True)
            for c in self._chunks(X)
        )

    def _gradient_epoch(self, X, raw, opt, n_total, gen):
        """One pass over the data; returns the all-reduced objective sum at the start of a
        full-batch pass when it was computed on the way (else ``None``)."""
        if self.optimizer == "preconditioned":
            return self._preconditioned_epoch(X, raw, gen)
        leaves = list(raw.values())
        if self.optimizer == "lbfgs":

            def closure():
                opt.zero_grad()
                loss = -self._objective_sum(X, raw) / n_total
                loss.backward()
                self._reduce_grads(leaves)
                return loss

            opt.step(closure)
            return None
        n = X.shape[0]
        size = self.batch_size or n
        order = torch.randperm(n, generator=gen).to(X.device) if size < n else None
        for start in range(0, n, size):
            batch = X if order is None else X[order[start : start + size]]
            opt.zero_grad()
            # global mean over the batch across ranks: scale by the global batch size
            count = torch.tensor(float(len(batch)), dtype=X.dtype, device=X.device)
            _all_reduce(count)
            loss = -lse_objective(self._energies(batch, raw), reduction="sum", flush_tiny=True)
            loss = loss / count
            loss.backward()
            self._reduce_grads(leaves)
            opt.step()
        return None

    def _preconditioned_epoch(self, X, raw, gen):
        with torch.no_grad():
            params = self._params_from_raw(raw)
        cov = covariances_from_precision_cholesky(params["p"], self.covariance_type)
        n = X.shape[0]
        size = self.batch_size or n
        order = torch.randperm(n, generator=gen).to(X.device) if size < n else None
        total = None
        for start in range(0, n, size):
            batch = X if order is None else X[order[start : start + size]]
            total, params, cov = self._preconditioned_step(batch, params, cov, gen)
        with torch.no_grad():
            for name, value in self._raw_from_params(params).items():
                raw[name].copy_(value)
        return total if order is None else None

    def _preconditioned_step(self, X, params, cov, gen):
        r"""``theta + lr * P(theta) grad l(theta)`` with the Xu-Jordan preconditioner ``P``.

        ``l = sum_n log sum_k exp(F_n . W_k)`` is differentiated by autograd with respect to
        the weight logits ``a``, the means and the covariances; then ``N_k = N pi_k +
        dl/da_k`` (the responsibilities arrive as gradients), ``mu_k* = mu_k + Sigma_k
        dl/dmu_k / N_k``, ``Sigma_k* = Sigma_k + 2/N_k Sigma_k dl/dSigma_k Sigma_k - d_k
        d_k^T + reg_covar I`` with ``d_k = mu_k* - mu_k`` (the scatter about the new
        mean), ``pi* = N_k / N``. ``(pi*, mu*, Sigma*)`` is exactly the EM update, and the
        step moves ``lr`` of the way there (a convex combination: ``Sigma`` stays SPD).
        """
        ct, d = self.covariance_type, X.shape[1]
        logits = torch.log(params["weights"]).detach().requires_grad_(True)
        means = params["means"].detach().clone().requires_grad_(True)
        cov_leaf = cov.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            sym = (cov_leaf + cov_leaf.mT) / 2 if ct in ("full", "tied") else cov_leaf
            w = design_weights(means, precision_cholesky(sym, ct), torch.log_softmax(logits, 0), ct)
            objective = sum(
                lse_objective(-(f @ w.T), reduction="sum", flush_tiny=True)
                for f in self._designs(X)
            )
            g_a, g_mu, g_cov = torch.autograd.grad(objective, (logits, means, cov_leaf))
        total = objective.detach()
        count = torch.tensor(float(X.shape[0]), dtype=X.dtype, device=X.device)
        _all_reduce(total, count, g_a, g_mu, g_cov)
        with torch.no_grad():
            weights = params["weights"]
            nk = count * weights + g_a + 10 * torch.finfo(X.dtype).eps
            if ct == "full":
                step = torch.einsum("kde,ke->kd", cov, g_mu)
                target = cov + 2 * cov @ g_cov @ cov / nk[:, None, None]
            elif ct == "tied":
                step = g_mu @ cov
                target = cov + 2 * cov @ g_cov @ cov / count
            elif ct == "diag":
                step = cov * g_mu
                target = cov + 2 * cov**2 * g_cov / nk[:, None]
            else:
                step = cov[:, None] * g_mu
                target = cov + 2 * cov**2 * g_cov / (nk * d)
            new_means = means.detach() + step / nk[:, None]
            delta = new_means - means.detach()
            if ct == "full":
                target = target - delta[:, :, None] * delta[:, None, :]
            elif ct == "tied":
                target = target - (nk[:, None] * delta).T @ delta / count
            elif ct == "diag":
                target = target - delta**2
            else:
                target = target - (delta**2).sum(1) / d
            if ct in ("full", "tied"):
                target = target + self._reg() * torch.eye(d, dtype=X.dtype, device=X.device)
            else:
                target = target + self._reg()
            lr = self._lr()
            new = {
                "weights": weights + lr * (nk / count - weights),
                "means": params["means"] + lr * (new_means - params["means"]),
            }
            cov = cov + lr * (target - cov)
            new["p"] = precision_cholesky(cov, ct)
            empty = nk < 1.0
            if ct != "tied" and bool(empty.any()):
                new = self._reseed(X, new, empty, gen)
                cov = covariances_from_precision_cholesky(new["p"], ct)
                self.n_reseeded_ = getattr(self, "n_reseeded_", 0) + int(empty.sum())
        return total, new, cov

    @staticmethod
    def _reduce_grads(leaves):
        if distributed():
            for leaf in leaves:
                dist.all_reduce(leaf.grad)

    @staticmethod
    def _data_scale(Xc, n_total, peak) -> float:
        """Root mean variance of the centred data over all ranks (1 for constant data);
        computed as ``m * rms(X / m)`` with ``m = max |X|`` (``peak``, this rank's, from
        :func:`check_finite`) so that squares cannot overflow."""
        peak = peak.clone()
        if distributed():
            dist.all_reduce(peak, op=dist.ReduceOp.MAX)
        if not float(peak) > 0:
            return 1.0
        ss = ((Xc / peak) ** 2).sum()
        _all_reduce(ss)
        scale = float(peak) * math.sqrt(float(ss) / (n_total * Xc.shape[1]))
        return scale if math.isfinite(scale) and scale > 0 else 1.0

    def _diverged(self, epoch: int) -> FloatingPointError:
        return FloatingPointError(
            f"the gradient solver diverged in epoch {epoch}: the parameters or the "
            f"log-likelihood became non-finite with optimizer={self.optimizer!r} and "
            f"learning_rate={self._lr()}; lower learning_rate, or use "
            "optimizer='preconditioned' (EM-sized steps, which cannot overshoot)"
        )

    def _fit_gradient(self, X, params, n_total, bar, gen, state=None):
        """Gradient ascent on the log-likelihood of ``X / _scale`` (so that steps do not
        depend on the data's units). ``X``, ``params`` and the returned parameters and
        bounds are in the data's units; ``state`` (raw parameters, optimiser) is scaled."""
        s = self._scale
        Xs = X / s if s != 1.0 else X
        log_jacobian = X.shape[1] * math.log(s)  # log N(x/s) = log N(x) + d log s
        if state:
            raw = state["raw"]
        else:
            scaled = {"weights": params["weights"], "means": params["means"] / s}
            scaled["p"] = params["p"] * s  # precision Cholesky of Sigma / s^2
            raw = {
                k: v.detach().requires_grad_(True) for k, v in self._raw_from_params(scaled).items()
            }
        opt = state["opt"] if state else self._make_optimizer(list(raw.values()))
        history, converged, lower = [], False, -math.inf
        for it in range(1, self.max_iter + 1):
            try:
                total = self._gradient_epoch(Xs, raw, opt, n_total, gen)
                if total is None:
                    with torch.no_grad():
                        total = self._objective_sum(Xs, raw)
                    _all_reduce(total)
            except ValueError as err:  # lse_objective refuses NaN or all-inf energies; the
                raise self._diverged(it) from err  # data were checked, so the step diverged
            prev, lower = lower, float(total) / n_total - log_jacobian
            if not math.isfinite(lower):
                raise self._diverged(it)
            history.append(lower)
            self._tick(bar, it, lower)
            if abs(lower - prev) < self.tol:
                converged = True
                break
        with torch.no_grad():
            params = {k: v.detach() for k, v in self._params_from_raw(raw).items()}
        params["means"], params["p"] = params["means"] * s, params["p"] / s
        return params, history, converged, it, {"raw": raw, "opt": opt}

    # ------------------------------------------------------------------ fit

    def _tick(self, bar, it, lower):
        if bar is not None:
            bar.update(bar.task_ids[0], completed=it, info=f"bound {lower:.5g}")

    def fit(self, X, y=None):
        """Estimate the parameters with the chosen solver; returns ``self``."""
        self._check_parameters()
        Xt = self._validate(X, reset=True)
        n = Xt.shape[0]
        n_total = torch.tensor(float(n), dtype=Xt.dtype, device=Xt.device)
        _all_reduce(n_total)
        n_total = float(n_total)
        if n < self.n_components and not distributed():
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = "
                f"{self.n_components}, n_samples = {n}"
            )
        warm = self.warm_start and hasattr(self, "_params")
        if warm:
            self._check_warm_start(Xt)
        else:
            shift = Xt.mean(0)
            count = torch.tensor(float(n), dtype=Xt.dtype, device=Xt.device)
            shift = shift * count
            _all_reduce(shift)
            self._shift = shift / n_total
        Xc = Xt - self._shift
        peak = check_finite(Xc, "X", square_rows=n)  # the design matrix holds squares of Xc
        if not warm:
            self._fitted_shape = (self.n_components, Xt.shape[1], self.covariance_type)
            gradient = self.solver == "gradient"
            self._scale = self._data_scale(Xc, n_total, peak) if gradient else 1.0
        rng = check_random_state(self.random_state)
        best = None
        n_init = 1 if warm else self.n_init
        self.n_reseeded_ = 0
        bar = progress_bar("GaussianMixture", self.max_iter * n_init, show=bool(self.verbose))
        try:
            for _ in range(n_init):
                params = self._params if warm else self._initialize(Xc, rng)
                if distributed():  # every rank starts from rank 0's initialisation
                    for v in params.values():
                        dist.broadcast(v, 0)
                gen = torch.Generator().manual_seed(int(rng.randint(2**31 - 1)))
                if self.solver == "em":
                    params, hist, conv, n_iter = self._fit_em(Xc, params, n_total, bar, gen)
                    state = None
                else:
                    params, hist, conv, n_iter, state = self._fit_gradient(
                        Xc, params, n_total, bar, gen
                    )
                if best is None or hist[-1] > best[1][-1]:
                    best = (params, hist, conv, n_iter, state)
        finally:
            self._design_cache = None  # free the design matrix, also after an error
            if bar is not None:
                bar.stop()
        params, hist, conv, n_iter, state = best
        self._gen = gen  # partial_fit continues with the same stream of mini-batch orders
        self._set_fitted(params, hist, conv, n_iter, state)
        if self.n_reseeded_:
            warnings.warn(
                f"{self.n_reseeded_} time(s) a component lost all responsibility and was "
                "re-seeded at a random data point; consider fewer components (see n_reseeded_)",
                RuntimeWarning,
                stacklevel=2,
            )
        if not conv:
            warnings.warn(
                f"Best of {n_init} initialisation(s) did not converge in {self.max_iter} "
                f"{'iterations' if self.solver == 'em' else 'epochs'}: increase max_iter or "
                "tol, or check the data",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    @available_if(lambda self: self.solver == "gradient")
    def partial_fit(self, X, y=None):
        """One epoch of the gradient solver on ``X`` (initialises on the first call).

        Only with ``solver="gradient"`` (EM re-estimates from whole-data statistics).
        """
        self._check_parameters()
        first = not hasattr(self, "_params")
        Xt = self._validate(X, reset=first)
        if first:
            self._shift = Xt.mean(0)
        else:
            self._check_warm_start(Xt)
        Xc = Xt - self._shift
        peak = check_finite(Xc, "X", square_rows=Xc.shape[0])
        if first:
            self._fitted_shape = (self.n_components, Xt.shape[1], self.covariance_type)
            self._scale = self._data_scale(Xc, float(Xt.shape[0]), peak)
        n_total = float(Xt.shape[0])
        if first:
            if Xt.shape[0] < self.n_components:
                raise ValueError(
                    f"Expected n_samples >= n_components but got n_components = "
                    f"{self.n_components}, n_samples = {Xt.shape[0]}"
                )
            rng = check_random_state(self.random_state)
            self._params = self._initialize(Xc, rng)
            self._gen = torch.Generator().manual_seed(int(rng.randint(2**31 - 1)))
            self._state = None
        max_iter, self.max_iter = self.max_iter, 1
        try:
            params, hist, _, _, state = self._fit_gradient(
                Xc, self._params, n_total, None, self._gen, self._state
            )
        finally:
            self.max_iter = max_iter
        previous = list(getattr(self, "lower_bound_history_", []))
        self._set_fitted(params, previous + hist, False, len(previous) + 1, state)
        return self

    def _check_warm_start(self, X):
        """A warm start continues a fit: the shapes must be those of that fit."""
        fitted = getattr(self, "_fitted_shape", None)
        now = (self.n_components, X.shape[1], self.covariance_type)
        if fitted is not None and fitted != now:
            names = ("n_components", "n_features", "covariance_type")
            differ = [
                f"{k} {a!r} -> {b!r}" for k, a, b in zip(names, fitted, now, strict=True) if a != b
            ]
            raise ValueError(
                f"warm start continues the previous fit, but {', '.join(differ)}; use the "
                "same shape, or set warm_start=False (or a new estimator) for a cold start"
            )

    def _set_fitted(self, params, hist, conv, n_iter, state):
        self._params = {k: v.detach() for k, v in params.items()}
        self._state = state
        ct = self.covariance_type
        p = self._params["p"]
        self.weights_ = self._params["weights"].cpu().numpy()
        self.means_ = (self._params["means"] + self._shift).cpu().numpy()
        self.precisions_cholesky_ = p.cpu().numpy()
        self.covariances_ = covariances_from_precision_cholesky(p, ct).cpu().numpy()
        if ct in ("full", "tied"):
            self.precisions_ = (p @ p.mT).cpu().numpy()
        else:
            self.precisions_ = (p**2).cpu().numpy()
        self.converged_, self.n_iter_ = conv, n_iter
        self.lower_bound_, self.lower_bound_history_ = hist[-1], list(hist)

    # ------------------------------------------------------------------ inference

    def _log_resp(self, X, warn: bool = False):
        check_is_fitted(self, "_params")
        Xt = self._validate(X, reset=False) - self._shift
        wlp = torch.cat([self._weighted_log_prob(c, self._params) for c in self._chunks(Xt)])
        norm = torch.logsumexp(wlp, 1)
        log_resp = wlp - norm[:, None]
        far = ~torch.isfinite(norm)
        if bool(far.any()):
            log_resp[far] = self._far_log_resp(Xt[far])
            if warn:
                warnings.warn(
                    f"{int(far.sum())} sample(s) lie so far from every component that their "
                    "log-likelihood is below the floating-point range (-inf); their "
                    "responsibilities are still exact limits (see predict_proba)",
                    RuntimeWarning,
                    stacklevel=3,
                )
        return log_resp, norm

    def _far_log_resp(self, X):
        r"""Log-responsibilities of rows whose log-densities all underflow (``|x|`` ~ 1e200).

        With ``c = max_j |x_j|`` and ``q_k`` the Mahalanobis term, ``log pi_k N_k(x) =
        -c^2 q_k(x / c) / 2 + a_k``: the responsibilities are the softmax of
        ``c^2 (t_k - max t) + a_k`` with ``t_k = -q_k(x/c) / 2`` finite, so every component
        but the nearest (in ``q(x/c)``) gets exactly 0 and ties share by ``a_k``.
        """
        params, ct, d = self._params, self.covariance_type, X.shape[1]
        c = X.abs().amax(1, keepdim=True)
        const = log_det_cholesky(params["p"], ct, d) - 0.5 * d * math.log(2 * math.pi)
        t = torch.cat(
            [
                log_gaussian_prob(x / cc, params["means"] / cc, params["p"], ct)[:1] - const
                for x, cc in zip(X.split(1), c, strict=True)
            ]
        )  # one row at a time: the means are scaled by that row's c (rare rows only)
        gap = (t - t.amax(1, keepdim=True)) * c * c  # -inf where the gap overflows
        return torch.log_softmax(gap + const + torch.log(params["weights"]), 1)

    def score_samples(self, X):
        """Log-likelihood of each sample, ``(n_samples,)``; ``-inf`` (with a
        ``RuntimeWarning``) where it is below the floating-point range."""
        return self._output(self._log_resp(X, warn=True)[1], X)

    def score(self, X, y=None):
        """Mean log-likelihood of ``X`` (a float)."""
        return float(self._log_resp(X, warn=True)[1].mean())

    def predict_proba(self, X):
        """Responsibilities ``(n_samples, n_components)``."""
        return self._output(self._log_resp(X)[0].exp(), X)

    def predict(self, X):
        """Most responsible component of each sample."""
        return self._output(self._log_resp(X)[0].argmax(1), X)

    def fit_predict(self, X, y=None):
        return self.fit(X).predict(X)

    def sample(self, n_samples: int = 1):
        """Draw ``(X, y)`` from the fitted mixture (NumPy, or torch after a torch fit)."""
        check_is_fitted(self, "_params")
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        d = self.means_.shape[1]
        cov = self.covariances_
        parts, labels = [], []
        for k, c in enumerate(counts):  # one draw per component, vectorised inside
            if self.covariance_type == "full":
                ck = cov[k]
            elif self.covariance_type == "tied":
                ck = cov
            elif self.covariance_type == "diag":
                ck = np.diag(cov[k])
            else:
                ck = np.eye(d) * cov[k]
            parts.append(rng.multivariate_normal(self.means_[k], ck, c))
            labels.append(np.full(c, k))
        X, y = np.vstack(parts), np.concatenate(labels)
        if getattr(self, "_input_kind", "numpy") == "torch":
            dtype = getattr(self, "_input_dtype", None) or self._dtype
            return torch.as_tensor(X, dtype=dtype), torch.as_tensor(y)
        return X, y

    def _n_parameters(self) -> int:
        return n_parameters(self.n_components, self.means_.shape[1], self.covariance_type)

    def bic(self, X) -> float:
        """Bayesian information criterion on ``X`` (lower is better)."""
        n = X.shape[0]
        return -2 * self.score(X) * n + self._n_parameters() * math.log(n)

    def aic(self, X) -> float:
        """Akaike information criterion on ``X`` (lower is better)."""
        return -2 * self.score(X) * X.shape[0] + 2 * self._n_parameters()
