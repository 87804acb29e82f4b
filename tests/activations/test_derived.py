"""Derived activations: closed forms against independent SciPy references, the numeric
paths against the closed forms (1e-6 in float64), limits, modules, errors."""

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import integrate, stats

from implicit_em.activations import derived as D

Z = torch.linspace(-9, 9, 721, dtype=torch.float64)


SETTINGS = {
    "gaussian": [{"m": 1.0, "sigma": 1.0}, {"m": 2.5, "sigma": 0.7}],
    "laplace": [{"m": 1.0, "b": 1.0}, {"m": 3.0, "b": 0.5}],
    "student_t": [
        {"m": 1.0, "sigma": 1.0, "nu": 3.0},
        {"m": 2.0, "sigma": 0.5, "nu": 0.5},
        {"m": 1.0, "sigma": 1.0, "nu": 50.0},
    ],
    "cauchy": [{"m": 1.0, "sigma": 1.0}, {"m": 0.5, "sigma": 2.0}],
    "huber": [{"m": 1.0, "sigma": 1.0, "delta": 1.0}, {"m": 2.0, "sigma": 0.5, "delta": 0.3}],
    "three_level": [{"m": 1.0, "sigma": 1.0}, {"m": 3.0, "sigma": 0.8}],
    "gate": [
        {},
        {"link": "probit"},
        {"output": "probability", "temperature": 0.3},
        {"link": "probit", "output": "probability"},
    ],
    "soft_relu": [{"temperature": 1.0}, {"temperature": 0.05}],
    "gaussian_prior": [{"tau": 1.0, "sigma": 1.0}, {"tau": 2.0, "sigma": 0.5}],
    "laplace_prior": [{"b": 1.0, "sigma": 1.0}, {"b": 0.3, "sigma": 0.8}],
}


CASES = [(n, p) for n, ps in SETTINGS.items() for p in ps]


def _has_closed_form(name, params, statistic):
    try:
        D.energy_model(name, **params).closed_form(Z[:2], statistic)
    except NotImplementedError:
        return False
    return True


CLOSED = [(n, p, st) for n, p in CASES for st in D.STATISTICS if _has_closed_form(n, p, st)]


def _two_signed_reference(pdf, z):
    p, q = pdf(z, +1), pdf(z, -1)
    return (p - q) / (p + q)


@pytest.mark.parametrize(("name", "params", "statistic"), CLOSED)
def test_numeric_path_reproduces_closed_form(name, params, statistic):
    model = D.energy_model(name, **params)
    closed = D.posterior_activation(Z, model, statistic, method="closed")
    numeric = D.posterior_activation(Z, model, statistic, method="numeric")
    assert (closed - numeric).abs().max() < 1e-6


def test_every_model_has_a_closed_form_mean():
    assert {n for n, _, st in CLOSED if st == "mean"} == set(D.ENERGY_MODELS)


@pytest.mark.parametrize(
    ("name", "params", "pdf"),
    [
        ("gaussian", {"m": 1.5, "sigma": 0.8}, lambda z, s: stats.norm.pdf(z, 1.5 * s, 0.8)),
        ("laplace", {"m": 2.0, "b": 0.6}, lambda z, s: stats.laplace.pdf(z, 2.0 * s, 0.6)),
        (
            "student_t",
            {"m": 1.0, "sigma": 0.9, "nu": 2.5},
            lambda z, s: stats.t.pdf(z, 2.5, 1.0 * s, 0.9),
        ),
        ("cauchy", {"m": 1.2, "sigma": 1.0}, lambda z, s: stats.cauchy.pdf(z, 1.2 * s, 1.0)),
    ],
)
def test_two_signed_closed_forms_match_scipy_densities(name, params, pdf):
    z = np.linspace(-6, 6, 241)
    want = _two_signed_reference(pdf, z)
    got = D.posterior_activation(torch.tensor(z), D.energy_model(name, **params)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_continuous_closed_forms_match_scipy_quadrature():
    for model, log_prior in (
        (D.GaussianPrior(tau=1.3, sigma=0.7), lambda s: -(s**2) / (2 * 1.3**2)),
        (D.LaplacePrior(b=0.5, sigma=0.7), lambda s: -abs(s) / 0.5),
    ):
        for z in (-3.0, -0.2, 0.0, 0.4, 2.5):

            def dens(s, z=z, lp=log_prior):
                return math.exp(lp(s) - (z - s) ** 2 / (2 * 0.7**2))

            kw = {"points": [0.0, z], "limit": 200}
            mass = integrate.quad(dens, -30, 30, **kw)[0]
            mean = integrate.quad(lambda s, d=dens: s * d(s), -30, 30, **kw)[0] / mass
            got = float(D.posterior_activation(torch.tensor([z], dtype=torch.float64), model))
            assert got == pytest.approx(mean, abs=1e-9)


def test_named_activations_are_recovered_exactly():
    g = D.posterior_activation
    torch.testing.assert_close(g(Z, D.Gaussian(m=2.0, sigma=0.5)), torch.tanh(8.0 * Z))
    torch.testing.assert_close(g(Z, D.Gate("logistic")), F.silu(Z))
    torch.testing.assert_close(g(Z, D.Gate("probit")), F.gelu(Z))
    torch.testing.assert_close(g(Z, D.Gate("logistic", "probability")), torch.sigmoid(Z))
    torch.testing.assert_close(g(Z, D.soft_relu(0.3), "mode"), torch.relu(Z))
    torch.testing.assert_close(g(Z, D.LaplacePrior(b=2.0, sigma=1.0), "mode"), F.softshrink(Z, 0.5))
    torch.testing.assert_close(g(Z, D.Laplace(m=2.0, b=1.0)), torch.tanh(Z.clamp(-2, 2)))


def test_soft_relu_tends_to_relu_linearly_in_temperature():
    def dist(t):  # a grid that resolves the kink at every temperature
        z = torch.cat([torch.linspace(-10, 10, 20001), t * torch.linspace(-20, 20, 40001)])
        z = z.double()
        return float((D.posterior_activation(z, D.soft_relu(t)) - torch.relu(z)).abs().max())

    dist = [dist(t) for t in (1.0, 0.1, 0.01, 0.001)]
    assert all(a > b for a, b in itertools.pairwise(dist))
    # sup |z sigmoid(z/T) - relu(z)| = T max_u u sigmoid(-u) = 0.2785 T
    assert dist[-1] == pytest.approx(0.2785 * 0.001, rel=1e-3)


def test_user_models():
    energy = lambda z: torch.stack([(z - 1) ** 2, (z + 1) ** 2, z**2], -1) / 2  # noqa: E731
    values = lambda z: torch.tensor([1.0, -1.0, 0.0], dtype=z.dtype)  # noqa: E731
    torch.testing.assert_close(
        D.posterior_activation(Z, D.DiscreteModel(energy, values)),
        D.posterior_activation(Z, D.ThreeLevel(m=1.0, sigma=1.0)),
    )
    cont = D.ContinuousModel(lambda z, s: (z - s) ** 2 / 2, lambda s: -(s**2) / 2)
    torch.testing.assert_close(D.posterior_activation(Z, cont), Z / 2)
    with pytest.raises(NotImplementedError):
        D.posterior_activation(Z, cont, method="closed")


def test_derived_module_learns_its_parameters():
    act = D.DerivedActivation("student_t", learn=("m", "sigma"), nu=2.0)
    assert isinstance(act.m, torch.nn.Parameter) and act.fixed == {"nu": 2.0}
    assert set(dict(act.named_parameters())) == {"m", "sigma"}
    z = torch.randn(50, 4)
    act(z).pow(2).sum().backward()
    assert act.m.grad is not None and act.sigma.grad is not None  # sigma via log(sigma)
    assert "student_t" in repr(act) and "nu=2" in repr(act)
    ref = D.posterior_activation(z.double(), D.StudentT(m=1.0, sigma=1.0, nu=2.0)).float()
    torch.testing.assert_close(act(z), ref)


@pytest.mark.parametrize(
    ("fn", "match"),
    [
        (lambda: D.Gaussian(sigma=0.0), r"sigma must be > 0 \(valid range: \(0, inf\)\)"),
        (lambda: D.StudentT(nu=-1.0), "nu must be > 0"),
        (lambda: D.Laplace(b=float("nan")), "b must be finite"),
        (lambda: D.Gaussian(m=float("inf")), "m must be finite"),
        (lambda: D.Gate(link="tanh"), "link"),
        (lambda: D.energy_model("swish"), "unknown energy model"),
        (lambda: D.posterior_activation(Z, D.Gaussian(), "median"), "statistic"),
        (lambda: D.DerivedActivation("gaussian", learn=("nu",)), "cannot learn"),
        (lambda: D.ContinuousModel(support=(1.0, -1.0)), "support"),
    ],
)
def test_bad_parameters(fn, match):
    with pytest.raises(ValueError, match=match):
        fn()
