"""The supervised experiment (C22) and its rule."""

import pytest


def test_supervised_small_run_and_rule(tmp_path):
    from implicit_em.experiments import supervised as exp

    cfg = exp.Config(datasets=("digits",), hidden=8, epochs=1)
    res = exp.run(cfg, tmp_path)
    rows = res["tables"]["configs"]
    assert {r["config"] for r in rows} == set(exp.CONFIGS)
    assert res["verdicts"][0].claim == "C22" and res["tables"]["published"][3]["accuracy"] == 0.9634
    assert exp.BASELINE not in exp.INFOMAX and exp.FULL in exp.INFOMAX

    def rows_with(acc, dead, red):
        base = {"dataset": "d", "config": exp.BASELINE, "accuracy": 0.9, "dead_units": 2,
                "redundancy": 20.0}  # fmt: skip
        full = {"dataset": "d", "config": exp.FULL, "accuracy": acc, "dead_units": dead,
                "redundancy": red}  # fmt: skip
        return [base, full]

    assert exp.decide_c22(rows_with(0.9, 0, 10.0), 0.002) == ("confirmed", pytest.approx(0.0))
    assert exp.decide_c22(rows_with(0.8, 0, 10.0), 0.002)[0] == "refuted"
    assert exp.decide_c22(rows_with(0.9, 0, 30.0), 0.002)[0] == "refuted"
    mixed = rows_with(0.9, 0, 10.0) + [{**r, "dataset": "e"} for r in rows_with(0.8, 0, 10.0)]
    assert exp.decide_c22(mixed, 0.002)[0] == "partly"
