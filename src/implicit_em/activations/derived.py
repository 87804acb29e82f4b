r"""Activations derived as posterior statistics of implicit EM (claims C5-C8, C23).

Name latent hypotheses ``s``, an energy ``d(z, s)`` and (for a continuous latent) a
prior; normalise ``p(s | z) = softmax_s(-d(z, s))`` and take a posterior statistic
(``"mean"``, ``"mode"`` or ``"std"``) as the activation.

For two signed hypotheses ``s = +-1`` located at ``+-m`` the posterior mean is always

    E[s | z] = tanh((d_-(z) - d_+(z)) / 2)

which gives the closed forms below. Worked out, not assumed:

============  ====================================  =====================================
model         energy ``d_+-(z)``                    posterior mean ``E[s|z]``
============  ====================================  =====================================
gaussian      ``(z -+ m)^2 / (2 sigma^2)``          ``tanh(m z / sigma^2)``
laplace       ``|z -+ m| / b``                      ``tanh(clip(z, -m, m) / b)``: *flat*
                                                    for ``|z| > m`` at ``tanh(m/b) < 1``
student_t     ``(nu+1)/2 log(1 + (z -+ m)^2 /``     ``tanh((nu+1)/4 log[(nu s^2 + (z+m)^2)
              ``(nu sigma^2))``                     / (nu s^2 + (z-m)^2)])``: rises, then
                                                    *redescends to 0* as ``|z| -> inf``
huber         ``rho_delta((z -+ m) / sigma)``       tanh near 0, plateau at
                                                    ``tanh(delta m / sigma)`` far out
three_level   ``(z - s m)^2 / (2 sigma^2)``,        ``2 sinh(x) / (e^k + 2 cosh x)``,
              ``s in {-1, 0, 1}``                   ``x = m z / sigma^2``, ``k = m^2/(2 sigma^2)``
gate          off: 0; on: ``-z/T`` (logistic) or    P(on) = ``sigmoid(z/T)`` / ``Phi(z/T)``;
              ``-log Phi(z/T)`` vs                  ``z P(on)`` = SiLU / GELU (``T = 1``);
              ``-log Phi(-z/T)`` (probit)           mode ``z [z > 0]`` = ReLU at any ``T``
============  ====================================  =====================================

(Cauchy, ``nu = 1``: ``2 m z / (z^2 + m^2 + sigma^2)``.) So a heavy-tailed (Student-t,
Cauchy) noise model does **not** give a slow-saturating activation: far from both
hypotheses, both explain ``z`` equally badly and the posterior returns to 50/50. The
gated family ``z sigmoid(z / T)`` tends to ReLU as ``T -> 0``
(sup-distance ``~0.28 T``). Continuous latents: ``gaussian_prior`` (Wiener shrinkage
``tau^2 z / (tau^2 + sigma^2)``) and ``laplace_prior`` (Bayesian soft-thresholding; its
mode is the soft-threshold ``sign(z) max(|z| - sigma^2/b, 0)``).

Any user energy works through :class:`DiscreteModel` (log-sum-exp over hypotheses) or
:class:`ContinuousModel` (composite Gauss-Legendre quadrature over a latent with a
prior); the numeric path reproduces every closed form (tested to 1e-6 in float64).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from typing_extensions import override

from .._checks import check_positive, check_temperature, check_tensor

STATISTICS = ("mean", "mode", "std")


def _scale(z: torch.Tensor, c) -> torch.Tensor:
    """``z * c``, skipping the pass when ``c`` is the number 1."""
    return z if not isinstance(c, torch.Tensor) and c == 1 else z * c


# ----------------------------------------------------------------------------- models


class EnergyModel:
    """Base class: a posterior over latent hypotheses given a pre-activation ``z``.

    Subclasses implement the numeric path (the hypotheses of :class:`DiscreteModel` or the
    continuous quadrature) and, where it exists, :meth:`closed_form`.
    """

    name = "energy_model"
    params: dict

    def closed_form(self, z: torch.Tensor, statistic: str) -> torch.Tensor:
        """The closed form of ``statistic`` (``"mean"``, ``"map"``, ...) at ``z``;
        ``NotImplementedError`` where none exists."""
        raise NotImplementedError(f"{self.name} has no closed form for {statistic!r}")

    def numeric(self, z: torch.Tensor, statistic: str) -> torch.Tensor:
        """``statistic`` at ``z`` by the numeric path (sum over hypotheses, or quadrature)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={float(v):.4g}" for k, v in self.params.items())
        return f"{type(self).__name__}({ps})"


class DiscreteModel(EnergyModel):
    """Discrete hypotheses: ``p(s | z) = softmax_s(-energy(z)[..., s])``.

    Args:
        energy: ``z (...) -> (..., S)`` energies of the ``S`` hypotheses.
        values: ``z (...) -> (..., S)`` the value each hypothesis contributes to the
            statistic (e.g. ``+-1`` for signed causes, ``(0, z)`` for an on/off gate).

    Examples:
        >>> energy = lambda z: torch.stack([(z - 1) ** 2 / 2, (z + 1) ** 2 / 2], -1)
        >>> signs = lambda z: torch.tensor([1.0, -1.0])
        >>> z = torch.tensor([0.3, -2.0])
        >>> torch.allclose(posterior_activation(z, DiscreteModel(energy, signs)), torch.tanh(z))
        True
    """

    name = "discrete"

    def __init__(self, energy: Callable | None = None, values: Callable | None = None):
        self._energy, self._values = energy, values
        self.params = {}

    def energies(self, z: torch.Tensor) -> torch.Tensor:
        """``E(z, s)`` for every level ``s``, ``(..., S)``."""
        if self._energy is None:
            raise NotImplementedError("DiscreteModel needs energy= (or a subclass's energies())")
        return self._energy(z)

    def values(self, z: torch.Tensor) -> torch.Tensor:
        """The level values ``s``, broadcastable to the energies."""
        if self._values is None:
            raise NotImplementedError("DiscreteModel needs values= (or a subclass's values())")
        return self._values(z)

    @override
    def numeric(self, z: torch.Tensor, statistic: str) -> torch.Tensor:
        e, v = self.energies(z), self.values(z)
        log_r = torch.log_softmax(-e, dim=-1)
        return _statistic(log_r, v, statistic)


def _statistic(log_r: torch.Tensor, v: torch.Tensor, statistic: str) -> torch.Tensor:
    v = v.expand_as(log_r)
    if statistic == "mode":
        return v.gather(-1, log_r.argmax(-1, keepdim=True)).squeeze(-1)
    r = log_r.exp()
    mean = (r * v).sum(-1)
    if statistic == "mean":
        return mean
    var = (r * (v - mean.unsqueeze(-1)) ** 2).sum(-1)
    return var.clamp_min(0).sqrt()


class TwoSigned(DiscreteModel):
    """Hypotheses ``s = +1`` at ``+m`` and ``s = -1`` at ``-m`` with energy ``rho``."""

    def __init__(self, m: float | torch.Tensor = 1.0):
        super().__init__()
        self.params = {"m": check_positive(m, "m", tensor_ok=True)}

    def rho(self, u: torch.Tensor) -> torch.Tensor:  # energy of a residual u = z - location
        """Energy ``rho(u)`` of a residual ``u = z - location`` (subclasses define it)."""
        raise NotImplementedError

    @override
    def energies(self, z: torch.Tensor) -> torch.Tensor:
        m = self.params["m"]
        return torch.stack([self.rho(z - m), self.rho(z + m)], -1)

    @override
    def values(self, z: torch.Tensor) -> torch.Tensor:
        one = torch.ones((), dtype=z.dtype, device=z.device)
        return torch.stack([one, -one])

    @override
    def closed_form(self, z: torch.Tensor, statistic: str) -> torch.Tensor:
        m = self.params["m"]
        half_gap = 0.5 * (self.rho(z + m) - self.rho(z - m))  # (d_- - d_+) / 2
        if statistic == "mean":
            return torch.tanh(half_gap)
        if statistic == "std":  # values +-1: var = 1 - mean^2 = sech^2
            return 1.0 / torch.cosh(half_gap)
        return torch.where(half_gap >= 0, 1.0, -1.0).to(z.dtype)


class Gaussian(TwoSigned):
    """Two signed Gaussians: ``E[s|z] = tanh(m z / sigma^2)``."""

    name = "gaussian"

    def __init__(self, m: float | torch.Tensor = 1.0, sigma: float | torch.Tensor = 1.0):
        super().__init__(m)
        self.params["sigma"] = check_positive(sigma, "sigma", tensor_ok=True)

    @override
    def rho(self, u: torch.Tensor) -> torch.Tensor:
        return u**2 / (2 * self.params["sigma"] ** 2)

    @override
    def closed_form(self, z: torch.Tensor, statistic: str) -> torch.Tensor:
        if statistic == "mean":
            return torch.tanh(_scale(z, self.params["m"] / self.params["sigma"] ** 2))
        return super().closed_form(z, statistic)


class Laplace(TwoSigned):
    """Two signed Laplace energies ``|z -+ m| / b``: ``tanh(clip(z, -m, m) / b)``."""

    name = "laplace"

    def __init__(self, m: float | torch.Tensor = 1.0, b: float | torch.Tensor = 1.0):
        super().__init__(m)
        self.params["b"] = check_positive(b, "b", tensor_ok=True)

    @override
    def rho(self, u: torch.Tensor) -> torch.Tensor:
        return u.abs() / self.params["b"]

    @override
    def closed_form(self, z: torch.Tensor, statistic: str) -> torch.Tensor:
        if statistic == "mean":
            m = self.params["m"]
            return torch.tanh(_scale(torch.clamp(z, -m, m), 1.0 / self.params["b"]))
        return super().closed_form(z, statistic)


class StudentT(TwoSigned):
    """Two signed Student-t energies; ``nu = 1`` is Cauchy. Redescending (see module doc)."""

    name = "student_t"

    def __init__(
        self,
        m: float | torch.Tensor = 1.0,
        sigma: float | torch.Tensor = 1.0,
        nu: float | torch.Tensor = 3.0,
    ):
        super().__init__(m)
        self.params["sigma"] = check_positive(sigma, "sigma", tensor_ok=True)
        self.params["nu"] = check_positive(nu, "nu", tensor_ok=True)

    @override
    def rho(self, u: torch.Tensor) -> torch.Tensor:
        nu, s = self.params.get("nu", 1.0), self.params["sigma"]
        return 0.5 * (nu + 1) * torch.log1p(u**2 / (nu * s**2))

    @override
    def closed_form(self, z: torch.Tensor, statistic: str) -> torch.Tensor:
        if statistic != "mean":
            return super().closed_form(z, statistic)
        nu, s, m = self.params.get("nu", 1.0), self.params["sigma"], self.params["m"]
        k = nu * s**2  # one log of a ratio instead of two log1p
        big = z.abs().clamp_min(1.0)  # numerator and denominator over z^2: no overflow
        ratio = (k / big**2 + ((z + m) / big) ** 2) / (k / big**2 + ((z - m) / big) ** 2)
        return torch.tanh(0.25 * (nu + 1) * torch.log(ratio))


class Cauchy(StudentT):
    """Student-t with ``nu = 1``: ``E[s|z] = 2 m z / (z^2 + m^2 + sigma^2)``."""

    name = "cauchy"

    def __init__(self, m: float | torch.Tensor = 1.0, sigma: float | torch.Tensor = 1.0):
        super().__init__(m, sigma, nu=1.0)
        del self.params["nu"]

    @override
    def closed_form(self, z: torch.Tensor, statistic: str) -> torch.Tensor:
        if statistic != "mean":
            return super().closed_form(z, statistic)
        m, s = self.params["m"], self.params["sigma"]
        return 2 * m * z / (z**2 + (m**2 + s**2))  # rational: visibly ~2m/z far out


class Huber(TwoSigned):
    """Two signed Huber energies ``rho_delta((z -+ m) / sigma)``."""

    name = "huber"

    def __init__(
        self,
        m: float | torch.Tensor = 1.0,
        sigma: float | torch.Tensor = 1.0,
        delta: float | torch.Tensor = 1.0,
    ):
        super().__init__(m)
        self.params["sigma"] = check_positive(sigma, "sigma", tensor_ok=True)
        self.params["delta"] = check_positive(delta, "delta", tensor_ok=True)

    @override
    def rho(self, u: torch.Tensor) -> torch.Tensor:
        r = (u / self.params["sigma"]).abs()
        delta = self.params["delta"]
        return torch.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta))


class ThreeLevel(DiscreteModel):
    """Hypotheses ``s in {-1, 0, +1}`` at ``{-m, 0, m}`` with Gaussian energies."""

    name = "three_level"

    def __init__(self, m: float | torch.Tensor = 1.0, sigma: float | torch.Tensor = 1.0):
        super().__init__()
        self.params = {
            "m": check_positive(m, "m", tensor_ok=True),
            "sigma": check_positive(sigma, "sigma", tensor_ok=True),
        }

    @override
    def energies(self, z: torch.Tensor) -> torch.Tensor:
        m, s = self.params["m"], self.params["sigma"]
        return torch.stack([(z + m) ** 2, z**2, (z - m) ** 2], -1) / (2 * s**2)

    @override
    def values(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tensor([-1.0, 0.0, 1.0], dtype=z.dtype, device=z.device)

    @override
    def closed_form(self, z: torch.Tensor, statistic: str) -> torch.Tensor:
        if statistic != "mean":
            return super().closed_form(z, statistic)
        m, s = self.params["m"], self.params["sigma"]
        x, k = m * z / s**2, m**2 / (2 * s**2)
        a = x.abs()  # 2 sinh(a) / (e^k + 2 cosh a), rewritten without overflow
        e2 = torch.exp(-2 * a)
        return torch.sign(x) * (1 - e2) / (torch.exp(k - a) + 1 + e2)


class Gate(DiscreteModel):
    """An on/off gate. ``link``: ``"logistic"`` (P(on) = sigmoid(z/T)) or ``"probit"``
    (P(on) = Phi(z/T), a Gaussian threshold noise). ``output``: ``"gated"`` (values
    ``(0, z)``: mean ``z P(on)``, SiLU / GELU at ``T = 1``) or ``"probability"`` (values
    ``(0, 1)``: mean ``P(on)``)."""

    name = "gate"

    def __init__(
        self, link: str = "logistic", output: str = "gated", temperature: float | torch.Tensor = 1.0
    ):
        super().__init__()
        if link not in ("logistic", "probit"):
            raise ValueError(f"link must be 'logistic' or 'probit', got {link!r}")
        if output not in ("gated", "probability"):
            raise ValueError(f"output must be 'gated' or 'probability', got {output!r}")
        self.link, self.output = link, output
        self.params = {"temperature": check_temperature(temperature, "temperature", tensor_ok=True)}

    def __repr__(self) -> str:
        return f"Gate(link={self.link!r}, output={self.output!r}, {super().__repr__()[5:-1]})"

    @override
    def energies(self, z: torch.Tensor) -> torch.Tensor:
        u = z / self.params["temperature"]
        if self.link == "logistic":
            return torch.stack([torch.zeros_like(u), -u], -1)
        return torch.stack([-torch.special.log_ndtr(-u), -torch.special.log_ndtr(u)], -1)

    @override
    def values(self, z: torch.Tensor) -> torch.Tensor:
        on = z if self.output == "gated" else torch.ones_like(z)
        return torch.stack([torch.zeros_like(z), on], -1)

    def p_on(self, z: torch.Tensor) -> torch.Tensor:
        """Posterior probability that the gate is on at ``z`` (logistic or probit link)."""
        u = z / self.params["temperature"]
        return torch.sigmoid(u) if self.link == "logistic" else torch.special.ndtr(u)

    @override
    def closed_form(self, z: torch.Tensor, statistic: str) -> torch.Tensor:
        t = self.params["temperature"]
        if statistic == "mean":  # fused torch kernels: T silu(z/T) = z sigmoid(z/T), etc.
            u = _scale(z, 1.0 / t)
            if self.output == "probability":
                return torch.sigmoid(u) if self.link == "logistic" else torch.special.ndtr(u)
            gated = nn.functional.silu(u) if self.link == "logistic" else nn.functional.gelu(u)
            return _scale(gated, t)
        p = self.p_on(z)
        scale = z if self.output == "gated" else torch.ones_like(z)
        if statistic == "std":
            return scale.abs() * (p * (1 - p)).sqrt()
        return torch.where(z > 0, scale, torch.zeros_like(z))


def soft_relu(temperature: float | torch.Tensor = 1.0) -> Gate:
    """The temperature family ``z sigmoid(z / T)`` (SiLU at ``T = 1``; ReLU as ``T -> 0``)."""
    return Gate("logistic", "gated", temperature)


class ContinuousModel(EnergyModel):
    """A scalar latent ``s`` with prior: ``p(s | z) ~ exp(log_prior(s) - energy(z, s))``.

    Integrals use composite Gauss-Legendre quadrature (``panels`` panels of ``order``
    nodes) on ``support``, split at ``breakpoints`` (kinks of the integrand). ``z`` must
    lie well inside the support. The mode is found on the nodes and refined by local
    grid searches (to about ``1e-9`` of the node spacing); it carries no gradient to ``z``
    beyond the chosen location.

    Args:
        energy: ``(z[..., None], s[S]) -> (..., S)``.
        log_prior: ``s[S] -> (S,)``, unnormalised.
    """

    name = "continuous"

    def __init__(
        self,
        energy: Callable | None = None,
        log_prior: Callable | None = None,
        support: tuple[float, float] = (-40.0, 40.0),
        breakpoints: Sequence[float] = (),
        panels: int = 80,
        order: int = 16,
    ):
        self._energy, self._log_prior = energy, log_prior
        lo, hi = float(support[0]), float(support[1])
        if not hi > lo:
            raise ValueError(f"support must be (low, high) with low < high, got {support}")
        self.support, self.breakpoints = (lo, hi), tuple(float(b) for b in breakpoints)
        self.panels, self.order = int(panels), int(order)
        self.params = {}

    def energy(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Energy ``E(z, s)`` of the latent value ``s`` given ``z``."""
        if self._energy is None:
            raise NotImplementedError("ContinuousModel needs energy= (or a subclass's energy())")
        return self._energy(z, s)

    def log_prior(self, s: torch.Tensor) -> torch.Tensor:
        """Log prior ``log p(s)`` of the latent value ``s``."""
        if self._log_prior is None:
            raise NotImplementedError(
                "ContinuousModel needs log_prior= (or a subclass's log_prior())"
            )
        return self._log_prior(s)

    def nodes(
        self, dtype: torch.dtype, device: torch.device | str | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Quadrature nodes and log-weights over the support."""
        lo, hi = self.support
        edges = sorted({lo, hi, *(b for b in self.breakpoints if lo < b < hi)})
        x, w = np.polynomial.legendre.leggauss(self.order)
        starts = [
            np.linspace(a, b, max(1, round(self.panels * (b - a) / (hi - lo))) + 1)[:-1]
            for a, b in itertools.pairwise(edges)
        ]
        cuts = np.concatenate([*starts, [hi]])
        half, mid = 0.5 * np.diff(cuts), 0.5 * (cuts[1:] + cuts[:-1])
        nodes, weights = mid[:, None] + half[:, None] * x, half[:, None] * w
        s = torch.tensor(nodes.ravel(), dtype=dtype, device=device)
        return s, torch.tensor(np.log(weights.ravel()), dtype=dtype, device=device)

    @override
    def numeric(self, z: torch.Tensor, statistic: str, chunk: int = 1 << 22) -> torch.Tensor:
        s, log_w = self.nodes(z.dtype, z.device)
        flat = z.reshape(-1)
        step = max(1, chunk // len(s))
        outs = []
        for part in flat.split(step):  # bounded memory: (chunk, nodes) at a time
            log_density = self.log_prior(s) - self.energy(part[:, None], s)
            if statistic == "mode":
                best = s[log_density.argmax(-1)]
                outs.append(self._refine_mode(part, best, float((s[1:] - s[:-1]).max())))
            else:
                outs.append(_statistic(torch.log_softmax(log_density + log_w, -1), s, statistic))
        return torch.cat(outs).reshape(z.shape)

    def _refine_mode(self, z, best, width: float, rounds: int = 6, points: int = 33):
        """Zoom in on the posterior mode: ``rounds`` local grid searches around ``best``."""
        offsets = torch.linspace(-1.0, 1.0, points, dtype=z.dtype, device=z.device)
        lo, hi = self.support
        for _ in range(rounds):
            cand = (best[:, None] + width * offsets).clamp(lo, hi)  # (n, points)
            log_density = self.log_prior(cand) - self.energy(z[:, None], cand)
            best = cand.gather(-1, log_density.argmax(-1, keepdim=True)).squeeze(-1)
            width = 2 * width / (points - 1)
        return best


class GaussianPrior(ContinuousModel):
    """``s ~ N(0, tau^2)``, ``z | s ~ N(s, sigma^2)``: mean ``tau^2 z / (tau^2 + sigma^2)``."""

    name = "gaussian_prior"

    def __init__(
        self, tau: float | torch.Tensor = 1.0, sigma: float | torch.Tensor = 1.0, **quadrature: Any
    ):
        super().__init__(**quadrature)
        self.params = {
            "tau": check_positive(tau, "tau", tensor_ok=True),
            "sigma": check_positive(sigma, "sigma", tensor_ok=True),
        }

    @override
    def energy(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return (z - s) ** 2 / (2 * self.params["sigma"] ** 2)

    @override
    def log_prior(self, s: torch.Tensor) -> torch.Tensor:
        return -(s**2) / (2 * self.params["tau"] ** 2)

    @override
    def closed_form(self, z: torch.Tensor, statistic: str) -> torch.Tensor:
        t2, s2 = self.params["tau"] ** 2, self.params["sigma"] ** 2
        if statistic in ("mean", "mode"):
            return t2 * z / (t2 + s2)
        return torch.ones_like(z) * (t2 * s2 / (t2 + s2)) ** 0.5


def _mills(mu: torch.Tensor) -> torch.Tensor:
    """Inverse Mills ratio ``phi(mu) / Phi(mu)``; ``-mu`` (its asymptote) below -1e4,
    where ``mu^2`` and ``log Phi`` would overflow (no NaN in either branch's gradient)."""
    safe = mu.clamp_min(-1e4)
    ratio = torch.exp(-0.5 * math.log(2 * math.pi) - 0.5 * safe**2 - torch.special.log_ndtr(safe))
    return torch.where(mu > -1e4, ratio, -mu)


class LaplacePrior(ContinuousModel):
    """``s ~ Laplace(0, b)``, ``z | s ~ N(s, sigma^2)``: Bayesian soft-thresholding.

    The mode is the soft-threshold ``sign(z) max(|z| - sigma^2 / b, 0)`` (ISTA's shrink);
    the mean is a smooth shrinkage (closed form with Gaussian CDFs).
    """

    name = "laplace_prior"

    def __init__(
        self, b: float | torch.Tensor = 1.0, sigma: float | torch.Tensor = 1.0, **quadrature: Any
    ):
        super().__init__(breakpoints=(0.0,), **quadrature)
        self.params = {
            "b": check_positive(b, "b", tensor_ok=True),
            "sigma": check_positive(sigma, "sigma", tensor_ok=True),
        }

    @override
    def energy(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return (z - s) ** 2 / (2 * self.params["sigma"] ** 2)

    @override
    def log_prior(self, s: torch.Tensor) -> torch.Tensor:
        return -s.abs() / self.params["b"]

    @override
    def closed_form(self, z: torch.Tensor, statistic: str) -> torch.Tensor:
        b, sig = self.params["b"], self.params["sigma"]
        a = sig**2 / b
        if statistic == "mode":
            return torch.sign(z) * torch.clamp(z.abs() - a, min=0)
        if statistic != "mean":
            return super().closed_form(z, statistic)
        mu_p, mu_m = (z - a) / sig, (z + a) / sig
        log_cdf_p, log_cdf_m = torch.special.log_ndtr(mu_p), torch.special.log_ndtr(-mu_m)
        # branch weights softmax(mu_p^2/2 + log Phi(mu_p), mu_m^2/2 + log Phi(-mu_m)): the
        # difference of the squares is -4 a z / sigma^2, formed without squaring z (which
        # overflows float32 beyond |z| ~ 1e19)
        w_p = torch.sigmoid(-2 * a * z / sig**2 + log_cdf_p - log_cdf_m)
        mean_p = z - a + sig * _mills(mu_p)
        mean_m = z + a - sig * _mills(-mu_m)
        return w_p * mean_p + (1 - w_p) * mean_m


ENERGY_MODELS: dict[str, Callable[..., EnergyModel]] = {
    "gaussian": Gaussian,
    "laplace": Laplace,
    "student_t": StudentT,
    "cauchy": Cauchy,
    "huber": Huber,
    "three_level": ThreeLevel,
    "gate": Gate,
    "soft_relu": soft_relu,
    "gaussian_prior": GaussianPrior,
    "laplace_prior": LaplacePrior,
}


def energy_model(name: str, **params: float | torch.Tensor) -> EnergyModel:
    """Build a built-in model by name (see ``ENERGY_MODELS``)."""
    if name not in ENERGY_MODELS:
        raise ValueError(f"unknown energy model {name!r}; available: {', '.join(ENERGY_MODELS)}")
    return ENERGY_MODELS[name](**params)


# ----------------------------------------------------------------------------- activation


def posterior_activation(
    z: torch.Tensor, model: EnergyModel, statistic: str = "mean", method: str = "auto"
) -> torch.Tensor:
    r"""The posterior ``statistic`` of ``model``'s latent given pre-activations ``z``.

    Args:
        z: pre-activations, any shape (element-wise).
        model: an :class:`EnergyModel` (see ``ENERGY_MODELS`` / :func:`energy_model`).
        statistic: ``"mean"`` | ``"mode"`` | ``"std"``.
        method: ``"auto"`` (closed form when there is one), ``"closed"`` or ``"numeric"``.

    Examples:
        >>> z = torch.linspace(-3, 3, 7, dtype=torch.float64)
        >>> torch.allclose(posterior_activation(z, Gaussian(m=2.0, sigma=1.0)), torch.tanh(2 * z))
        True
    """
    check_tensor(z, "z", meta_ok=True)
    if not isinstance(model, EnergyModel):
        raise TypeError(f"model must be an EnergyModel, got {type(model).__name__}")
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
    if method not in ("auto", "closed", "numeric"):
        raise ValueError(f"method must be 'auto', 'closed' or 'numeric', got {method!r}")
    if method != "numeric":
        try:
            return model.closed_form(z, statistic)
        except NotImplementedError:
            if method == "closed":
                raise
    return model.numeric(z, statistic)


POSITIVE = {"sigma", "b", "nu", "tau", "delta", "temperature"}


class DerivedActivation(nn.Module):
    """A posterior-statistic activation with optionally learnable parameters.

    Args:
        model: a built-in name (``ENERGY_MODELS``).
        statistic: ``"mean"`` | ``"mode"`` | ``"std"``.
        learn: names of parameters to learn; positive ones (``sigma``, ``b``, ``nu``,
            ``tau``, ``delta``, ``temperature``) are learned through their logarithm.
        **params: the model's parameters (and ``link``/``output`` for ``gate``).

    Examples:
        >>> act = DerivedActivation("student_t", nu=3.0, learn=("m", "sigma"))
        >>> act(torch.randn(4, 5)).shape
        torch.Size([4, 5])
    """

    def __init__(
        self,
        model: str = "gaussian",
        statistic: str = "mean",
        learn: Sequence[str] = (),
        **params: float | torch.Tensor,
    ):
        super().__init__()
        built = energy_model(model, **params)  # validates names and values now
        if statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
        self.model, self.statistic = model, statistic
        self.options = {k: v for k, v in params.items() if isinstance(v, str)}
        numeric = {k: float(v) for k, v in built.params.items()}  # defaults included
        unknown = set(learn) - set(numeric)
        if unknown:
            raise ValueError(
                f"cannot learn {sorted(unknown)}: {model!r} has parameters {sorted(numeric)}"
            )
        self.positive = sorted(k for k in learn if k in POSITIVE)
        self.fixed = {k: v for k, v in numeric.items() if k not in learn}  # plain floats
        for k in learn:  # positive parameters are learned through their logarithm
            v = numeric[k]
            self.register_parameter(
                k, nn.Parameter(torch.tensor(math.log(v) if k in self.positive else v))
            )
        self.learned = sorted(learn)

    def current_params(self) -> dict:
        """The model parameters now: fixed ones as given, learned ones from their parameters."""
        learned = {
            k: getattr(self, k).exp() if k in self.positive else getattr(self, k)
            for k in self.learned
        }
        return {**self.fixed, **learned}

    def energy_model(self) -> EnergyModel:
        """The :class:`EnergyModel` with the module's current parameter values."""
        return ENERGY_MODELS[self.model](**self.options, **self.current_params())

    @override
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return posterior_activation(z, self.energy_model(), self.statistic)

    @override
    def extra_repr(self) -> str:
        ps = ", ".join(
            f"{k}={float(torch.as_tensor(v).detach()):.4g}"
            + (" (learned)" if k in self.learned else "")
            for k, v in self.current_params().items()
        )
        return f"{self.model!r}, statistic={self.statistic!r}" + (f", {ps}" if ps else "")
