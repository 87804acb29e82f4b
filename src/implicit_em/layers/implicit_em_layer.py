r"""``ImplicitEMLayer``: distances, responsibilities and the layer's own objective.

A layer of ``K`` alternatives: distances ``d = distance(x)`` (``(n, K)``, see
:mod:`implicit_em.layers.distances`), responsibilities ``r = softmax(-d / T)``, and an
objective with named terms -- the LSE term ``-log sum_j exp(-d_j / T)`` (the EM
mechanism: its gradient in ``d`` is ``r / T``; weight ``lse_weight``, which may be 0)
plus volume controls on the distances or the weights (arXiv 2512.24780; claims C11,
C12, C18 in :mod:`implicit_em.claims`).
"""

from __future__ import annotations

import math
import warnings
from typing import cast

import torch
from torch import nn
from torch.nn.utils import parametrize
from typing_extensions import override

from .. import objectives as O
from .._checks import MIN_TEMPERATURE, check_count, check_positive, check_temperature
from .._distributed import broadcast_
from ..activations import ACTIVATIONS, make_activation
from ..lse import lse_loss
from ..objectives.lse_balance import lse_and_balance
from .distances import check_x, euclidean_distances, linear_distances, mahalanobis_distances
from .input_norm import ScaleNorm, make_input_norm, top_variance
from .placement import distinct_rows, jittered

DISTANCES = ("linear", "euclidean", "mahalanobis_diag")
OUTPUTS = ("triangle", "responsibilities", "distances", "gated")  # or a registered activation
INITS = ("auto", "data", "normal", "uniform")
# name -> (term(d, layer), needs a batch of >= 2 rows); the covariance terms gather
# their moments across ranks with the layer's gather_distributed
VOLUME_CONTROLS = {
    "infomax": (lambda d, m: O.gaussian_infomax(d, gather_distributed=m.gather_distributed), True),
    "decorrelation": (
        lambda d, m: O.decorrelation_loss(d, gather_distributed=m.gather_distributed),
        True,
    ),
    "variance_hinge": (
        lambda d, m: O.variance_hinge(d, gather_distributed=m.gather_distributed),
        True,
    ),
    "logdet": (lambda d, m: O.neg_log_det_gram(m.weight), False),
    "orthogonality": (lambda d, m: O.weight_orthogonality(m.weight), False),
    "balance": (lambda d, m: O.responsibility_entropy(d / m.temperature, "balance"), False),
    "sharpen": (lambda d, m: O.responsibility_entropy(d / m.temperature, "sharpen"), False),
}


class UnitRows(nn.Module):
    """Parametrization ``W -> W / ||W_j||`` (each row a unit normal): the layer's
    ``weight`` then has rows of length one whatever the optimiser does to the stored
    ``original``, so ``z = W x + b`` cannot grow by scaling ``W``."""

    @override
    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w / w.norm(dim=1, keepdim=True).clamp_min(1e-12)


def triangle(d: torch.Tensor) -> torch.Tensor:
    """Coates & Ng's triangle activation on distances: ``relu(mean_j d_j - d)``, shape
    kept: a unit is active where its alternative is nearer than the average one.

    Examples:
        >>> triangle(torch.tensor([[1.0, 2.0, 6.0]]))
        tensor([[2., 1., 0.]])
    """
    return torch.relu(d.mean(-1, keepdim=True) - d)


# training steps at which the layer measures its responsibilities' entropy (a warning
# when it is near uniform or near one-hot at all of them)
WATCH_STEPS = (10, 100)
NEAR_UNIFORM, NEAR_ONE_HOT = 0.98, 0.01


def _objective(objective) -> dict[str, float]:
    """``None`` | a name | names joined by ``+`` | ``{name: weight}`` -> ``{name: weight}``."""
    if objective is None:
        return {}
    if isinstance(objective, str):
        objective = {n.strip(): 1.0 for n in objective.split("+") if n.strip()}
    if not isinstance(objective, dict):
        raise TypeError(f"objective must be None, a name or {{name: weight}}, got {objective!r}")
    for name, w in objective.items():
        if name not in VOLUME_CONTROLS:
            raise ValueError(
                f"unknown volume control {name!r}; available: {', '.join(VOLUME_CONTROLS)}"
            )
        if not isinstance(w, (int, float)) or isinstance(w, bool) or not math.isfinite(w) or w < 0:
            raise ValueError(f"the weight of {name!r} must be a finite number >= 0, got {w!r}")
    return {n: float(w) for n, w in objective.items()}


class ImplicitEMLayer(nn.Module):
    r"""A layer whose units are alternatives of an implicit mixture.

    The defaults are the configuration that won the validation search on MNIST's
    standard training images (``bench/iem_search.py``; 50k fit / 10k validation):
    Euclidean prototypes started at training inputs, LSE + the ``balance`` control (a
    bounded objective: ``d >= 0`` and ``-H(mean r) >= -log K``), the triangle output
    ``relu(mean_j e_j - e)`` on the Euclidean distances ``e = ||x - mu_j||``, and the
    input divided by one number measured on the first training batch (``input_norm=
    "scale"``) with ``T = 0.1`` in those units: the same layer at any input scale
    (``bench/scale_search.py``: digits at scales 0.01, 1 and 100 alike).

    Args:
        in_features: the input width ``D``.
        out_features: the number of alternatives (units) ``K``.
        distance: ``"euclidean"`` (``1/2 ||x - mu_j||^2``), ``"linear"`` (``x W^T + b``)
            or ``"mahalanobis_diag"``.
        output: what ``forward`` passes on -- ``"triangle"`` ``relu(mean_j e_j - e)``
            (:func:`triangle`) on the Euclidean distances ``e = ||x - mu_j|| = sqrt(2 d)``
            as Coates & Ng (on ``d`` itself for the other geometries);
            ``"responsibilities"`` ``r``; ``"distances"`` ``d``; ``"gated"`` ``d * r``;
            or the name of a registered activation applied to ``d`` (e.g.
            ``"neg_log_softmin"``).
        temperature: ``T > 0``, in the units of the input after ``input_norm`` (with the
            default ``"scale"``: of the first batch's largest variance);
            ``learn_temperature=True`` learns ``log T``. With ``input_norm=None`` give
            it in your data's units (MNIST pixels in ``[0, 1]``: ``T = 1``).
        relative_temperature: ``tau > 0`` makes ``T`` scale-free: when the means are
            placed (``init="data"``, the first training batch), ``T = tau lambda_max``
            with ``lambda_max`` the largest variance of that batch (the top eigenvalue
            of its covariance, after ``input_norm``), so the same data at any scale get
            the same responsibilities. Above ``tau = 1`` soft k-means merges every mean
            into the data mean (the deterministic-annealing critical temperature); MNIST
            pixels in ``[0, 1]`` have ``lambda_max ~ 5``, so ``tau = 0.2`` is ``T ~ 1``
            there. ``None`` (default): ``temperature`` as given.
        objective: volume controls for :meth:`objective`: a name, names joined by ``+``
            or ``{name: weight}`` from :data:`VOLUME_CONTROLS`; ``None`` for none.
        lse_weight: weight of the LSE term (``0`` leaves only the volume controls).
        weight_norm: keep each row of ``W`` at unit length (``"linear"`` distance only;
            a volume control on the weights: the scale of ``z`` is then the data's). Done
            with :func:`torch.nn.utils.parametrize.register_parametrization`
            (:class:`UnitRows`), so ``layer.weight`` is the normalised matrix.
        input_norm: what the input goes through first (:mod:`implicit_em.layers.input_norm`):
            ``None`` (nothing), ``"scale"`` (default: every input divided by one number, the
            square root of the first training batch's largest variance: the same data
            at any scale train alike, and ``temperature`` is then in units of that
            variance), ``"sample"`` (each row centred and scaled, stateless) or
            ``"batch"`` (each feature standardised, a non-affine batch norm, as SoftHebb
            does before each layer; ``True`` means this).
        init: how the means (``euclidean``, ``mahalanobis_diag``) start. ``"data"``: the
            first ``K`` distinct inputs the layer sees in training mode become its means,
            as k-means' random initialisation (filled over the first ``ceil(K / batch)``
            training batches, after ``input_norm``; under ``torch.distributed``, rank
            0's rows; a repeated input is skipped, so no two means start equal:
            :mod:`implicit_em.layers.placement`); ``"normal"``: ``N(0, 1)``. ``"uniform"``
            is ``nn.Linear``'s (for ``linear``). ``"auto"``: ``"data"`` for means,
            ``"uniform"`` for ``linear``.
        gather_distributed: under ``torch.distributed``, the covariance terms
            (``infomax``, ``decorrelation``, ``variance_hinge``) use the moments of the
            global batch, so several ranks train like one process on the same global
            batch (``balance`` stays a per-rank batch statistic).

    Shape:
        input ``(n, in_features)``; distances, responsibilities and outputs ``(n, K)``.

    Examples:
        >>> layer = ImplicitEMLayer(4, 3)
        >>> terms = layer.objective(torch.randn(8, 4))  # the first batch places the means
        >>> sorted(terms)
        ['balance', 'lse']
        >>> layer(torch.randn(8, 4)).shape
        torch.Size([8, 3])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        distance: str = "euclidean",
        output: str = "triangle",
        temperature: float = 0.1,
        relative_temperature: float | None = None,
        learn_temperature: bool = False,
        objective: str | None = "balance",
        lse_weight: float = 1.0,
        weight_norm: bool = False,
        input_norm: str | bool | None = "scale",
        init: str = "auto",
        gather_distributed: bool = False,
    ):
        super().__init__()
        self.gather_distributed = bool(gather_distributed)
        self.in_features = check_count(in_features, "in_features")
        self.out_features = check_count(out_features, "out_features")
        if distance not in DISTANCES:
            raise ValueError(f"unknown distance {distance!r}; available: {', '.join(DISTANCES)}")
        if output not in OUTPUTS and output not in ACTIVATIONS:
            raise ValueError(
                f"unknown output {output!r}; available: {', '.join(OUTPUTS)} or a registered "
                f"activation ({', '.join(ACTIVATIONS)})"
            )
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; available: {', '.join(INITS)}")
        if init == "auto":
            init = "uniform" if distance == "linear" else "data"
        if (init == "uniform") != (distance == "linear"):
            raise ValueError(
                f"init={init!r} does not apply to distance={distance!r}: linear layers take "
                "'uniform' (nn.Linear's), means take 'data' or 'normal'"
            )
        self.distance, self.output, self.init = distance, output, init
        self.volume = _objective(objective)
        self.lse_weight = check_positive(lse_weight, "lse_weight") if lse_weight else 0.0
        log_t = torch.tensor(math.log(check_temperature(temperature, "temperature")))
        self.relative_temperature = (
            None if relative_temperature is None
            else check_temperature(relative_temperature, "relative_temperature")
        )  # fmt: skip
        if self.relative_temperature is not None and init != "data":
            raise ValueError(f"relative_temperature is set when the means are placed on "
                             f"data: it needs init='data', got init={init!r}")  # fmt: skip
        if learn_temperature:
            self.log_temperature = nn.Parameter(log_t)
        else:
            self.register_buffer("log_temperature", log_t)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        if distance == "linear":
            self.bias = nn.Parameter(torch.zeros(out_features))
            nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # as nn.Linear
        else:
            self.register_parameter("bias", None)
            nn.init.normal_(self.weight)  # means: spread like standardised data
        # how many means hold training inputs (init="data"); saved with the weights
        filled = 0 if init == "data" else out_features
        self.register_buffer("n_filled", torch.tensor(filled, dtype=torch.long))
        if weight_norm:
            if distance != "linear":
                raise ValueError(
                    f"weight_norm=True normalises the rows of a linear layer's W (its "
                    f"normals); distance={distance!r} has means there: use 'linear'"
                )
            parametrize.register_parametrization(self, "weight", UnitRows())
        self.weight_norm = bool(weight_norm)
        self.input_norm = make_input_norm(input_norm, in_features)
        self._steps: int = 0  # training steps seen, and the entropies measured at WATCH_STEPS
        self._entropies: list[float] = []
        if distance == "mahalanobis_diag":
            self.log_precision = nn.Parameter(torch.zeros(out_features, in_features))
        self.activation = make_activation(output) if output in ACTIVATIONS else None
        if self.activation is not None and out_features % ACTIVATIONS[output].group:
            raise ValueError(
                f"output {output!r} groups {ACTIVATIONS[output].group} units: out_features "
                f"({out_features}) must be a multiple of it"
            )

    def _n_filled(self) -> int:
        """How many means hold training inputs (the ``n_filled`` buffer)."""
        return int(cast(torch.Tensor, self.n_filled))

    @property
    def means_placed(self) -> bool:
        """Whether every mean holds a training input already (always, but for ``init="data"``
        before its first training batches)."""
        return self._n_filled() >= self.out_features

    def place_means(self, rows: torch.Tensor, *, informative_first: bool = False) -> None:
        """``init="data"``, in training mode: the next unfilled means become distinct
        rows of ``rows`` ``(m, D)`` (:func:`~implicit_em.layers.placement.distinct_rows`;
        with ``informative_first``, non-constant rows first; a no-op once
        :attr:`means_placed`)."""
        if self.training and not self.means_placed:
            self._fill_means(rows, informative_first=informative_first)

    @property
    def temperature(self) -> torch.Tensor:
        """The temperature ``T = exp(log_temperature)``."""
        return self.log_temperature.exp()

    def distances(self, x: torch.Tensor) -> torch.Tensor:
        """``d`` ``(n, K)`` for the layer's geometry (after ``input_norm``)."""
        x = self.normalise(x)
        weight: torch.Tensor = self.weight
        if self.training and self._n_filled() < self.out_features:
            self._fill_means(x)  # placing the means is not a gradient step on them
            weight = weight.detach() + 0 * weight  # (still in the graph, gradient 0)
        if self.distance == "linear":
            return linear_distances(x, weight, self.bias)
        if self.distance == "euclidean":
            return euclidean_distances(x, weight)
        return mahalanobis_distances(x, weight, self.log_precision)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` through ``input_norm`` (unchanged without one), checked first."""
        if self.input_norm is None:
            return x
        check_x(x, self.weight)  # before the norm: its errors would not say x
        if isinstance(self.input_norm, nn.BatchNorm1d) and self.training and len(x) < 2:
            raise ValueError(
                f"x has {len(x)} row(s), but input_norm estimates batch statistics in "
                "training mode: use a larger batch, or call .eval() to use the running ones"
            )
        return self.input_norm(x)

    @torch.no_grad()
    def _fill_means(self, x: torch.Tensor, *, informative_first: bool = False) -> None:
        """``init="data"``: the next unfilled means become the first rows of ``x`` (rank
        0's) that equal no other row and no placed mean. When every row of ``x`` is
        placed already (the data repeat), the rest start at jittered copies of placed
        means (:func:`~implicit_em.layers.placement.jittered`), so no two start equal."""
        check_x(x, self.weight)
        start, need = self._n_filled(), self.out_features - self._n_filled()
        if not torch.isfinite(x).all():
            raise ValueError("x holds NaN/inf: the layer's means cannot start at it; clean x")
        if start == 0 and self.relative_temperature is not None:
            self._set_relative_temperature(x)
        placed = self.weight[:start]
        rows = distinct_rows(x.detach().to(self.weight.dtype), placed,
                             informative_first=informative_first)[:need]  # fmt: skip
        if len(rows) == 0 and len(x) and start:  # nothing new: the data repeat
            rows = jittered(placed, need)
        self.weight[start : start + len(rows)] = rows
        filled = cast(torch.Tensor, self.n_filled)
        filled.fill_(start + len(rows))
        broadcast_(self.weight.data, filled)

    @torch.no_grad()
    def _set_relative_temperature(self, x: torch.Tensor) -> None:
        """``T = tau lambda_max(Cov x)`` from the rows that place the first means."""
        if len(x) < 2:
            raise ValueError(f"x has {len(x)} row(s): relative_temperature measures the "
                             "first batch's variance, which needs at least 2")  # fmt: skip
        top = top_variance(x)
        t = cast(float, self.relative_temperature) * top
        if not t >= MIN_TEMPERATURE:
            raise ValueError(f"x's first batch has no variance (largest {top:.3g}): "
                             "relative_temperature needs varied inputs")  # fmt: skip
        self.log_temperature.fill_(math.log(t))

    def responsibilities(self, x: torch.Tensor) -> torch.Tensor:
        """``r = softmax(-d / T)`` ``(n, K)``."""
        return torch.softmax(-self.distances(x) / self.temperature, 1)

    def em_responsibilities(self, x: torch.Tensor) -> torch.Tensor:
        """For :func:`implicit_em.diagnostics.em_structure`."""
        return self.responsibilities(x)

    def output_of(self, d: torch.Tensor) -> torch.Tensor:
        """What :meth:`forward` passes on, from distances ``d`` ``(m, K)`` (see ``output``)."""
        if self.output == "distances":
            return d
        if self.output == "triangle":  # on ||x - mu_j|| = sqrt(2 d_j), as Coates & Ng;
            # floored at 1e-6 so that an input on a mean (d = 0) has a finite gradient
            return triangle((2 * d).clamp_min(1e-12).sqrt() if self.distance == "euclidean" else d)
        r = torch.softmax(-d / self.temperature, 1)
        if self.output == "responsibilities":
            return r
        if self.output == "gated" or self.activation is None:
            return d * r
        return self.activation(d)

    @override
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output_of(self.distances(x))

    def objective(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named, weighted terms to minimise: ``"lse"`` (if ``lse_weight > 0``) and each
        volume control. ``sum(terms.values())`` is the layer's loss."""
        return self.objective_of(self.distances(x))

    def objective_of(self, d: torch.Tensor) -> dict[str, torch.Tensor]:
        """:meth:`objective`'s terms for distances ``d`` ``(m, K)`` already computed (a
        convolutional layer's, one row per location)."""
        if len(d) < 2:
            batch = [n for n in self.volume if VOLUME_CONTROLS[n][1]]
            if batch:
                raise ValueError(
                    f"x has {len(d)} row(s), but {', '.join(batch)} estimate(s) batch "
                    "statistics and need at least 2: use a larger batch_size"
                )
        self._watch(d)
        terms = {}
        balance = None
        if self.lse_weight and "balance" in self.volume:  # the defaults: one softmax for both
            lse, balance = lse_and_balance(d / self.temperature)
            terms["lse"] = self.lse_weight * lse
        elif self.lse_weight:
            # flushed: with T small most exp(-d / T) underflow, 10x slower (lse.py)
            terms["lse"] = self.lse_weight * lse_loss(d / self.temperature, flush_tiny=True)
        for name, w in self.volume.items():
            if name == "balance" and balance is not None:
                terms[name] = w * balance
                continue
            try:
                terms[name] = w * VOLUME_CONTROLS[name][0](d, self)
            except ValueError as err:  # said of the distances ("z"): say it of the input
                raise ValueError(f"x gives distances that {name!r} refuses: {err}") from None
        return terms

    def _watch(self, d: torch.Tensor) -> None:
        """At training steps :data:`WATCH_STEPS`, the responsibilities' mean entropy over
        ``log K``; a warning, once, when it stayed above ``NEAR_UNIFORM`` (the
        temperature swamps the distances: every mean is pulled to the data mean) or
        below ``NEAR_ONE_HOT`` (hard assignments: each row's gradient reaches one
        prototype) at every one of them."""
        if not (self.training and torch.is_grad_enabled()) or d.shape[1] < 2:
            return
        self._steps += 1
        if self._steps not in WATCH_STEPS:
            return
        with torch.no_grad():
            log_r = torch.log_softmax(-d.detach().double() / self.temperature.double(), 1)
            entropy = float(-(log_r.exp() * log_r).sum(1).mean()) / math.log(d.shape[1])
        self._entropies.append(entropy)
        if self._steps != WATCH_STEPS[-1]:
            return
        said = ", ".join(f"{e:.3f}" for e in self._entropies)
        if min(self._entropies) > NEAR_UNIFORM:
            warnings.warn(
                f"the responsibilities stayed nearly uniform in training (entropy / log K "
                f"{said} at steps {WATCH_STEPS}): T = {float(self.temperature):.3g} swamps "
                "the distances and the means merge; lower temperature, or use "
                "input_norm='scale' (the default) with T in its units",
                stacklevel=4,
            )
        elif max(self._entropies) < NEAR_ONE_HOT:
            warnings.warn(
                f"the responsibilities stayed nearly one-hot in training (entropy / log K "
                f"{said} at steps {WATCH_STEPS}): each input's gradient reaches one "
                f"prototype (hard k-means); raise temperature (now "
                f"{float(self.temperature):.3g}) or set relative_temperature",
                stacklevel=4,
            )

    def _input_norm_name(self) -> str | None:
        if self.input_norm is None:
            return None
        if isinstance(self.input_norm, ScaleNorm):
            return "scale"
        return "batch" if isinstance(self.input_norm, nn.BatchNorm1d) else "sample"

    @override
    def extra_repr(self) -> str:
        volume = "+".join(n if w == 1 else f"{n}*{w:g}" for n, w in self.volume.items())
        volume = volume or "none"
        t = float(self.log_temperature.detach().exp())
        return (
            f"{self.in_features}, {self.out_features}, distance={self.distance!r}, "
            f"output={self.output!r}, objective={volume!r}, lse_weight={self.lse_weight:g}"
            + f", T={t:g}"
            + (
                f", relative_temperature={self.relative_temperature:g}"
                if self.relative_temperature is not None
                else ""
            )
            + (", learn_temperature=True" if isinstance(self.log_temperature, nn.Parameter) else "")
            + (", weight_norm=True" if self.weight_norm else "")
            + f", input_norm={self._input_norm_name()!r}"
        )
