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
    assert res["verdicts"][0].claim == "C11"
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
    (row,) = extra["encoder_vs_sparse_ae"]
    assert row["dataset"] == "digits" and "intervals" in row["outcome"]


def test_decide_c11_encoder_gives_each_outcome():
    from implicit_em.experiments.encoder import decide_c11_encoder

    assert decide_c11_encoder({"a": (1.0, 0.0), "b": (0.95, 0.05)}, 0.9) == "confirmed"
    assert decide_c11_encoder({"a": (1.0, 0.5)}, 0.9) == "partly"  # the control fails too
    assert decide_c11_encoder({"a": (1.0, 0.0), "b": (0.5, 0.0)}, 0.9) == "partly"
    assert decide_c11_encoder({"a": (0.05, 0.0), "b": (0.0, 0.0)}, 0.9) == "refuted"
    assert decide_c11_encoder({}, 0.9) == "open"
