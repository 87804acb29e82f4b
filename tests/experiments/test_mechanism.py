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
    assert res["verdicts"][0].claim == "C18"


def test_decide_c18_gives_each_outcome():
    from implicit_em.experiments.mechanism import decide_c18

    def rows(seed_sens, seed_r2, control=(0.5, 1.0)):
        return [
            {"variant": "infomax(z)", "bias_sensitivity": seed_sens, "r2_grad_on_r": seed_r2},
            {"variant": "lse(z)", "bias_sensitivity": control[0], "r2_grad_on_r": control[1]},
        ]

    assert decide_c18(rows(0.3, 0.9), 1e-3, 0.5) == "confirmed"
    assert decide_c18(rows(0.3, 0.1), 1e-3, 0.5) == "partly"
    assert decide_c18(rows(1e-7, 0.1), 1e-3, 0.5) == "refuted"
    assert decide_c18(rows(0.3, 0.9, control=(1e-7, 1.0)), 1e-3, 0.5) == "open"
