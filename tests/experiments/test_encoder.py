"""The decoder-free encoder experiment (C11) and its rule."""

import pytest


def test_encoder_experiment_small_run_and_summary_over_seeds(tmp_path):
    from implicit_em.experiments import encoder as exp

    cfg = exp.Config(datasets=("digits",), epochs=2, width=16)
    res = exp.run(cfg, tmp_path)
    fits = res["tables"]["fits"]
    assert {r["variant"] for r in fits} == {"raw pixels", *exp.ABLATION, exp.SAE}
    by = {r["variant"]: r for r in fits}
    assert by[exp.ENCODER]["n_parameters"] == 16 * 65
    assert by[exp.SAE]["n_parameters"] == 2 * 16 * 64 + 16 + 64
    assert 0 <= by[exp.ENCODER]["l0"] <= 16 and 0 < by[exp.ENCODER]["probe_accuracy"] <= 1
    assert [r["dataset"] for r in res["tables"]["c11"]] == ["digits"] and "verdicts" not in res
    assert res["tables"]["published"][0]["probe_accuracy"] == 0.9343
    # two seeds stacked: mean and 95 % interval per variant, and the comparison
    stacked = {"fits": [{"seed": s, **r} for s in (0, 1) for r in fits]}
    stacked["fits"][-1] = {**stacked["fits"][-1], "probe_accuracy": 0.5}  # sparse AE, seed 1
    extra = exp.across_seeds(stacked, cfg)
    summary = {r["variant"]: r for r in extra["summary_over_seeds"]}
    assert summary[exp.SAE]["seeds"] == 2
    assert summary[exp.SAE]["probe_accuracy"] == pytest.approx(
        (by[exp.SAE]["probe_accuracy"] + 0.5) / 2
    )
    versus = {r["variant"]: r for r in extra["versus"]}  # paired by seed: encoder minus theirs
    assert set(versus) == {"raw pixels", *exp.ABLATION, exp.SAE} - {exp.ENCODER}
    assert versus[exp.SAE]["seed"] == 1 and versus[exp.SAE]["probe_accuracy_below_ref"] == (
        pytest.approx(by[exp.ENCODER]["probe_accuracy"] - 0.5)
    )
    assert versus["raw pixels"]["fit_time_ratio"] is None  # nothing fitted
    from implicit_em.experiments.rules import grade_goals

    (goal,) = grade_goals(exp.GOALS, {**stacked, **extra}, cfg)
    assert goal["cell"].startswith("variant=sparse autoencoder, dataset=digits")


def test_the_encoders_lse_collapse_tests_no_claim():
    from implicit_em.experiments import encoder as exp

    assert exp.EXPERIMENT.claims == () and not hasattr(exp, "RULES")
