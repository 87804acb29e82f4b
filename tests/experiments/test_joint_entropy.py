"""The joint-entropy experiment (C35): closed forms against torch.distributions, the
known maximum, and its rule's outcomes."""

import math

import pytest
import torch


def test_entropies_match_torch_distributions():
    from torch.distributions import MultivariateNormal, Normal

    from implicit_em.experiments.joint_entropy import covariance, entropies, unit_rows

    sigma = covariance(6, seed=3)
    w = unit_rows(torch.randn(3, 6, generator=torch.Generator().manual_seed(0),
                              dtype=torch.float64))  # fmt: skip
    c = w @ sigma @ w.T
    marginal, joint = entropies(w, sigma)
    assert float(joint) == pytest.approx(float(MultivariateNormal(torch.zeros(3), c).entropy()),
                                         abs=1e-12)  # fmt: skip
    want = sum(float(Normal(0.0, c[j, j].sqrt()).entropy()) for j in range(3))
    assert float(marginal) == pytest.approx(want, abs=1e-12)
    assert float(marginal - joint) > 0  # correlated units: TC > 0


def test_the_known_maximum_is_reached_by_the_top_eigenvectors_and_never_beaten():
    from implicit_em.experiments.joint_entropy import (
        covariance,
        joint_entropy,
        max_joint_entropy,
        unit_rows,
    )

    sigma = covariance(8, seed=1)
    best = max_joint_entropy(sigma, 4)
    _, vecs = torch.linalg.eigh(sigma)
    assert joint_entropy(vecs[:, -4:].T, sigma) == pytest.approx(best, abs=1e-10)
    g = torch.Generator().manual_seed(0)
    for _ in range(200):  # Hadamard and interlacing: no unit-row W does better
        w = unit_rows(torch.randn(4, 8, generator=g, dtype=torch.float64))
        assert joint_entropy(w, sigma) < best + 1e-9
    assert best == pytest.approx(
        0.5 * sum(math.log(2 * math.pi * math.e * s) for s in torch.linalg.eigvalsh(sigma)[-4:])
    )


def test_small_run_lambda_one_reaches_the_maximum_and_lambda_zero_collapses(tmp_path):
    from implicit_em.experiments import joint_entropy as exp

    cfg = exp.Config(lambdas=(0.0, 1.0, 2.0), steps=1500)
    rows = {r["lambda"]: r for r in exp.run(cfg, tmp_path)["tables"]["optima"]}
    assert rows[1.0]["gap_per_unit"] < cfg.entropy_gap_max
    assert rows[2.0]["gap_per_unit"] < cfg.entropy_gap_max  # decorrelated and maximal
    assert rows[0.0]["gap_per_unit"] > 1.0 and "identity_error" not in rows[0.0]  # collapsed
    assert rows[1.0]["identity_error"] < cfg.identity_max
    with pytest.raises(ValueError, match="units < dims"):
        exp.run(exp.Config(units=8, dims=8), tmp_path)


def _graded(gaps: dict, identity=0.0):
    from implicit_em.experiments import joint_entropy as exp
    from implicit_em.experiments.rules import grade, stack

    rows = [{"lambda": lam, "gap_per_unit": g, "identity_error": identity}
            for lam, g in gaps.items()]  # fmt: skip
    tables = stack([{"optima": rows}] * 5, list(range(5)))
    return grade(exp.RULES, tables, exp.Config())[0].verdict


def test_c35_rule_gives_each_outcome():
    lams = (0.0, 0.5, 1.0, 2.0, 4.0)
    assert _graded(dict.fromkeys(lams, 0.0)) == "confirmed"
    assert _graded({0.0: 9.0, 0.5: 0.04, 1.0: 0.0, 2.0: 0.0, 4.0: 0.0}) == "partly"
    assert _graded({0.0: 9.0, 0.5: 0.04, 1.0: 0.0, 2.0: 0.5, 4.0: 0.5}) == "refuted"
    # the optimiser misses the maximum at lambda = 1 itself, or the identity fails: open
    assert _graded({**dict.fromkeys(lams, 0.0), 1.0: 0.5}) == "open"
    assert _graded(dict.fromkeys(lams, 0.0), identity=1e-3) == "open"
