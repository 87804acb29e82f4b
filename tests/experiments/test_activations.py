"""The activations experiment (C5-C8, C23) and its decision rules."""

import pytest


def test_activations_experiment_verdicts_follow_measurements(tmp_path):
    from implicit_em.experiments import activations as exp

    cfg = exp.Config(n_points=401, temperatures=(1.0, 0.1, 0.01), gaussian_grid=2)
    res = exp.run(cfg, tmp_path)
    v = {x.claim: x.verdict for x in res["verdicts"]}
    assert v == {
        "C5": "confirmed",
        "C6": "refuted",
        "C7": "refuted",
        "C8": "confirmed",
        "C23": "partly",
    }
    assert (tmp_path / "curves.json").exists()
    rows = [dict(r) for r in res["tables"]["properties"]]
    # if the Student-t activations were monotone and saturated at +-1, C7 would be confirmed
    for r in rows:
        if r["model"] in ("student_t", "cauchy"):
            r.update(monotone="increasing", limit_pos=1.0, redescending=False)
    again = exp.summarise(rows, res["tables"]["temperature"], 1e-15, cfg)
    assert {x.claim: x.verdict for x in again["verdicts"]}["C7"] == "confirmed"
    worse = exp.summarise(res["tables"]["properties"], res["tables"]["temperature"], 1e-3, cfg)
    assert {x.claim: x.verdict for x in worse["verdicts"]}["C5"] == "refuted"


def test_decide_c7_and_c8_give_each_outcome():
    from implicit_em.experiments.activations import decide_c7, decide_c8

    saturating = {"odd": True, "monotone": "increasing", "limit_pos": 1.0, "redescending": False}
    redescending = {"odd": True, "monotone": "no", "limit_pos": 1e-3, "redescending": True}
    assert decide_c7([saturating, saturating]) == "confirmed"
    assert decide_c7([redescending, redescending]) == "refuted"
    assert decide_c7([saturating, redescending]) == "partly"
    ts = [1.0, 0.1, 0.01]
    assert decide_c8(ts, [0.278 * t for t in ts]) == "confirmed"  # ~ T, below 1e-2
    assert decide_c8(ts, [0.5, 0.4, 0.3]) == "partly"  # decreasing, too slowly
    assert decide_c8(ts, [0.3, 0.4, 0.5]) == "refuted"


def test_c23_rule_gives_each_outcome():
    from implicit_em.experiments.activations import decide_c23

    def row(lin=0.01, beyond=0.0, inside=1e-3, consistent=1e-16):
        return {
            "activation": "h", "threshold": 2.0, "closed_vs_numeric": consistent,
            "linear_deviation": lin, "max_grad_beyond": beyond, "min_grad_inside": inside,
            "plateau": 0.76,
        }  # fmt: skip

    tanh = row(lin=0.3, beyond=0.07, inside=0.07)
    assert decide_c23([row(), row()], tanh).verdict == "confirmed"
    assert decide_c23([row(lin=0.5), row()], tanh).verdict == "partly"  # saturates only
    assert decide_c23([row(beyond=0.1), row(beyond=0.1)], tanh).verdict == "partly"  # linear
    assert decide_c23([row(lin=0.5, beyond=0.1)], tanh).verdict == "refuted"
    assert decide_c23([row(consistent=1e-3)], tanh).verdict == "open"
    assert decide_c23([row()], row()).verdict == "open"  # the control passed: no test


def test_c6_rule_gives_each_outcome_and_tails_are_measured():
    import torch

    from implicit_em.experiments.activations import decide_c6, tail_approach

    soft = tail_approach(torch.nn.functional.softsign)
    tanh = tail_approach(torch.tanh)
    assert soft["flat_at"] is None and soft["tail_slope"] == pytest.approx(-1.0, abs=0.05)
    assert tanh["flat_at"] == 30.0  # 1 - tanh(30) is 0 in float64: not a 1/|z| approach
    flat = {"flat_at": 10.0, "tail_slope": None}
    power = {"flat_at": None, "tail_slope": -1.0}
    steep = {"flat_at": None, "tail_slope": -3.0}
    assert decide_c6([power, power], soft, tanh) == "confirmed"
    assert decide_c6([flat, flat], soft, tanh) == "refuted"
    assert decide_c6([flat, power], soft, tanh) == "partly"
    assert decide_c6([steep], soft, tanh) == "partly"
    assert decide_c6([power], tanh, tanh) == "open"  # the softsign control failed
