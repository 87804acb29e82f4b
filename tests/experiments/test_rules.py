"""The one grader: declared rules, bounded intervals over seeds, cells to a verdict."""

import math
from dataclasses import dataclass

import pytest

from implicit_em.experiments.rules import (
    COUNT,
    UNIT,
    Rule,
    cell_table,
    grade,
    verdict_of,
)
from implicit_em.experiments.verdicts import interval95


@dataclass
class Cfg:
    seed: int = 0
    acc_min: float = 0.9
    dead_max: float = 2.0


ACC = Rule("C9", "probe", "acc", ">=", "acc_min", cells=("width",), bounds=UNIT)


def rows(values_by_width: dict) -> list[dict]:
    return [{"seed": s, "width": w, "acc": v}
            for w, vals in values_by_width.items() for s, v in enumerate(vals)]  # fmt: skip


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        (["holds"], "confirmed"),
        (["holds", "holds"], "confirmed"),
        (["fails", "fails"], "refuted"),
        (["holds", "fails"], "partly"),
        (["holds", "fails", "undecided"], "partly"),
        (["holds", "undecided"], "open"),
        (["fails", "undecided"], "refuted"),  # an undecided cell never hides a failure
        (["fails", "undecided", "undecided"], "refuted"),
        (["undecided"], "open"),
    ],
)
def test_verdict_of_gives_each_outcome(outcomes, expected):
    assert verdict_of(outcomes) == expected


def test_the_deciding_cell_of_a_refutation_is_the_worst_failing_one():
    """Several failing cells: the headline is the one farthest past its threshold in
    units of its own interval's half-width, whatever their order; counts come with it."""
    from implicit_em.experiments.rules import grade

    @dataclass
    class Cfg:
        seed: int = 0

    near = [{"seed": s, "width": 1, "acc": v} for s, v in enumerate((0.40, 0.41, 0.42))]
    far = [{"seed": s, "width": 2, "acc": v} for s, v in enumerate((0.10, 0.11, 0.12))]
    open_ = [{"seed": s, "width": 3, "acc": v} for s, v in enumerate((0.3, 0.9, 0.5))]
    rule = Rule("C1", "t", "acc", ">=", 0.5, cells=("width",), bounds=UNIT)
    for rows in (near + far + open_, far + near + open_):
        (v,) = grade([rule], {"t": rows}, Cfg())
        assert v.verdict == "refuted" and v.counts == (0, 2, 1)
        assert v.value == pytest.approx(0.11)  # the far cell decides, not the first one


def test_verdict_of_needs_cells():
    with pytest.raises(ValueError, match="at least one cell"):
        verdict_of([])


def test_bounded_interval_is_the_t_interval_clipped_to_the_range():
    from scipy.stats import t

    xs = [0.99, 1.0, 0.995]
    mean, (lo, hi) = interval95(xs, UNIT)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / 2)
    half = t.ppf(0.975, 2) * sd / math.sqrt(3)
    assert mean == pytest.approx(sum(xs) / 3)
    assert lo == pytest.approx(mean - half) and hi == 1.0 < mean + half
    mean, (lo, hi) = interval95([0.0, 1.0, 0.0], COUNT)
    assert lo == 0.0 and hi > 1.0
    assert interval95([0.5], UNIT) == (0.5, None)
    assert interval95([], UNIT) == (None, None)


@pytest.mark.parametrize(
    ("by_width", "expected", "per_seed"),
    [
        ({64: [0.95, 0.96, 0.955], 2000: [0.97, 0.975, 0.98]}, "confirmed", 3),
        ({64: [0.80, 0.81, 0.805], 2000: [0.70, 0.71, 0.72]}, "refuted", 3),
        ({64: [0.80, 0.81, 0.805], 2000: [0.97, 0.975, 0.98]}, "partly", 3),
        # straddles 0.9: undecided at 3 seeds, though 2 of 3 seeds pass alone
        ({64: [0.85, 0.95, 0.92], 2000: [0.97, 0.975, 0.98]}, "open", 0),
    ],
)
def test_grade_decides_on_intervals_not_votes(by_width, expected, per_seed):
    (verdict,) = grade([ACC], {"probe": rows(by_width)}, Cfg())
    assert verdict.verdict == expected
    assert verdict.seeds_total == 3 and verdict.seeds_agree == per_seed
    assert len(verdict.per_seed) == 3
    lo, hi = verdict.interval
    assert 0.0 <= lo <= verdict.value <= hi <= 1.0
    assert "acc_min = 0.9" in verdict.threshold


def test_the_key_number_is_the_cell_that_decided():
    (verdict,) = grade([ACC], {"probe": rows({64: [0.95, 0.96, 0.955],
                                              2000: [0.80, 0.81, 0.82]})}, Cfg())  # fmt: skip
    assert verdict.verdict == "partly"
    assert verdict.value == pytest.approx(0.81)  # the failing cell, not the first one


def test_one_seed_decides_nothing_unless_deterministic():
    table = {"probe": [{"width": 64, "acc": 0.95}]}
    (stochastic,) = grade([ACC], table, Cfg())
    (deterministic,) = grade([ACC], table, Cfg(), stochastic=False)
    assert stochastic.verdict == "open" and deterministic.verdict == "confirmed"


def test_threshold_lives_in_the_config():
    table = {"probe": rows({64: [0.95, 0.96, 0.955]})}
    assert grade([ACC], table, Cfg())[0].verdict == "confirmed"
    assert grade([ACC], table, Cfg(acc_min=0.99))[0].verdict == "refuted"


def test_graded_two_thresholds_give_confirmed_partly_refuted():
    dead = {"table": "units", "stat": "dead", "bounds": COUNT}
    rules = [Rule("C9", op="<", threshold=1.0, **dead),
             Rule("C9", op="<", threshold="dead_max", **dead)]  # fmt: skip
    for values, expected in [((0, 0, 0.1), "confirmed"), ((1.2, 1.3, 1.25), "partly"),
                             ((5, 6, 7), "refuted")]:  # fmt: skip
        table = {"units": [{"seed": s, "dead": v} for s, v in enumerate(values)]}
        assert grade(rules, table, Cfg())[0].verdict == expected


def test_gate_that_does_not_hold_leaves_the_claim_open():
    gate = Rule("C9", "probe", "acc", ">=", 0.5, where={"width": 64}, gate=True, bounds=UNIT)
    table = {"probe": rows({64: [0.1, 0.12, 0.11], 2000: [0.97, 0.975, 0.98]})}
    assert grade([gate, ACC], table, Cfg())[0].verdict == "open"
    table = {"probe": rows({64: [0.95, 0.955, 0.96], 2000: [0.97, 0.975, 0.98]})}
    assert grade([gate, ACC], table, Cfg())[0].verdict == "confirmed"


def test_cell_table_lists_every_graded_cell():
    table = {"probe": rows({64: [0.80, 0.81, 0.805], 2000: [0.97, 0.975, 0.98]})}
    cells = cell_table([ACC], table, Cfg())
    assert [c["outcome"] for c in cells] == ["fails", "holds"]
    assert cells[0]["cell"] == "width=64: probe.acc" and cells[0]["test"] == ">= 0.9"
    assert all(0.0 <= c["lo"] <= c["mean"] <= c["hi"] <= 1.0 for c in cells)


def test_bad_declarations_are_named():
    with pytest.raises(ValueError, match="op must be one of"):
        Rule("C9", "probe", "acc", "=>", 0.5)
    with pytest.raises(ValueError, match="must not include 'seed'"):
        Rule("C9", "probe", "acc", ">=", 0.5, cells=("seed",))
    with pytest.raises(ValueError, match="low < high"):
        Rule("C9", "probe", "acc", ">=", 0.5, bounds=(1.0, 0.0))
    with pytest.raises(AttributeError, match="does not have"):
        grade([Rule("C9", "probe", "acc", ">=", "nope")], {"probe": rows({64: [1.0]})}, Cfg())
    with pytest.raises(KeyError, match="no column"):
        grade([Rule("C9", "probe", "loss", ">=", 0.5)], {"probe": rows({64: [1.0]})}, Cfg())
    with pytest.raises(KeyError, match="no table"):
        grade([ACC], {"other": []}, Cfg())
    with pytest.raises(ValueError, match="kind must be one of"):
        Rule("C9", "probe", "acc", ">=", 0.5, kind="mode")


def test_each_kind_of_statistic_is_graded_on_its_own_interval():
    ok = Rule("C9", "runs", "ok", ">", 0.5, cells=("width",), bounds=UNIT, kind="share")
    ratio = Rule("C9", "runs", "ratio", "<=", 2.0, cells=("width",), bounds=COUNT,
                 kind="median")  # fmt: skip

    def verdict(rule, values):
        table = {"runs": [{"seed": s, "width": 64, rule.stat: v} for s, v in enumerate(values)]}
        return grade([rule], table, Cfg())[0]

    # a 0/1 outcome: 5 of 5 holds, 0 of 5 fails, 4 of 5 is undecided (Wilson)
    assert [verdict(ok, v).verdict for v in ([1] * 5, [0] * 5, [1, 1, 0, 1, 1])] == [
        "confirmed", "refuted", "open"]  # fmt: skip
    # a heavy-tailed ratio: the t-interval of the mean straddles 2 and decides nothing;
    # the median's sign-test interval fails it: every seed is above 2
    tail = [2.4, 2.5, 2.6, 149.0, 74.0]
    assert verdict(Rule(**{**ratio.__dict__, "kind": "mean"}), tail).verdict == "open"
    v = verdict(ratio, tail)
    assert v.verdict == "refuted" and v.value == 2.6 and v.interval == (2.4, 149.0)
    assert "median, sign-test interval" in v.threshold
    cells = cell_table([ratio], {"runs": [{"seed": s, "width": 64, "ratio": x}
                                          for s, x in enumerate(tail)]}, Cfg())  # fmt: skip
    assert cells[0]["statistic"] == "median"


def test_an_experiment_checks_its_rules_against_claims_and_config():
    from implicit_em.experiments.base import Experiment

    def make(rule):
        return Experiment("x", "x", ("C9",), Cfg, run=lambda c, o: {}, rules=(rule,))

    assert make(ACC).rules == (ACC,)
    with pytest.raises(TypeError, match="tests C18, not one of"):
        make(Rule("C18", "probe", "acc", ">=", "acc_min"))
    with pytest.raises(TypeError, match="'nope' is not a config field"):
        make(Rule("C9", "probe", "acc", ">=", "nope"))


def test_a_failing_premise_refutes_and_an_undecided_one_leaves_it_open():
    premise = Rule("C9", "probe", "acc", ">=", 0.5, where={"width": 64}, necessary=True,
                   bounds=UNIT)  # fmt: skip
    # the premise fails while the other cell holds: refuted, not partly
    table = {"probe": rows({64: [0.1, 0.12, 0.11], 2000: [0.97, 0.975, 0.98]})}
    (verdict,) = grade([premise, ACC], table, Cfg())
    assert verdict.verdict == "refuted" and verdict.value == pytest.approx(0.11)
    table = {"probe": rows({64: [0.2, 0.9, 0.6], 2000: [0.97, 0.975, 0.98]})}
    assert grade([premise, ACC], table, Cfg())[0].verdict == "open"
    with pytest.raises(ValueError, match="not both"):
        Rule("C9", "probe", "acc", ">=", 0.5, gate=True, necessary=True)


def test_stack_marks_rows_with_their_seed_and_keeps_constant_tables_once():
    from implicit_em.experiments.rules import stack

    published = [{"learner": "x", "accuracy": 0.9}]
    tables = stack([{"m": [{"a": 1}], "same": [{"a": 1}], "published": published},
                    {"m": [{"a": 2}], "same": [{"a": 1}], "published": published}], [3, 4],
                   fixed=("published",))  # fmt: skip
    assert tables["m"] == [{"seed": 3, "a": 1}, {"seed": 4, "a": 2}]
    assert tables["same"] == [{"seed": 3, "a": 1}, {"seed": 4, "a": 1}]  # measured: kept
    assert tables["published"] == published
    assert stack([{"m": [{"a": 1}]}], [3]) == {"m": [{"a": 1}]}


def test_goals_are_graded_like_claims():
    from implicit_em.experiments.rules import grade_goals

    goal = Rule("beat the reference", "probe", "acc", ">=", "acc_min", cells=("width",),
                bounds=UNIT)  # fmt: skip
    table = {"probe": rows({64: [0.95, 0.96, 0.955], 2000: [0.80, 0.81, 0.805],
                            8: [0.85, 0.95, 0.9]})}  # fmt: skip
    out = {r["cell"]: r["outcome"] for r in grade_goals([goal], table, Cfg())}
    assert out == {"width=64: probe.acc": "met", "width=2000: probe.acc": "missed",
                   "width=8: probe.acc": "not resolved at 3 seeds"}  # fmt: skip


def test_the_deciding_number_of_partly_is_a_failing_cell():
    table = {"probe": rows({8: [0.3, 0.7, 0.5], 64: [0.95, 0.96, 0.955],
                            2000: [0.80, 0.81, 0.805]})}  # fmt: skip
    (verdict,) = grade([ACC], table, Cfg())
    assert verdict.verdict == "partly" and verdict.value == pytest.approx(0.805)
    (verdict,) = grade([ACC], {"probe": rows({8: [0.3, 0.7, 0.5], 64: [0.95, 0.96, 0.955]})},
                       Cfg())  # fmt: skip
    assert verdict.verdict == "open" and verdict.value == pytest.approx(0.5)


def test_the_primary_test_decides_and_secondary_cells_are_only_counted():
    main = Rule("C9", "probe", "acc", ">=", "acc_min", cells=("width",), bounds=UNIT,
                primary=True)  # fmt: skip
    side = Rule("C9", "probe", "dead", "<=", "dead_max", cells=("width",), bounds=COUNT)
    table = {"probe": [{"seed": s, "width": 64, "acc": a, "dead": d}
                       for s, (a, d) in enumerate([(0.95, 5), (0.96, 6), (0.97, 5)])]}  # fmt: skip
    (v,) = grade([main, side], table, Cfg())
    # the secondary cell fails, the primary one holds: confirmed, and both are counted
    assert v.verdict == "confirmed" and v.counts == (1, 0, 0) and v.secondary == (0, 1, 0)
    assert v.primary.startswith("primary: probe.acc") and "secondary cells: 1 fail" in v.evidence
    assert v.value == pytest.approx(0.96)  # the deciding number is the primary cell's
    # the same rules with no primary declared: every cell decides
    (every,) = grade([Rule(**{**main.__dict__, "primary": False}), side], table, Cfg())
    assert every.verdict == "partly" and every.primary.startswith("every cell")
    # a failing primary test refutes, whatever the secondary cells say
    good = {"probe": [dict(r, acc=0.5, dead=0) for r in table["probe"]]}
    assert grade([main, side], good, Cfg())[0].verdict == "refuted"


def test_a_pooled_rule_is_one_cell_of_each_seeds_mean_over_its_cells():
    pooled = Rule("C9", "probe", "acc", ">=", "acc_min", pool=("width",), bounds=UNIT)
    # per seed: width 64 fails alone and width 2000 holds alone; their mean holds
    table = {"probe": rows({64: [0.86, 0.87, 0.88], 2000: [0.98, 0.99, 0.985]})}
    per_cell = grade([ACC], table, Cfg())[0]
    (v,) = grade([pooled], table, Cfg())
    assert per_cell.verdict == "partly" and v.verdict == "confirmed" and v.counts == (1, 0, 0)
    assert v.value == pytest.approx((0.86 + 0.98 + 0.87 + 0.99 + 0.88 + 0.985) / 6)
    (cell,) = cell_table([pooled], table, Cfg())
    assert cell["cell"] == "probe.acc pooled over width" and cell["seeds"] == 3
    assert "pooled over width" in pooled.describe(Cfg())
    with pytest.raises(ValueError, match="not 'seed'"):
        Rule("C9", "probe", "acc", ">=", 0.5, cells=("width",), pool=("width",))
    with pytest.raises(ValueError, match="cannot be pooled"):
        Rule("C9", "probe", "ok", ">", 0.5, pool=("width",), kind="share")
    # pooled over one column, a cell per value of another
    two = {"probe": [dict(r, data=d) for d in ("a", "b") for r in table["probe"]]}
    for r in two["probe"]:
        if r["data"] == "b":
            r["acc"] -= 0.1  # b: 0.76-0.89 per seed, its pooled mean below 0.9
    per_data = Rule("C9", "probe", "acc", ">=", "acc_min", cells=("data",), pool=("width",),
                    bounds=UNIT)  # fmt: skip
    cells = cell_table([per_data], two, Cfg())
    assert [(c["cell"], c["outcome"]) for c in cells] == [
        ("data=a: probe.acc pooled over width", "holds"),
        ("data=b: probe.acc pooled over width", "fails")]  # fmt: skip
    with pytest.raises(ValueError, match="not both"):
        Rule("C9", "probe", "acc", ">", 0.5, gate=True, primary=True)


def test_every_experiment_declares_a_primary_test_for_each_claim():
    from implicit_em.experiments.registry import EXPERIMENTS

    for exp in EXPERIMENTS.values():
        for claim in {r.claim for r in exp.rules}:
            mine = [r for r in exp.rules if r.claim == claim]
            assert any(r.primary for r in mine), f"{exp.name}: {claim} has no primary test"
