r"""``GaussianMixture``: a scikit-learn estimator fitted by explicit EM or by gradient descent.

The estimator validates, dispatches and stores learned state; the maths lives in plain
functions: :mod:`.gaussian` (one class per covariance type), :mod:`._em` (explicit EM)
and :mod:`._gradient` (implicit EM: gradient ascent on the exact log-likelihood, whose
responsibilities arrive as gradients).

Both solvers run on any torch device and dtype, in chunks of ``chunk_size`` rows, with
mini-batches for the gradient solver, and under ``torch.distributed``: each rank holds a
shard, EM all-reduces sufficient statistics and the gradient solver all-reduces
gradients, so all ranks end with the parameters of one process on all the data.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .._checks import TensorLike, check_count, check_finite
from .._distributed import all_reduce_, broadcast_, distributed
from ..progress import bar as progress_bar
from . import _em, _gradient
from ._gradient import DEFAULT_LEARNING_RATE, OPTIMIZERS
from ._inputs import check_torch_samples, compute_options
from .gaussian import COVARIANCE_TYPES, COVARIANCES, far_log_resp, log_gaussian_prob, n_parameters

INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
SOLVERS = ("em", "gradient")


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture model, scikit-learn compatible, fitted by EM or gradient descent.

    Args:
        n_components: number of mixture components ``K``.
        covariance_type: ``"full"`` | ``"tied"`` | ``"diag"`` | ``"spherical"``.
        solver: ``"em"`` (explicit EM) or ``"gradient"`` (implicit EM: gradient ascent on
            the log-likelihood).
        tol: stop when the mean log-likelihood improves by less than this: from one
            iteration to the next for EM, full-batch ``"preconditioned"`` (EM steps) and
            ``"lbfgs"``; for ``"adam"``, ``"sgd"`` and mini-batches, whose bound
            oscillates, the best bound of the last 10 epochs against the best before
            them (a single epoch's change is near 0 at every turn of an oscillation).
            ``tol=0`` runs all ``max_iter`` epochs; a fit that stops at ``max_iter``
            warns (``ConvergenceWarning``).
        reg_covar: added to covariance diagonals (EM); the gradient solver bounds the
            precision Cholesky diagonal by ``1/sqrt(reg_covar)`` instead. The gradient
            solver works on the centred data divided by one global scale (the root mean
            variance), so its steps do not depend on the data's units; results are
            reported in the data's units.
        max_iter: EM iterations, or gradient epochs (passes over the data).
        n_init: initialisations; the best lower bound is kept.
        init_params: ``"kmeans"`` | ``"k-means++"`` | ``"random"`` | ``"random_from_data"``.
        weights_init: explicit initial weights ``(K,)`` (as in scikit-learn).
        means_init: explicit initial means ``(K, D)``.
        precisions_init: explicit initial precision matrices (scikit-learn's shapes).
        batch_size: mini-batch size of the gradient solver (``None``: full batch).
        optimizer: gradient solver's optimiser: ``"preconditioned"`` (the default: the
            measured best, see below) | ``"adam"`` | ``"sgd"`` | ``"lbfgs"`` (full batch).
            ``"preconditioned"`` is autograd's gradient times the Xu & Jordan (1996)
            preconditioner (``Sigma_k / N_k`` for means, ``2/N_k Sigma_k (.) Sigma_k``
            for covariances, ``1/N`` for weights), with ``N_k`` read off the weight-logit
            gradient; at ``learning_rate=1`` and full batch each epoch is exactly one EM
            step. With mini-batches it is stepwise EM (Cappe & Moulines 2009; Liang &
            Klein 2009): running sufficient statistics -- each batch's arrive as the
            gradient of its log-likelihood with respect to the design weights -- move
            ``eta_t = learning_rate * (t + 2)^-stepwise_alpha`` of the way to each
            batch's, and the parameters are their M-step (also :meth:`partial_fit`'s
            step, across calls). The other three are plain gradient ascent, which needs
            many more epochs: on 50k x 16 data with 16 overlapping components Adam at
            0.05 was 1.0 nats/sample short of EM after 600 epochs, and it diverged on
            scikit-learn's digits (issue 34).
        learning_rate: step size of the gradient solver (``None``: 0.05 for adam/sgd, 1 for
            lbfgs and preconditioned, whose step must lie in ``(0, 1]``, as must that of
            ``solver="em"``'s :meth:`partial_fit`, stepwise EM).
        stepwise_alpha: the decay ``alpha`` in ``(0.5, 1]`` of the preconditioned
            optimiser's mini-batch steps ``eta_t``: larger forgets early batches more
            slowly. The default 0.7 is the measured best over the benchmarks
            (``bench/mixture.py``, ``examples/gmm_gradient.py``).
        device: torch device of the computation (default: the input's).
        dtype: torch dtype of the computation (default: the input's; float64 for
            float64 NumPy input). float16/bfloat16 input is computed in
            float32 and the outputs of ``predict_proba``/``score_samples``/``sample`` are
            returned in the input's dtype; ``dtype`` itself must be float32 or float64.
            Input that requires grad is detached (the fit is not differentiable).
        random_state: seed (int), ``RandomState`` or ``None``.
        warm_start: start from the previous fit's parameters.
        verbose: ``>0`` shows a progress bar with the current bound.
        chunk_size: at most this many rows are processed at once. EM's design chunks
            are cached at ~6 MB each for diag and spherical covariances (each iteration
            is two GEMMs per chunk, the second reading what the first left in cache) and
            built per ~16 MB chunk for full and tied ones, whose ``D (D + 1) / 2``
            quadratic columns cost less to rebuild in cache than to stream from memory.

    Raises:
        ValueError: NaN/inf, empty or meta-device input; bad hyper-parameters; a warm
            start on data or settings of another shape.
        TypeError: a half-precision ``dtype`` or a non-float ``dtype``.
        FloatingPointError: the gradient solver diverged (the message says what to try:
            a lower ``learning_rate``, or ``optimizer="preconditioned"`` when another one
            is in use).

    Attributes:
        weights_, means_, covariances_, precisions_cholesky_: fitted parameters (NumPy).
        converged_: whether the last fit met ``tol``.
        n_iter_: iterations (EM) or epochs (gradient) of the best initialisation.
        lower_bound_: its final mean log-likelihood.
        lower_bound_history_: the mean log-likelihood after every iteration.
        n_reseeded_: how often EM moved an emptied component (total responsibility < 1)
            to a random data point (a ``RuntimeWarning`` reports it).
        n_samples_seen_: rows of the last ``fit``, plus those of every ``partial_fit``
            call since.
        running_statistics_: stepwise EM's running mean statistics ``E[r_k f(x)]``
            ``(K, Q + D + 1)`` (float64 tensor; ``f(x) = [q(x), x, 1]`` of the centred
            data over the solver's scale), kept across :meth:`partial_fit` calls;
            ``None`` before any stepwise step.
        n_steps_: stepwise EM steps (batches) taken so far: ``t`` of ``eta_t``.

    Examples:
        >>> X = np.r_[np.random.default_rng(0).normal(-3, 1, (100, 2)),
        ...           np.random.default_rng(1).normal(3, 1, (100, 2))]
        >>> gm = GaussianMixture(2, random_state=0).fit(X)
        >>> np.sort(gm.means_[:, 0]).round(0)
        array([-3.,  3.])
    """

    _state: dict | None  # the gradient solver's raw parameters and optimiser (learned state)

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
        weights_init: TensorLike | None = None,
        means_init: TensorLike | None = None,
        precisions_init: TensorLike | None = None,
        batch_size: int | None = None,
        optimizer: str = "preconditioned",
        learning_rate: float | None = None,
        stepwise_alpha: float = 0.7,
        device: torch.device | str | None = None,
        dtype: torch.dtype | str | None = None,
        random_state: int | np.random.RandomState | None = None,
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
        self.stepwise_alpha = stepwise_alpha
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.chunk_size = chunk_size

    # ------------------------------------------------------------------ validation

    def _check_parameters(self) -> None:
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
        if self.solver == "gradient" and self.optimizer == "preconditioned":
            self._check_em_rate("optimizer='preconditioned'")
        if self.batch_size is not None:
            positive_int("batch_size")
        a = self.stepwise_alpha
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not 0.5 < a <= 1:
            raise ValueError(
                "stepwise_alpha must be a number in (0.5, 1] (steps (t + 2)^-alpha: their "
                f"sum must diverge and their squares' converge), got {a!r}"
            )

    def _optimizer(self, stepwise: bool = False) -> str:
        """The gradient solver's optimiser; EM's ``partial_fit`` is stepwise EM, the
        ``"preconditioned"`` optimiser's mini-batch mode."""
        return "preconditioned" if stepwise and self.solver == "em" else self.optimizer

    def _lr(self, stepwise: bool = False) -> float:
        lr, optimizer = self.learning_rate, self._optimizer(stepwise)
        return DEFAULT_LEARNING_RATE[optimizer] if lr is None else float(lr)

    def _check_em_rate(self, who: str) -> None:
        if not 0 < self._lr(stepwise=True) <= 1:
            raise ValueError(
                f"{who} needs 0 < learning_rate <= 1 (1 is one EM step per full batch; "
                f"smaller values damp mini-batch noise), got {self.learning_rate!r}"
            )

    def _validate(self, X, reset: bool) -> torch.Tensor:
        """Validate ``X`` (NumPy via scikit-learn, torch directly) -> torch tensor."""
        is_torch = isinstance(X, torch.Tensor)
        if is_torch:
            X = check_torch_samples(X, reset, getattr(self, "n_features_in_", None))
            if reset:
                self.n_features_in_ = X.shape[1]
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
            self._device, self._dtype = compute_options(X, self.device, self.dtype)
        if not is_torch:  # torch needs a writeable, C-ordered buffer (copied only if not)
            X = torch.from_numpy(np.require(X, requirements=["C", "W"]))
        return X.to(self._device, self._dtype)

    def _check_enough_samples(self, n: int) -> None:
        if n < self.n_components:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = "
                f"{self.n_components}, n_samples = {n}"
            )

    def _check_warm_start(self, X: torch.Tensor) -> None:
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

    @staticmethod
    def _output(t: torch.Tensor, like):
        if isinstance(like, torch.Tensor):
            if t.is_floating_point() and like.dtype in (torch.float16, torch.bfloat16):
                t = t.to(like.dtype)  # computed in float32, returned in the input's dtype
            return t.to(like.device)
        return t.detach().cpu().numpy()

    # ------------------------------------------------------------------ dispatch

    def _initial_parameters(self, X: torch.Tensor, parts, rng) -> _em.Params:
        """Initial ``{"weights", "means", "p"}`` (means in the centred frame): the
        explicit ``*_init`` values where given, the ``init_params`` M-step elsewhere
        (``parts()`` gives the design chunks of ``X``)."""
        given = (self.weights_init, self.means_init, self.precisions_init)
        default: _em.Params = {}
        if any(v is None for v in given):
            resp = _em.initial_responsibilities(X, self.n_components, self.init_params, rng)
            cov = COVARIANCES[self.covariance_type]
            default = _em.parameters_from_responsibilities(
                parts(), resp, X.shape[0], X.shape[1], self.reg_covar, cov
            )
        if all(v is None for v in given):
            return default
        return self._explicit_parameters(X, default)

    def _explicit_parameters(self, X: torch.Tensor, default: _em.Params) -> _em.Params:
        """The given ``*_init`` values, ``default``'s entries for the others."""
        d, k = X.shape[1], self.n_components

        def t(a):
            return torch.as_tensor(np.asarray(a), dtype=X.dtype, device=X.device)

        weights = t(self.weights_init) if self.weights_init is not None else default["weights"]
        means = t(self.means_init) - self._shift if self.means_init is not None else None
        means = default["means"] if means is None else means
        if weights.shape != (k,) or means.shape != (k, d):
            raise ValueError(
                f"weights_init must have shape ({k},) and means_init ({k}, {d}); got "
                f"{tuple(weights.shape)} and {tuple(means.shape)}"
            )
        if not (torch.isfinite(weights).all() and (weights >= 0).all() and weights.sum() > 0):
            raise ValueError(
                f"weights_init must be finite, >= 0 and not all 0, got {self.weights_init!r}"
            )
        if not torch.isfinite(means).all():
            raise ValueError("means_init holds NaN/inf: give finite means (or leave it None)")
        p = default.get("p")
        if self.precisions_init is not None:
            prec, cov = t(self.precisions_init), COVARIANCES[self.covariance_type]
            shape = cov.shape(k, d)
            if tuple(prec.shape) != shape:
                raise ValueError(
                    f"precisions_init for covariance_type={self.covariance_type!r} must have "
                    f"shape {shape} (scikit-learn's), got {tuple(prec.shape)}"
                )
            if not torch.isfinite(prec).all():
                raise ValueError("precisions_init holds NaN/inf: give finite precisions")
            try:
                p = cov.cholesky_from_precisions(prec)
            except (ValueError, RuntimeError):
                raise ValueError(
                    "precisions_init must be symmetric positive definite (positive for diag "
                    "and spherical): these are the inverses of the covariances, not the "
                    "covariances themselves"
                ) from None
        assert p is not None  # default holds "p" whenever precisions_init is None
        return {"weights": weights / weights.sum(), "means": means, "p": p}

    def _settings(self, max_iter: int, stepwise: bool = False) -> _gradient.Settings:
        """The gradient solver's settings; ``stepwise`` (``partial_fit``): stepwise EM
        even on one batch, and EM's ``partial_fit`` is the preconditioned optimiser."""
        optimizer = self._optimizer(stepwise)
        return _gradient.Settings(
            cov=COVARIANCES[self.covariance_type],
            optimizer=optimizer,
            learning_rate=self._lr(stepwise),
            batch_size=self.batch_size,
            chunk_size=self.chunk_size,
            reg=self.reg_covar / self._scale**2,
            tol=self.tol,
            max_iter=max_iter,
            alpha=float(self.stepwise_alpha),
            stepwise=stepwise and optimizer == "preconditioned",
        )

    def _solve(self, Xc, parts, params, n_total, gen, bar) -> _em.Fit:
        def on_iteration(it: int, lower: float) -> None:
            if bar is not None:
                bar.update(bar.task_ids[0], completed=it, info=f"bound {lower:.5g}")

        if self.solver == "em":
            return _em.fit_em(
                Xc,
                parts(),
                params,
                n_total=n_total,
                cov=COVARIANCES[self.covariance_type],
                reg_covar=self.reg_covar,
                tol=self.tol,
                max_iter=self.max_iter,
                gen=gen,
                on_iteration=on_iteration,
            )
        return _gradient.fit_gradient(
            Xc,
            params,
            n_total=n_total,
            scale=self._scale,
            s=self._settings(self.max_iter),
            gen=gen,
            on_iteration=on_iteration,
        )

    def _prepare(self, Xt: torch.Tensor, n_total: float, shift) -> torch.Tensor:
        """Centre ``Xt``; a new fit (``shift`` given) also stores the shift, the fitted
        shape and the gradient solver's scale."""
        if shift is not None:
            self._shift = shift
        Xc = Xt - self._shift
        peak = check_finite(Xc, "X", square_rows=len(Xt))  # the design matrix holds squares
        if shift is not None:
            self._fitted_shape = (self.n_components, Xt.shape[1], self.covariance_type)
            gradient = self.solver == "gradient"
            self._scale = _gradient.data_scale(Xc, n_total, peak) if gradient else 1.0
        return Xc

    def _designs(self, Xc: torch.Tensor):
        """Design chunks of ``Xc``, made on the first call (EM and the M-step init, which
        are done with each chunk before the next: one reused buffer)."""
        return functools.cache(
            lambda: _em.designs(Xc, COVARIANCES[self.covariance_type], self.chunk_size, reuse=True)
        )

    # ------------------------------------------------------------------ fit

    def fit(self, X: TensorLike, y: object = None) -> GaussianMixture:
        """Estimate the parameters with the chosen solver; returns ``self``."""
        self._check_parameters()
        Xt = self._validate(X, reset=True)
        n = Xt.shape[0]
        count = torch.tensor(float(n), dtype=Xt.dtype, device=Xt.device)
        all_reduce_(count)
        n_total = float(count)
        if not distributed():
            self._check_enough_samples(n)
        warm = self.warm_start and hasattr(self, "_params")
        shift = None
        if warm:
            self._check_warm_start(Xt)
        else:  # the mean over all ranks
            shift = Xt.mean(0) * torch.tensor(float(n), dtype=Xt.dtype, device=Xt.device)
            all_reduce_(shift)
            shift = shift / n_total
        Xc = self._prepare(Xt, n_total, shift)
        rng = check_random_state(self.random_state)
        n_init = 1 if warm else self.n_init
        parts = self._designs(Xc)
        best, n_reseeded = None, 0
        bar = progress_bar("GaussianMixture", self.max_iter * n_init, show=bool(self.verbose))
        try:
            for _ in range(n_init):
                params = self._params if warm else self._initial_parameters(Xc, parts, rng)
                broadcast_(*params.values())  # every rank starts from rank 0's
                gen = torch.Generator().manual_seed(int(rng.randint(2**31 - 1)))
                run = self._solve(Xc, parts, params, n_total, gen, bar)
                n_reseeded += run.n_reseeded
                if best is None or run.history[-1] > best.history[-1]:
                    best = run
        finally:
            if bar is not None:
                bar.stop()
        assert best is not None  # n_init >= 1 runs
        self._gen = gen  # partial_fit continues with the same stream of mini-batch orders
        self.n_reseeded_ = n_reseeded
        self._set_fitted(best, best.history)
        self.n_samples_seen_ = int(n_total)
        if n_reseeded:
            warnings.warn(
                f"{n_reseeded} time(s) a component lost all responsibility and was "
                "re-seeded at a random data point; consider fewer components (see n_reseeded_)",
                RuntimeWarning,
                stacklevel=2,
            )
        if not best.converged:
            warnings.warn(
                f"Best of {n_init} initialisation(s) did not converge in {self.max_iter} "
                f"{'iterations' if self.solver == 'em' else 'epochs'}: increase max_iter or "
                "tol, or check the data",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def partial_fit(self, X: TensorLike, y: object = None) -> GaussianMixture:
        r"""One pass over the chunk ``X`` that continues the fit (initialises on the
        first call, from ``init_params`` on that chunk or the ``*_init`` values).

        With ``solver="em"`` or ``optimizer="preconditioned"`` it is stepwise EM (online
        EM) across calls: the running mean statistics ``S`` (``running_statistics_``)
        move ``eta_t = learning_rate * (t + 2)^-stepwise_alpha`` of the way to each
        batch's (the whole chunk, or its mini-batches of ``batch_size``), ``t``
        (``n_steps_``) counting every batch since the first call, and the parameters are
        their M-step; ``learning_rate`` defaults to 1 and must lie in ``(0, 1]``. Calls
        on successive chunks of a stream therefore approach the fit on all of it
        (``fit`` is a better choice for data that fit in memory: EM on the full batch
        steps with ``eta = 1``). Otherwise it is one epoch of the gradient optimiser on
        ``X``, its state (Adam's moments) kept between calls.

        The chunk is centred and scaled like the first one; components are reseeded
        against ``n_samples_seen_`` (rows over all calls). ``lower_bound_`` is the mean
        log-likelihood of this chunk after the pass.
        """
        self._check_parameters()
        if self.solver == "em":
            self._check_em_rate("solver='em' partial_fit (stepwise EM)")
        first = not hasattr(self, "_params")
        Xt = self._validate(X, reset=first)
        if not first:
            self._check_warm_start(Xt)
        n_total = float(Xt.shape[0])
        Xc = self._prepare(Xt, n_total, Xt.mean(0) if first else None)
        if first:
            self._check_enough_samples(Xt.shape[0])
            rng = check_random_state(self.random_state)
            self._params = self._initial_parameters(Xc, self._designs(Xc), rng)
            self._gen = torch.Generator().manual_seed(int(rng.randint(2**31 - 1)))
            self._state = None
            self.n_reseeded_ = 0
        seen = Xt.shape[0] + (0 if first else getattr(self, "n_samples_seen_", 0))
        s = self._settings(max_iter=1, stepwise=True)
        state = self._state  # continued only by the same kind of optimiser
        if state and isinstance(state["opt"], dict) != (s.optimizer == "preconditioned"):
            state = None
        run = _gradient.fit_gradient(
            Xc,
            self._params,
            n_total=n_total,
            scale=self._scale,
            s=s,
            gen=self._gen,
            on_iteration=lambda it, lower: None,
            state=state,
            n_seen=float(seen),
        )
        self.n_reseeded_ += run.n_reseeded
        previous = list(getattr(self, "lower_bound_history_", []))
        run.converged, run.n_iter = False, len(previous) + 1
        self._set_fitted(run, previous + run.history)
        self.n_samples_seen_ = seen
        return self

    def _set_fitted(self, run: _em.Fit, history: list[float]) -> None:
        cov = COVARIANCES[self.covariance_type]
        self._params = {k: v.detach() for k, v in run.params.items()}
        self._state = run.state
        opt = run.state["opt"] if run.state else None
        stepwise = opt if isinstance(opt, dict) else {"stats": None, "t": 0}  # preconditioned
        self.running_statistics_, self.n_steps_ = stepwise["stats"], stepwise["t"]
        p = self._params["p"]
        self.weights_ = self._params["weights"].cpu().numpy()
        self.means_ = (self._params["means"] + self._shift).cpu().numpy()
        self.precisions_cholesky_ = p.cpu().numpy()
        self.covariances_ = cov.covariances(p).cpu().numpy()
        self.precisions_ = cov.precisions(p).cpu().numpy()
        self.converged_, self.n_iter_ = run.converged, run.n_iter
        self.lower_bound_, self.lower_bound_history_ = history[-1], list(history)

    # ------------------------------------------------------------------ inference

    def _log_resp(self, X, warn: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        check_is_fitted(self, "_params")
        cov = COVARIANCES[self.covariance_type]
        Xt = self._validate(X, reset=False) - self._shift
        params = self._params
        log_w = torch.log(params["weights"])
        wlp = torch.cat(
            [
                log_gaussian_prob(c, params["means"], params["p"], cov) + log_w
                for c in Xt.split(self.chunk_size)
            ]
        )
        norm = torch.logsumexp(wlp, 1)
        log_resp = wlp - norm[:, None]
        far = ~torch.isfinite(norm)
        if bool(far.any()):
            log_resp[far] = far_log_resp(Xt[far], params, cov)
            if warn:
                warnings.warn(
                    f"{int(far.sum())} sample(s) lie so far from every component that their "
                    "log-likelihood is below the floating-point range (-inf); their "
                    "responsibilities are still exact limits (see predict_proba)",
                    RuntimeWarning,
                    stacklevel=3,
                )
        return log_resp, norm

    def score_samples(self, X: TensorLike) -> TensorLike:
        """Log-likelihood of each sample, ``(n_samples,)``; ``-inf`` (with a
        ``RuntimeWarning``) where it is below the floating-point range."""
        return self._output(self._log_resp(X, warn=True)[1], X)

    def score(self, X: TensorLike, y: object = None) -> float:
        """Mean log-likelihood of ``X`` (a float)."""
        return float(self._log_resp(X, warn=True)[1].mean())

    def predict_proba(self, X: TensorLike) -> TensorLike:
        """Responsibilities ``(n_samples, n_components)``."""
        return self._output(self._log_resp(X)[0].exp(), X)

    def predict(self, X: TensorLike) -> TensorLike:
        """Most responsible component of each sample."""
        return self._output(self._log_resp(X)[0].argmax(1), X)

    def fit_predict(self, X: TensorLike, y: object = None) -> TensorLike:
        """``fit(X)`` then ``predict(X)``."""
        return self.fit(X).predict(X)

    def sample(self, n_samples: int = 1) -> tuple[TensorLike, TensorLike]:
        """Draw ``(X, y)`` from the fitted mixture (NumPy, or torch after a torch fit)."""
        check_is_fitted(self, "_params")
        n_samples = check_count(n_samples, "n_samples")
        cov = COVARIANCES[self.covariance_type]
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        d = self.means_.shape[1]
        parts, labels = [], []
        for k, c in enumerate(counts):  # one draw per component, vectorised inside
            dense = cov.dense(self.covariances_, k, d)
            parts.append(rng.multivariate_normal(self.means_[k], dense, c))
            labels.append(np.full(c, k))
        X, y = np.vstack(parts), np.concatenate(labels)
        if getattr(self, "_input_kind", "numpy") == "torch":
            dtype = getattr(self, "_input_dtype", None) or self._dtype
            return torch.as_tensor(X, dtype=dtype), torch.as_tensor(y)
        return X, y

    def _n_parameters(self) -> int:
        cov = COVARIANCES[self.covariance_type]
        return n_parameters(self.n_components, self.means_.shape[1], cov)

    def bic(self, X: TensorLike) -> float:
        """Bayesian information criterion on ``X`` (lower is better)."""
        ll = self.score(X)  # validates X first; then len() works for lists too
        n = len(X)
        return -2 * ll * n + self._n_parameters() * math.log(n)

    def aic(self, X: TensorLike) -> float:
        """Akaike information criterion on ``X`` (lower is better)."""
        ll = self.score(X)  # validates X first; then len() works for lists too
        return -2 * ll * len(X) + 2 * self._n_parameters()
