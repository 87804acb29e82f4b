"""The noise-models experiment (C34): exact posteriors, samples, a small run and the rule."""

import math

import pytest
import torch


def test_posterior_means_against_closed_forms():
    from implicit_em.experiments.noise_models import posterior_mean

    z = torch.linspace(-6, 6, 241, dtype=torch.float64)
    # Gaussian, unit variance: tanh(m z / sigma^2) with m = sigma = 1
    torch.testing.assert_close(posterior_mean("gaussian", z), torch.tanh(z))
    # Laplace of scale b: tanh((|z + 1| - |z - 1|) / (2 b)), b = 1/sqrt(2)
    b = 1 / math.sqrt(2)
    torch.testing.assert_close(posterior_mean("laplace", z),
                               torch.tanh(((z + 1).abs() - (z - 1).abs()) / (2 * b)))  # fmt: skip
    # Student-t (3 dof, scale c): the ratio of (1 + u^2 / 3)^-2 densities, by Bayes' rule
    c = 1 / math.sqrt(3)

    def density(u):
        return (1 + (u / c).square() / 3) ** -2

    plus, minus = density(z - 1), density(z + 1)
    torch.testing.assert_close(posterior_mean("student_t", z), (plus - minus) / (plus + minus))
    with pytest.raises(ValueError, match="unknown noise model"):
        posterior_mean("cauchy", z)


def test_samples_have_unit_variance_noise_and_fair_signs():
    from implicit_em.experiments.noise_models import NOISES, noise, samples

    for name in NOISES:
        z, s = samples(name, 200_000, seed=1)
        eps = z - s
        assert set(s.unique().tolist()) == {-1.0, 1.0} and abs(float(s.mean())) < 0.01
        assert float(eps.median()) == pytest.approx(0.0, abs=0.01)
        # the sampled quartiles match the distribution's own (scale and shape)
        q = torch.quantile(eps[:100_000], torch.tensor([0.25, 0.75], dtype=torch.float64))
        dist = noise(name)
        if name != "student_t":  # torch's StudentT has no icdf: scipy's below
            want = dist.icdf(torch.tensor([0.25, 0.75], dtype=torch.float64))
            torch.testing.assert_close(q, want, atol=0.01, rtol=0)
        else:
            from scipy import stats

            want = stats.t.ppf([0.25, 0.75], 3, scale=1 / math.sqrt(3))
            torch.testing.assert_close(q, torch.tensor(want), atol=0.01, rtol=0)
        if name == "gaussian":
            assert float(eps.var()) == pytest.approx(1.0, abs=0.01)


def test_small_run_networks_approach_the_derived_activation(tmp_path):
    from implicit_em.experiments import noise_models as exp

    cfg = exp.Config(n_samples=10_000, steps=300, batch_size=1024)
    res = exp.run(cfg, tmp_path)
    cells = {r["noise"]: r for r in res["tables"]["c34"]}
    assert set(cells) == set(exp.NOISES)
    assert len(res["tables"]["fits"]) == len(exp.NOISES) * len(exp.ARCHITECTURES)
    for r in cells.values():
        assert r["architecture_distance"] < 0.15 and r["noise_model_distance"] > 0.05
        assert r["share"] == pytest.approx(r["architecture_distance"] / r["noise_model_distance"])
    # Gaussian and Student-t are the farthest apart of the three
    assert cells["gaussian"]["to_student_t"] > cells["gaussian"]["to_laplace"]


def _graded(share, gap=0.1):
    from implicit_em.experiments import noise_models as exp
    from implicit_em.experiments.rules import grade, stack

    def seed(d):
        return {"c34": [{"noise": n, "share": v + d, "noise_model_distance": gap}
                        for n, v in zip(exp.NOISES, share, strict=True)]}  # fmt: skip

    tables = stack([seed(d) for d in (0.0, 0.01, -0.01, 0.02, -0.02)], list(range(5)))
    return grade(exp.RULES, tables, exp.Config())[0].verdict


def test_c34_rule_gives_each_outcome():
    assert _graded((0.1, 0.1, 0.1)) == "confirmed"
    assert _graded((0.1, 0.1, 0.6)) == "partly"
    assert _graded((0.6, 0.6, 0.6)) == "refuted"
    assert _graded((0.1, 0.1, 0.1), gap=0.001) == "open"  # the noise models look alike
