"""The supervised experiment (C22) and its rule."""

import pytest


def test_supervised_small_run_measures_every_arm(tmp_path):
    from implicit_em.experiments import supervised as exp

    cfg = exp.Config(datasets=("digits",), hidden=8, epochs=1)
    res = exp.run(cfg, tmp_path)
    rows = res["tables"]["configs"]
    assert {r["config"] for r in rows} == set(exp.CONFIGS)
    assert res["tables"]["published"][3]["accuracy"] == 0.9634 and "verdicts" not in res
    below = {r["config"]: r for r in res["tables"]["below_baseline"]}
    assert below[exp.BASELINE]["accuracy_below_ref"] == 0.0


def _c22(*datasets):
    """C22 graded on 3 seeds of constructed rows: per dataset, the author's arm's
    (accuracy, dead units, redundancy) against CE alone's (0.9, 2, 20)."""
    from implicit_em.experiments import supervised as exp
    from implicit_em.experiments.rules import contrast, grade, stack

    def rows(jitter):
        out = []
        for name, (acc, dead, red) in zip(("mnist", "digits"), datasets, strict=False):
            out += [{"dataset": name, "config": exp.BASELINE, "accuracy": 0.9 + jitter,
                     "dead_units": 2, "redundancy": 20.0},
                    {"dataset": name, "config": exp.FULL, "accuracy": acc + jitter,
                     "dead_units": dead, "redundancy": red}]  # fmt: skip
        return {"below_baseline": contrast(out, "config", exp.BASELINE,
                                           ["accuracy", "dead_units", "redundancy"],
                                           within=("dataset",))}  # fmt: skip

    tables = stack([rows(j) for j in (0.0, 1e-3, -1e-3)], [0, 1, 2])
    return grade(exp.RULES, tables, exp.Config())[0].verdict


@pytest.mark.parametrize(
    ("datasets", "expected"),
    [
        ([(0.9, 0, 10.0)], "confirmed"),
        ([(0.897, 0, 10.0)], "confirmed"),  # 0.3 points lost: within MNIST's noise (0.6)
        ([(0.8, 5, 10.0)], "refuted"),
        ([(0.9, 5, 10.0)], "confirmed"),  # keeps accuracy; more dead units: a secondary cell
        ([(0.9, 0, 10.0), (0.8, 5, 10.0)], "partly"),  # one dataset each way
        ([(0.9, 0, 30.0)], "open"),  # the penalty did not lower redundancy: no control
        ([(0.9, 0, None)], "open"),  # redundancy not measurable: the control undecided
    ],
)
def test_c22_rule_gives_each_outcome(datasets, expected):
    assert _c22(*datasets) == expected
