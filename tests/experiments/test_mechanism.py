"""The mechanism experiment (C18): the gradient path and the rule."""

import pytest


def test_mechanism_experiment_measures_the_gradient_path(tmp_path):
    from implicit_em.experiments import mechanism as exp

    res = exp.run(exp.Config(epochs=1, units=6), tmp_path)
    by = {r["variant"]: r for r in res["tables"]["variants"]}
    assert set(by) == set(exp.VARIANTS)
    # covariance of z ignores b: a bias shift that changes r leaves dL/dW unchanged
    assert by["infomax(z)"]["r_change_tv"] > 0.1
    assert by["infomax(z)"]["bias_sensitivity"] < 1e-4
    assert by["lse(z)"]["r2_grad_on_r"] == pytest.approx(1.0, abs=1e-9)  # dL/dz = r / n
    assert by["lse(z)"]["bias_sensitivity"] > 1e-2
    assert "verdicts" not in res  # graded by the declared rules


def _graded(seed_sens, seed_r2, control=(0.5, 1.0), seeds=(0, 1, 2), spread=0.0):
    from implicit_em.experiments import mechanism as exp
    from implicit_em.experiments.rules import grade

    rows = [
        row
        for i, s in enumerate(seeds)
        for row in (
            {"seed": s, "variant": "infomax(z)", "bias_sensitivity": seed_sens + i * spread,
             "r2_grad_on_r": seed_r2},
            {"seed": s, "variant": "lse(z)", "bias_sensitivity": control[0],
             "r2_grad_on_r": control[1] - i * 1e-3},
        )
    ]  # fmt: skip
    return grade(exp.RULES, {"variants": rows}, exp.Config())[0]


@pytest.mark.parametrize(
    ("sens", "r2", "control", "expected"),
    [
        (0.3, 0.9, (0.5, 1.0), "confirmed"),
        (0.3, 0.1, (0.5, 1.0), "partly"),
        (1e-7, 0.1, (0.5, 1.0), "refuted"),
        (0.3, 0.9, (1e-7, 1.0), "open"),  # the control is blind: nothing decided
    ],
)
def test_c18_rule_gives_each_outcome(sens, r2, control, expected):
    verdict = _graded(sens, r2, control)
    assert verdict.verdict == expected
    assert verdict.per_seed == (expected,) * 3  # each seed alone agrees here


def test_c18_is_open_when_the_seeds_straddle_the_threshold():
    # sensitivity 1e-4, 1.9e-3, 3.7e-3 around 1e-3: the interval straddles it
    verdict = _graded(1e-4, 0.9, spread=1.8e-3)
    assert verdict.verdict == "open"
    assert verdict.per_seed == ("partly", "confirmed", "confirmed")
    assert "sensitivity_min = 0.001" in verdict.threshold
