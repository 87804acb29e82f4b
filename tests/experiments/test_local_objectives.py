"""The local-objectives experiment (C33): the data, a small run and the rule's outcomes."""

import pytest
import torch


def test_two_structures_labels_set_s_and_not_the_nuisance():
    from implicit_em.experiments.local_objectives import two_structures

    x, y = two_structures(4000, 1.0, seed=3, stream=1)
    assert x.shape == (4000, 10) and set(y.tolist()) == {0, 1, 2, 3}
    # s is the class's corner: its sign pattern gives the label back (noise SD 0.3)
    corner = (x[:, 0] < 0).long() * 2 + (x[:, 1] < 0).long()
    assert float((corner == y).double().mean()) > 0.99
    # the nuisance is independent of the label: class means agree within noise
    means = torch.stack([x[y == c, 2:].mean(0) for c in range(4)])
    assert float((means - means.mean(0)).abs().max()) < 0.15
    xt, _ = two_structures(100, 1.0, seed=3, stream=2)  # the same centres, other rows
    assert not torch.equal(xt, x[:100])
    x0, _ = two_structures(500, 0.0, seed=3, stream=1)
    assert float(x0[:, 2:].std()) == pytest.approx(0.3, abs=0.02)  # control: noise only


def test_small_run_the_probe_falls_only_with_irrelevant_structure(tmp_path):
    from implicit_em.experiments import local_objectives as exp

    cfg = exp.Config(n_train=2000, n_test=1000, epochs=6)
    res = exp.run(cfg, tmp_path)
    cells = {r["nuisance"]: r for r in res["tables"]["c33"]}
    assert len(res["tables"]["over_training"]) == 2 * (cfg.epochs + 1)
    assert cells[1.0]["objective_drop"] > 0 and cells[0.0]["objective_drop"] > 0
    assert cells[1.0]["probe_fall"] > 0.1 and cells[0.0]["probe_fall"] < 0.02


def test_summary_against_hand_values():
    from implicit_em.experiments.local_objectives import summary

    rows = [{"nuisance": 1.0, "epoch": e, "objective": o, "probe_accuracy": p}
            for e, (o, p) in enumerate([(3.0, 0.8), (2.0, 0.9), (1.5, 0.6)])]  # fmt: skip
    got = summary(rows)
    assert got["objective_drop"] == pytest.approx(1.5) and got["probe_fall"] == pytest.approx(0.3)
    assert got["probe_start"] == 0.8 and got["probe_end"] == 0.6


def _graded(fall, control_fall=0.0, drop=1.0):
    from implicit_em.experiments import local_objectives as exp
    from implicit_em.experiments.rules import grade, stack

    cells = [{"nuisance": 1.0, "objective_drop": drop, "probe_fall": fall},
             {"nuisance": 0.0, "objective_drop": drop, "probe_fall": control_fall}]  # fmt: skip
    seeds = [[dict(c, probe_fall=c["probe_fall"] + d) for c in cells]
             for d in (0.0, 0.001, -0.001, 0.002, -0.002)]  # fmt: skip
    tables = stack([{"c33": s} for s in seeds], list(range(5)))
    return grade(exp.RULES, tables, exp.Config())[0].verdict


def test_c33_rule_gives_each_outcome():
    assert _graded(0.3) == "confirmed"
    assert _graded(0.3, control_fall=0.3) == "confirmed"  # the control is secondary
    assert _graded(0.0) == "refuted"
    assert _graded(0.0, control_fall=0.3) == "refuted"
    assert _graded(0.3, drop=-1.0) == "open"  # the layer did not train: no test
