"""The activations experiment (C5-C8, C23): its measurements and its rules."""

import pytest


def _graded(claim, **tables):
    from implicit_em.experiments import activations as exp
    from implicit_em.experiments.rules import grade

    rules = [r for r in exp.RULES if r.claim == claim]
    return grade(rules, tables, exp.Config(), stochastic=False)[0].verdict


def test_activations_experiment_measures_every_claim(tmp_path):
    from implicit_em.experiments import activations as exp

    cfg = exp.Config(n_points=401, temperatures=(1.0, 0.1, 0.01), gaussian_grid=2)
    res = exp.run(cfg, tmp_path)
    assert (tmp_path / "curves.json").exists() and "verdicts" not in res
    assert res["tables"]["c5"][0]["max_error"] < 1e-12  # tanh is the two-Gaussian mean
    assert res["tables"]["c8"][0]["slope"] == pytest.approx(1.0, abs=0.05)
    roles = {r["role"] for r in res["tables"]["tails"]}
    assert roles == {"laplace", "control softsign", "control tanh"}
    assert {r["role"] for r in res["tables"]["huber"]} == {"huber", "control"}
    assert len(res["tables"]["student"]) == 4  # Cauchy and three Student-t
    from implicit_em.experiments.rules import grade

    verdicts = grade(exp.RULES, res["tables"], cfg, stochastic=False)
    assert {v.claim for v in verdicts} == {"C5", "C6", "C7", "C8", "C23"}


@pytest.mark.parametrize(
    ("error", "expected"), [(1e-15, "confirmed"), (1e-8, "partly"), (1e-3, "refuted")]
)
def test_c5_rule_gives_each_outcome(error, expected):
    assert _graded("C5", c5=[{"max_error": error}]) == expected


def test_c7_and_c8_rules_give_each_outcome():
    from implicit_em.experiments.activations import student_table, temperature_summary

    saturating = {"activation": "a", "odd": True, "monotone": "increasing", "limit_pos": 1.0,
                  "redescending": False}  # fmt: skip
    redescending = {"activation": "b", "odd": True, "monotone": "no", "limit_pos": 1e-3,
                    "redescending": True}  # fmt: skip
    power = {"flat_at": None, "tail_slope": -1.0}  # a 1/|z| approach: slow
    tails = {"a": power, "b": power}
    assert _graded("C7", student=student_table([saturating], tails)) == "confirmed"
    assert _graded("C7", student=student_table([redescending], tails)) == "refuted"
    assert _graded("C7", student=student_table([saturating, redescending], tails)) == "partly"
    # saturating, but fast: exactly at its limit from z = 30 on (as tanh), or exponentially
    for fast in ({"flat_at": 30.0, "tail_slope": None}, {"flat_at": None, "tail_slope": -9.0}):
        (row,) = student_table([saturating], {"a": fast})
        assert row["saturating"] == 1.0 and row["slow"] == 0.0
        assert _graded("C7", student=[row]) == "refuted"

    def c8(distances):
        rows = [{"temperature": t, "sup_distance_to_relu": d}
                for t, d in zip([1.0, 0.1, 0.01], distances, strict=True)]  # fmt: skip
        return _graded("C8", c8=[temperature_summary(rows)])

    assert c8([0.278, 0.0278, 0.00278]) == "confirmed"  # ~ T, below 1e-2
    assert c8([0.5, 0.4, 0.3]) == "partly"  # decreasing, too slowly
    assert c8([0.3, 0.4, 0.5]) == "refuted"


def test_c23_rule_gives_each_outcome():
    from implicit_em.experiments.activations import huber_table

    def row(name="h", lin=0.01, beyond=0.0, inside=1e-3, consistent=1e-16):
        return {
            "activation": name, "threshold": 2.0, "closed_vs_numeric": consistent,
            "linear_deviation": lin, "max_grad_beyond": beyond, "min_grad_inside": inside,
            "plateau": 0.76,
        }  # fmt: skip

    tanh = row("tanh", lin=0.3, beyond=0.07, inside=0.07)

    def verdict(rows, control=tanh):
        return _graded("C23", huber=huber_table(rows, control))

    assert verdict([row("a"), row("b")]) == "confirmed"
    # the primary test is the saturation; the linear window is secondary
    assert verdict([row("a", lin=0.5), row("b")]) == "confirmed"
    assert verdict([row("a"), row("b", beyond=0.1)]) == "partly"
    assert verdict([row("a", beyond=0.1), row("b", beyond=0.1)]) == "refuted"  # linear only
    assert verdict([row(lin=0.5, beyond=0.1)]) == "refuted"
    assert verdict([row(consistent=1e-3)]) == "open"
    assert verdict([row()], control=row("tanh")) == "open"  # the control passed: no test
    # the control saturates no more than tanh but is linear on the window: no test either
    assert verdict([row()], control=row("tanh", lin=0.01, beyond=0.07, inside=0.07)) == "open"


def test_c6_rule_gives_each_outcome_and_tails_are_measured():
    import torch

    from implicit_em.experiments.activations import tail_approach, tails_table

    soft = {"activation": "control: softsign", **tail_approach(torch.nn.functional.softsign)}
    tanh = {"activation": "control: tanh", **tail_approach(torch.tanh)}
    assert soft["flat_at"] is None and soft["tail_slope"] == pytest.approx(-1.0, abs=0.05)
    assert tanh["flat_at"] == 30.0  # 1 - tanh(30) is 0 in float64: not a 1/|z| approach

    def laplace(name, flat_at, slope):
        return {"activation": f"laplace({name})", "flat_at": flat_at, "tail_slope": slope}

    def verdict(*rows, controls=(soft, tanh)):
        return _graded("C6", tails=tails_table([*rows, *controls]))

    power, flat, steep = laplace("a", None, -1.0), laplace("b", 10.0, None), laplace("c", None, -3)
    assert verdict(power, laplace("d", None, -0.9)) == "confirmed"
    assert verdict(flat, laplace("e", 30.0, None)) == "refuted"
    assert verdict(flat, power) == "partly"
    assert verdict(steep) == "refuted"
    assert verdict(power, controls=({**tanh, "activation": "control: softsign"}, tanh)) == "open"


def test_c7_slow_tells_a_power_law_tail_from_tanh():
    import torch

    from implicit_em.activations.derived import energy_model
    from implicit_em.experiments.activations import SLOW_SLOPE, _fn, tail_approach

    cauchy = tail_approach(_fn(energy_model("cauchy", m=1.0, sigma=1.0)))
    assert cauchy["flat_at"] is None and cauchy["tail_slope"] >= SLOW_SLOPE
    assert tail_approach(torch.tanh)["flat_at"] == 30.0  # exactly 1 in float64 from z = 30
