"""The bad-input contract, tested once for every public callable.

Every public callable of ``implicit_em.lse``, ``implicit_em.objectives``, the activation
registry, ``implicit_em.diagnostics`` and the estimators is fed a table of adversarial
inputs in its main tensor argument. The contract: **a ValueError/TypeError whose message
names the argument, or a finite result** (a warning is allowed, and expected where the
result is degenerate) -- never a silent NaN/inf, never an internal error from deep inside
torch or NumPy. Callables that cannot meet it for some input are listed in ``EXCEPTIONS``
with the reason, so every exception is visible here, in one place.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import implicit_em.activations as A
import implicit_em.baselines as B
import implicit_em.diagnostics as D
import implicit_em.layers as Y
import implicit_em.lse as L
import implicit_em.mixture as M
import implicit_em.objectives as O
from implicit_em import identities
from implicit_em.mixture import xu_jordan

N, K = 16, 4  # the good input: (N, K) standard normal, float32

# --------------------------------------------------------------------------- inputs


def _good(shape) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randn(shape, generator=g)


def _with(x, value):
    x = x.clone()
    x.view(-1)[0] = value
    return x


def _constant_column(x):
    x = x.clone()
    x[..., 0] = 1.5
    return x


def _noncontiguous(shape):
    x = _good(tuple(reversed(shape))).T if len(shape) == 2 else _good((*shape, 2))[..., 0]
    assert not x.is_contiguous()
    return x


INPUTS = {
    "nan": lambda s: _with(_good(s), math.nan),
    "posinf": lambda s: _with(_good(s), math.inf),
    "neginf": lambda s: _with(_good(s), -math.inf),
    "empty_rows": lambda s: _good((0, *s[1:])),
    "empty_cols": lambda s: _good((*s[:-1], 0)),
    "vector": lambda s: _good(s[-1:]),
    "batch1": lambda s: _good((1, *s[1:])),
    "batch2": lambda s: _good((2, *s[1:])),
    "float16": lambda s: _good(s).half(),
    "bfloat16": lambda s: _good(s).bfloat16(),
    "int": lambda s: (3 * _good(s)).round().long(),
    "bool": lambda s: _good(s) > 0,
    "noncontiguous": _noncontiguous,
    "expanded": lambda s: _good((1, *s[1:])).expand(s),
    "huge": lambda s: 1e30 * _good(s),
    # the float32 overflow edge: squares pass 3.4e38 between 1e10 and 1e19
    "edge_1e5": lambda s: 1e5 * _good(s),
    "edge_1e10": lambda s: 1e10 * _good(s),
    "edge_1e19": lambda s: 1e19 * _good(s),
    "tiny": lambda s: 1e-30 * _good(s),
    # far from the origin (issue 34): distances by expansion cancel there
    "offset_1e4": lambda s: 1e4 + _good(s),
    "constant_column": lambda s: _constant_column(_good(s)),
    "requires_grad": lambda s: _good(s).requires_grad_(True),
    "meta": lambda s: torch.empty(s, device="meta"),
}

# --------------------------------------------------------------------------- callables
# name -> (call(x), shape of the good input, the argument's name as errors must say it)


def _gmm(**kw):
    def fit(x):
        gm = M.GaussianMixture(2, random_state=0, max_iter=20, **kw)  # looked up at call time
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter=20
            gm.fit(x)
        return gm.lower_bound_, gm.weights_, gm.means_, gm.covariances_, gm.predict_proba(x)

    return fit


def _target(x):
    return torch.zeros(x.shape[:-1], dtype=torch.long) if x.ndim else torch.tensor(0)


def _gmm_args(x):
    """``x`` as data for the lse mixture helpers: two components in K dimensions."""
    k = x.shape[-1] if x.ndim else 1
    g = _good((2, k))
    cov = torch.eye(k).expand(2, k, k).clone() if k else torch.empty(2, 0, 0)
    return x, g.to(x.dtype) if x.is_floating_point() else g, cov, torch.tensor([0.5, 0.5])


def _values(x):
    return _good((x.shape[-1] if x.ndim else 1, 3))


def _unit_pairs(x):
    return x.reshape(1, *x.shape) if x.ndim == 2 else x


SQUARE = (K, K)
CALLABLES = {
    # --- implicit_em.lse
    "lse.lse_objective": (lambda x: L.lse_objective(x), (N, K), "d"),
    "lse.lse_loss": (lambda x: L.lse_loss(x), (N, K), "d"),
    "lse.LSELoss": (lambda x: L.LSELoss()(x), (N, K), "d"),
    "lse.responsibilities": (lambda x: L.responsibilities(x), (N, K), "d"),
    "lse.distance_cross_entropy": (lambda x: L.distance_cross_entropy(x, _target(x)), (N, K), "d"),
    "lse.DistanceCrossEntropy": (lambda x: L.DistanceCrossEntropy()(x, _target(x)), (N, K), "d"),
    "lse.attention_log_partition": (lambda x: L.attention_log_partition(x), (N, K), "scores"),
    "lse.attention_weights": (lambda x: L.attention_weights(x), (N, K), "scores"),
    "lse.attention_score_gradient": (
        lambda x: L.attention_score_gradient(x, _values(x), torch.ones(*x.shape[:-1], 3)),
        (N, K),
        "weights",
    ),
    "identities.responsibility_gradient_error": (
        lambda x: identities.responsibility_gradient_error(x),
        (N, K),
        "d",
    ),
    "identities.cross_entropy_gradient_error": (
        lambda x: identities.cross_entropy_gradient_error(x, _target(x)),
        (N, K),
        "d",
    ),
    "identities.attention_gradient_error": (
        lambda x: identities.attention_gradient_error(x),
        (N, K),
        "scores",
    ),
    "identities.attention_advantage_error": (
        lambda x: identities.attention_advantage_error(x, _values(x), torch.ones(*x.shape[:-1], 3)),
        (N, K),
        "scores",
    ),
    "mixture.xu_jordan.gaussian_mixture_energies": (
        lambda x: xu_jordan.gaussian_mixture_energies(*_gmm_args(x)),
        (N, K),
        "x",
    ),
    "mixture.xu_jordan.em_mean_step": (
        lambda x: xu_jordan.em_mean_step(*_gmm_args(x)),
        (N, K),
        "x",
    ),
    "mixture.xu_jordan.preconditioned_gradient_step": (
        lambda x: xu_jordan.preconditioned_gradient_step(*_gmm_args(x)),
        (N, K),
        "x",
    ),
    "identities.em_step_gradient_error": (
        lambda x: identities.em_step_gradient_error(*_gmm_args(x)),
        (N, K),
        "x",
    ),
    # --- implicit_em.objectives
    "objectives.covariance_objective": (
        lambda x: O.covariance_objective(x, logdet=1.0, offdiag=1.0, decorrelation=1.0),
        (N, K),
        "z",
    ),
    "objectives.CovarianceObjective": (
        lambda x: O.CovarianceObjective(logdet=1.0, variance_hinge=1.0)(x),
        (N, K),
        "z",
    ),
    "objectives.decorrelation_loss": (lambda x: O.decorrelation_loss(x), (N, K), "z"),
    "objectives.Decorrelation": (lambda x: O.Decorrelation()(x), (N, K), "z"),
    "objectives.cross_decorrelation_loss": (
        lambda x: O.cross_decorrelation_loss(
            x, x.detach().clone() if x.device.type != "meta" else x
        ),
        (N, K),
        "z1",
    ),
    "objectives.CrossDecorrelation": (lambda x: O.CrossDecorrelation()(x, x), (N, K), "z1"),
    "objectives.gaussian_infomax": (lambda x: O.gaussian_infomax(x, lam=1.0), (N, K), "z"),
    "objectives.GaussianInfoMax": (lambda x: O.GaussianInfoMax(correlation=True)(x), (N, K), "z"),
    "objectives.bell_sejnowski_infomax": (
        lambda x: O.bell_sejnowski_infomax(x, torch.eye(K)),
        (N, K),
        "z",
    ),
    "objectives.bell_sejnowski_infomax[weight]": (
        lambda w: O.bell_sejnowski_infomax(_good((N, K)), w),
        SQUARE,
        "weight",
    ),
    "objectives.BellSejnowskiInfoMax": (
        lambda x: O.BellSejnowskiInfoMax("tanh")(x, torch.eye(K)),
        (N, K),
        "z",
    ),
    "objectives.ledoit_wolf_shrinkage": (lambda x: O.ledoit_wolf_shrinkage(x), (N, K), "z"),
    "objectives.log_variance_loss": (lambda x: O.log_variance_loss(x), (N, K), "z"),
    "objectives.LogVariance": (lambda x: O.LogVariance()(x), (N, K), "z"),
    "objectives.variance_hinge": (lambda x: O.variance_hinge(x), (N, K), "z"),
    "objectives.VarianceHinge": (lambda x: O.VarianceHinge()(x), (N, K), "z"),
    "objectives.hsic": (lambda x: O.hsic(x, x), (N, K), "x"),
    "objectives.hsic[unbiased]": (lambda x: O.hsic(x, x, estimator="unbiased"), (N, K), "x"),
    "objectives.hsic_rff": (lambda x: O.hsic_rff(x, x, n_features=8), (N, K), "x"),
    "objectives.pairwise_hsic": (lambda x: O.pairwise_hsic(x), (N, K), "z"),
    "objectives.pairwise_hsic[rff]": (lambda x: O.pairwise_hsic(x, n_features=8), (N, K), "z"),
    "objectives.PairwiseHSIC": (lambda x: O.PairwiseHSIC(n_features=8)(x), (N, K), "z"),
    "objectives.gaussian_kernel": (lambda x: O.gaussian_kernel(x), (N, K), "x"),
    "objectives.median_bandwidth": (lambda x: O.median_bandwidth(x), (N, K), "x"),
    "objectives.unit_median_bandwidths": (lambda x: O.unit_median_bandwidths(x), (N, K), "z"),
    "objectives.gaussian_entropy": (lambda x: O.gaussian_entropy(x), (N, K), "z"),
    "objectives.vasicek_entropy": (lambda x: O.vasicek_entropy(x), (N, K), "z"),
    "diagnostics.knn_entropy": (lambda x: D.knn_entropy(x), (N, K), "z"),
    "diagnostics.near_duplicate_share": (
        lambda x: D.near_duplicate_share(x),
        (N, K),
        "activations",
    ),
    "diagnostics.stack_diagnostics": (
        lambda x: D.stack_diagnostics(Y.ImplicitEMLayer(K, 3, init="normal"), x),
        (N, K),
        "x",
    ),
    "diagnostics.total_correlation": (lambda x: D.total_correlation(x), (N, K), "z"),
    "diagnostics.total_correlation[gaussian]": (
        lambda x: D.total_correlation(x, "gaussian"),
        (N, K),
        "z",
    ),
    "diagnostics.total_correlation[pairs]": (
        lambda x: D.total_correlation(_unit_pairs(x)),
        (N, K),
        "z",
    ),
    "objectives.responsibility_entropy": (lambda x: O.responsibility_entropy(x), (N, K), "z"),
    "objectives.ResponsibilityEntropy": (
        lambda x: O.ResponsibilityEntropy("balance")(x),
        (N, K),
        "z",
    ),
    "objectives.weight_orthogonality": (lambda w: O.weight_orthogonality(w), (N, K), "weight"),
    "objectives.neg_log_abs_det": (lambda w: O.neg_log_abs_det(w), SQUARE, "weight"),
    "objectives.neg_log_det_gram": (lambda w: O.neg_log_det_gram(w), (K, N), "weight"),
    "objectives.WeightVolume": (lambda w: O.WeightVolume("neg_log_det_gram")(w), (K, N), "weight"),
    # --- implicit_em.diagnostics
    "diagnostics.activation_rate": (lambda x: D.activation_rate(x), (N, K), "activations"),
    "diagnostics.activation_redundancy": (
        lambda x: D.activation_redundancy(x),
        (N, K),
        "activations",
    ),
    "diagnostics.pairwise_correlations": (
        lambda x: D.pairwise_correlations(x)[0],
        (N, K),
        "activations",
    ),
    "diagnostics.correlation_redundancy": (
        lambda x: D.correlation_redundancy(x),
        (N, K),
        "activations",
    ),
    "diagnostics.gaussian_total_correlation": (
        lambda x: D.gaussian_total_correlation(x),
        (N, K),
        "activations",
    ),
    "diagnostics.count_activation_patterns": (
        lambda x: D.count_activation_patterns(x),
        (N, K),
        "activations",
    ),
    "diagnostics.dead_by_activity": (lambda x: D.dead_by_activity(x), (N, K), "activations"),
    "diagnostics.dead_by_variance": (lambda x: D.dead_by_variance(x), (N, K), "activations"),
    "diagnostics.l0_sparsity": (lambda x: D.l0_sparsity(x), (N, K), "activations"),
    "diagnostics.unit_health": (lambda x: D.unit_health(x), (N, K), "activations"),
    "diagnostics.unit_variance": (lambda x: D.unit_variance(x), (N, K), "activations"),
    "diagnostics.effective_rank": (lambda x: D.effective_rank(x), (N, K), "matrix"),
    "diagnostics.weight_cosine": (lambda w: D.weight_cosine(w), (N, K), "weight"),
    "diagnostics.weight_redundancy": (lambda w: D.weight_redundancy(w), (N, K), "weight"),
    "diagnostics.direction_groups": (lambda w: D.direction_groups(w), (N, K), "weight"),
    "diagnostics.responsibility_stats": (lambda x: D.responsibility_stats(x), (N, K), "x"),
    "diagnostics.linear_probe": (
        lambda x: D.linear_probe(x, torch.arange(len(x)) % 2, x, torch.arange(len(x)) % 2),
        (N, K),
        "train_features",
    ),
    "diagnostics.linear_readout": (
        lambda x: D.linear_readout(
            x, torch.arange(len(x)) % 2, x, torch.arange(len(x)) % 2, epochs=1
        ),
        (N, K),
        "train_features",
    ),
    "diagnostics.tuned_probe": (
        lambda x: D.tuned_probe(x, torch.arange(len(x)) % 2, x, torch.arange(len(x)) % 2),
        (N, K),
        "train_features",
    ),
    "diagnostics.signed_power": (lambda x: D.signed_power(x, 0.5), (N, K), "x"),
    "diagnostics.power_readout": (
        lambda x: D.power_readout(
            x, torch.arange(len(x)) % 2, x, torch.arange(len(x)) % 2, epochs=1
        ),
        (N, K),
        "train_features",
    ),
    "diagnostics.em_structure": (
        lambda x: D.em_structure(nn.Sequential(nn.Linear(K, 3), nn.Softmax(-1)), x).to_rows(),
        (N, K),
        "example_input",
    ),
    # --- estimators
    "mixture.GaussianMixture": (_gmm(), (N, K), "X"),
    "mixture.GaussianMixture[diag]": (_gmm(covariance_type="diag"), (N, K), "X"),
    "mixture.GaussianMixture[gradient]": (
        _gmm(solver="gradient", optimizer="preconditioned"),
        (N, K),
        "X",
    ),
}
_MU = _good((3, K))
CALLABLES.update(
    {
        "layers.linear_distances": (lambda x: Y.linear_distances(x, _MU, None), (N, K), "x"),
        "layers.euclidean_distances": (lambda x: Y.euclidean_distances(x, _MU), (N, K), "x"),
        "layers.mahalanobis_distances": (
            lambda x: Y.mahalanobis_distances(x, _MU, torch.zeros(3, K)),
            (N, K),
            "x",
        ),
        "layers.ImplicitEMLayer": (lambda x: Y.ImplicitEMLayer(K, 3)(x), (N, K), "x"),
        "layers.ImplicitEMLayer.objective": (
            lambda x: Y.ImplicitEMLayer(K, 3, objective="infomax+decorrelation").objective(x),
            (N, K),
            "x",
        ),
        "layers.ImplicitEMLayer[input_norm]": (
            lambda x: Y.ImplicitEMLayer(K, 3, distance="linear", input_norm=True, weight_norm=True)(
                x
            ),
            (N, K),
            "x",
        ),
        "layers.CompetitiveLinear": (lambda x: Y.CompetitiveLinear(K, 8)(x), (N, K), "x"),
        "layers.ImplicitEMConv2d": (
            lambda x: Y.ImplicitEMConv2d(1, 3, 2, init="normal")(x),
            (N, 1, 4, 4),
            "x",
        ),
        "layers.SampleNorm": (lambda x: Y.SampleNorm()(x), (N, K), "x"),
        "layers.ScaleNorm": (lambda x: Y.ScaleNorm()(x), (N, K), "x"),
        "layers.ImplicitEMConv2d[whiten]": (
            lambda x: Y.ImplicitEMConv2d(1, 3, 2, whiten=True)(x),
            (N, 1, 4, 4),
            "x",
        ),
        "layers.triangle": (
            lambda x: Y.triangle(Y.euclidean_distances(x, torch.zeros(3, K))),
            (N, K),
            "x",
        ),
        "layers.build": (lambda x: Y.build(f"{K}-8:iem-3")(x), (N, K), "x"),
    }
)
_SMALL = {  # each baseline at tiny sizes: fit on the input, and transform it once fitted
    "TriangleKMeans": lambda: B.TriangleKMeans(2, max_iter=5),
    "KrotovHopfield": lambda: B.KrotovHopfield(3, epochs=1, batch_size=8),
    "SoftHebb": lambda: B.SoftHebb(3, epochs=1, batch_size=8),
    "DecoderFreeEncoder": lambda: B.DecoderFreeEncoder(3, epochs=1, batch_size=8),
    "SparseAutoencoder": lambda: B.SparseAutoencoder(3, epochs=1, batch_size=8),
    "PCA": lambda: B.PCA(2),
    "ImplicitEMFeatures": lambda: B.ImplicitEMFeatures(3, epochs=1, batch_size=8),
}


def _labels(x):
    return torch.arange(x.shape[0] if x.ndim else 1) % 2


for _name, _make in _SMALL.items():
    CALLABLES[f"baselines.{_name}"] = (lambda x, m=_make: m().fit(x).transform(x), (N, K), "x")
    CALLABLES[f"baselines.{_name}.transform"] = (
        lambda x, m=_make: m().fit(_good((N, K))).transform(x),
        (N, K),
        "x",
    )
CALLABLES["baselines.SoftHebbConv2d"] = (
    lambda x: _learned(B.SoftHebbConv2d(1, 3, 3, padding=1, pool=None), x)(x),
    (N, 1, 6, 6),
    "x",
)
CALLABLES["baselines.ConvTriangleKMeans"] = (
    lambda x: B.ConvTriangleKMeans(1, 2, 3, pool=None, n_patches=50, max_iter=5).fit(x)(x),
    (N, 1, 6, 6),
    "x",
)


def _learned(block, x):
    block.learn(x)
    return block.eval()


CALLABLES["baselines.BackpropMLP"] = (
    lambda x: B.BackpropMLP(3, epochs=1, batch_size=8).fit(x, _labels(x)).transform(x),
    (N, K),
    "x",
)
for _name in A.ACTIVATIONS:  # every registered activation, as a module on (N, 8)
    CALLABLES[f"activations.{_name}"] = (
        lambda x, n=_name: A.make_activation(n)(x),
        (N, 8),  # grouped activations default to groups of 8
        "z",
    )

# Where the contract cannot hold, and why. Keys: (callable, input kind). Each of these
# must still warn (RuntimeWarning): the non-finite value is never silent.
_SINGULAR_TC = (
    "two samples of four units have a singular correlation matrix, and the Gaussian total "
    "correlation of linearly dependent units is +inf by definition; the diagnostic returns "
    "inf (documented) with a RuntimeWarning saying why, rather than a made-up number"
)
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("diagnostics.gaussian_total_correlation", "batch2"): _SINGULAR_TC,
    ("diagnostics.activation_redundancy", "batch2"): _SINGULAR_TC,
}

# Activations are elementwise (or compete within a row) and run in every forward pass:
# like torch.nn's own activations they propagate NaN/inf from the input instead of
# checking it (a check would cost a device sync per forward; train() refuses the
# non-finite loss or gradient that follows before any weight changes). What they must
# not do is spread it: every row without a non-finite input stays finite. They also
# accept 'meta' tensors (shape inference), returning a meta tensor of the right shape.
PROPAGATING = {"nan", "posinf", "neginf"}

# --------------------------------------------------------------------------- the contract

_INTERNAL = (RuntimeError, IndexError, KeyError, AttributeError, ZeroDivisionError, OverflowError)


def _finite(out, where="result") -> None:
    if isinstance(out, torch.Tensor):
        if out.device.type == "meta":
            return  # shape inference: only activations may return it (test_bad_input_contract)
        if out.is_floating_point() or out.is_complex():
            assert bool(torch.isfinite(out).all()), f"{where} has NaN/inf: {out}"
    elif isinstance(out, np.ndarray):
        if np.issubdtype(out.dtype, np.inexact):
            assert np.isfinite(out).all(), f"{where} has NaN/inf: {out}"
    elif isinstance(out, (bool, int, str, type(None))):
        pass
    elif isinstance(out, float):
        assert math.isfinite(out), f"{where} is {out}"
    elif isinstance(out, dict):
        for k, v in out.items():
            _finite(v, f"{where}[{k!r}]")
    elif isinstance(out, (list, tuple)):
        for i, v in enumerate(out):
            _finite(v, f"{where}[{i}]")
    else:
        raise AssertionError(f"{where}: unexpected result type {type(out).__name__}")


def check_contract(call, x, arg: str) -> str:
    """Run ``call(x)``; return ``"error"`` or ``"finite"``, or fail the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = call(x)
        except (ValueError, TypeError) as err:
            if isinstance(err, NotImplementedError):
                raise
            msg = str(err)
            assert re.search(rf"(?<![\w]){re.escape(arg)}(?![\w])", msg), (  # noqa: PT017 (a helper)
                f"the error does not name the argument {arg!r}: {type(err).__name__}: {msg}"
            )
            return "error"
        except FloatingPointError as err:
            msg = str(err)
            assert arg in msg or "learning_rate" in msg, msg
            return "error"
        except _INTERNAL as err:
            pytest.fail(f"internal error instead of a clear one: {type(err).__name__}: {err}")
    _finite(out)
    return "finite"


CASES = [(name, kind) for name in CALLABLES for kind in INPUTS]


@pytest.mark.parametrize(("name", "kind"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_bad_input_contract(name, kind):
    call, shape, arg = CALLABLES[name]
    x = INPUTS[kind](shape)
    if (name, kind) in EXCEPTIONS:  # the documented non-finite result, never silent
        with pytest.warns(RuntimeWarning):
            call(x)
        return
    activation = name.startswith("activations.")
    # CompetitiveLinear, a torch.nn layer ending in an activation, propagates NaN/inf too
    propagates = activation or name == "layers.CompetitiveLinear"
    if propagates and kind in PROPAGATING:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = call(x)
        _finite(out[1:], "rows without a non-finite input")  # x[0, 0] is the bad entry
        return
    outcome = check_contract(call, x, arg)
    if kind == "meta":
        if activation:
            out = call(x)
            assert out.device.type == "meta" and out.shape[0] == x.shape[0]
        else:
            assert outcome == "error", "a function that reads values must refuse meta tensors"


@pytest.mark.parametrize("kind", ["nan", "posinf", "neginf", "meta"])
def test_non_finite_and_meta_inputs_are_refused_by_every_objective(kind):
    """Every objective must refuse NaN/inf and meta tensors (never return NaN)."""
    for name, (call, shape, arg) in CALLABLES.items():
        if name.startswith("objectives."):
            assert check_contract(call, INPUTS[kind](shape), arg) == "error", name


def test_the_contract_covers_every_public_callable():
    """A new public name must be added to ``CALLABLES`` (or to ``NOT_TENSOR_INPUT``)."""
    covered = {n.split("[")[0] for n in CALLABLES}
    modules = {
        "lse": L,
        "identities": identities,
        "mixture.xu_jordan": xu_jordan,
        "objectives": O,
        "diagnostics": D,
        "layers": Y,
        "baselines": B,
    }
    missing = []
    for prefix, mod in modules.items():
        for public in mod.__all__:
            obj = getattr(mod, public)
            name = f"{prefix}.{public}"
            if callable(obj) and name not in covered and name not in NOT_TENSOR_INPUT:
                missing.append(name)
    assert not missing, f"add these to the contract test: {missing}"
    assert set(A.ACTIVATIONS) <= {n.split(".", 1)[1] for n in CALLABLES if n.startswith("act")}


NOT_TENSOR_INPUT = {  # public callables whose first argument is not a data tensor
    "baselines.FeatureLearner": "the base class (its subclasses are covered)",
    "diagnostics.EMRow": "a record type",
    "layers.IEMSpec": "a record type (its settings are checked by ImplicitEMLayer)",
    "layers.LayerSpec": "a record type",
    "layers.ConvSpec": "a record type (its geometry is checked by ImplicitEMConv2d)",
    "layers.StackSpec": "a record type; parse() takes a string (tests/layers/test_spec.py)",
    "diagnostics.EMStructureMap": "a record type",
    "diagnostics.Monitor": "a training callback taking probe functions",
    "diagnostics.count_regions_2d": "takes a function and a box, evaluates it on a grid",
    "diagnostics.nearest_standard": "takes a scalar function, evaluates it on a float64 grid",
    "diagnostics.properties": "takes a scalar function, evaluates it on a float64 grid",
}


# --------------------------------------------------------------------------- property


@st.composite
def _hostile(draw):
    """A float tensor of 1-3 dims (axes may be empty) mixing ordinary, huge, tiny and
    non-finite values, in a random float dtype."""
    shape = draw(st.lists(st.integers(0, 5), min_size=1, max_size=3))
    pool = [0.0, 1.0, -2.5, 1e30, -1e30, 1e-30, math.nan, math.inf, -math.inf]
    values = draw(
        st.lists(st.sampled_from(pool), min_size=math.prod(shape), max_size=math.prod(shape))
    )
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.float16, torch.bfloat16]))
    return torch.tensor(values, dtype=torch.float64).reshape(shape).to(dtype)


_PROPERTY_CALLS = {
    "d": [L.lse_objective, L.responsibilities, L.lse_loss, D.responsibility_stats],
    "z": [O.decorrelation_loss, O.variance_hinge, O.gaussian_infomax, O.pairwise_hsic],
}


@settings(max_examples=150, deadline=None)
@given(x=_hostile(), which=st.sampled_from(["d", "z"]), index=st.integers(0, 3))
def test_the_contract_holds_for_random_hostile_tensors(x, which, index):
    fn = _PROPERTY_CALLS[which][index]
    arg = "x" if fn is D.responsibility_stats else which
    check_contract(fn, x, arg)
