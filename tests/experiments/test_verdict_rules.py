"""The docs' description of how verdicts are decided (docs/verdicts.md), line by line,
against the grader's behaviour on constructed cases: the description stays true."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from implicit_em.experiments.rules import UNIT, Rule, grade
from implicit_em.experiments.verdicts import combine_parts, interval95, interval_of

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "verdicts.md").read_text()


@dataclass
class Cfg:
    seed: int = 0
    limit: float = 0.5


RULE = Rule("C9", "t", "x", ">=", "limit", cells=("cell",), bounds=UNIT)


def verdict(cells: dict, rules=(RULE,), stochastic=True) -> str:
    rows = [{"seed": s, "cell": c, "x": v} for c, vals in cells.items()
            for s, v in enumerate(vals)]  # fmt: skip
    return grade(list(rules), {"t": rows}, Cfg(), stochastic)[0].verdict


def intervals_by_kind():
    mean, (lo, hi) = interval95([0.98, 1.0, 0.99], UNIT)
    share = Rule("C9", "t", "x", ">", 0.5, cells=("cell",), bounds=UNIT, kind="share")
    ratio = Rule("C9", "t", "x", "<", 2.0, cells=("cell",), kind="median")
    (_, wilson), (median, sign) = interval_of([1] * 5, kind="share"), interval_of(
        [1.0, 1.1, 1.2, 1.3, 90.0], kind="median")  # fmt: skip
    return (mean == pytest.approx(0.99) and hi == 1.0 and lo < 0.98
            and 0.5 < wilson[0] < 0.6 and wilson[1] == 1.0 and median == 1.2
            and sign == (1.0, 90.0)
            and verdict({"a": [1] * 5}, rules=(share,)) == "confirmed"
            and verdict({"a": [1, 1, 1, 1]}, rules=(share,)) == "confirmed"
            and verdict({"a": [1, 1, 1]}, rules=(share,)) == "open"
            and verdict({"a": [1.0, 1.1, 1.2, 1.3, 1.9]}, rules=(ratio,))
            == "confirmed")  # fmt: skip


def holds_fails_undecided():
    return (verdict({"a": [0.9, 0.91, 0.92]}) == "confirmed"
            and verdict({"a": [0.1, 0.11, 0.12]}) == "refuted"
            and verdict({"a": [0.3, 0.7, 0.5]}) == "open")  # fmt: skip


def one_seed_decides_nothing():
    return (verdict({"a": [0.9]}) == "open"
            and verdict({"a": [0.9]}, stochastic=False) == "confirmed")  # fmt: skip


def every_some_otherwise():
    high, low, mid = [0.9, 0.91, 0.92], [0.1, 0.11, 0.12], [0.3, 0.7, 0.5]
    return (verdict({"a": high, "b": high}) == "confirmed"
            and verdict({"a": low, "b": low}) == "refuted"
            and verdict({"a": low, "b": mid}) == "refuted"  # undecided never hides a failure
            and verdict({"a": high, "b": low}) == "partly"
            and verdict({"a": high, "b": mid}) == "open"
            and verdict({"a": mid}) == "open"
            and primary_decides())  # fmt: skip


def primary_decides():
    main = Rule("C9", "t", "x", ">=", "limit", where={"cell": "a"}, primary=True)
    side = Rule("C9", "t", "x", ">=", "limit", where={"cell": "b"})
    pooled = Rule("C9", "t", "x", ">=", "limit", pool=("cell",), primary=True)
    high, low = [0.9, 0.91, 0.92], [0.3, 0.31, 0.32]
    return (verdict({"a": high, "b": low}, rules=(main, side)) == "confirmed"
            and verdict({"a": low, "b": high}, rules=(main, side)) == "refuted"
            # pooled: per seed (0.9 + 0.3) / 2 = 0.6 >= 0.5, one cell that holds
            and verdict({"a": high, "b": low}, rules=(pooled,)) == "confirmed")  # fmt: skip


def counts_and_the_deciding_cell():
    near, far = [0.40, 0.41, 0.42], [0.10, 0.11, 0.12]
    rows = [{"seed": s, "cell": c, "x": v} for c, vals in (("a", near), ("b", far))
            for s, v in enumerate(vals)]  # fmt: skip
    (v,) = grade([RULE], {"t": rows}, Cfg())
    main = Rule("C9", "t", "x", ">=", "limit", where={"cell": "a"}, primary=True)
    side = Rule("C9", "t", "x", ">=", "limit", where={"cell": "b"})
    (w,) = grade([main, side], {"t": rows}, Cfg())
    return (v.counts == (0, 2, 0) and v.value == pytest.approx(0.11)
            and w.counts == (0, 1, 0) and w.secondary == (0, 1, 0)
            and w.value == pytest.approx(0.41))  # fmt: skip


def controls_and_premises():
    high, low = [0.9, 0.91, 0.92], [0.1, 0.11, 0.12]
    gate = Rule("C9", "t", "x", ">=", "limit", where={"cell": "ctl"}, gate=True)
    premise = Rule("C9", "t", "x", ">=", "limit", where={"cell": "p"}, necessary=True)
    rest = Rule("C9", "t", "x", ">=", "limit", where={"cell": "a"})
    return (verdict({"ctl": low, "a": high}, rules=(gate, rest)) == "open"
            and verdict({"p": low, "a": high}, rules=(premise, rest)) == "refuted")  # fmt: skip


def seeds_alone_are_evidence():
    rows = [{"seed": s, "cell": "a", "x": v} for s, v in enumerate([0.3, 0.7, 0.5])]
    (v,) = grade([RULE], {"t": rows}, Cfg())
    return v.verdict == "open" and v.per_seed == ("refuted", "confirmed", "confirmed")


def several_experiments():
    return (combine_parts(["confirmed", "open"]) == "confirmed"
            and combine_parts(["confirmed", "refuted"]) == "partly"
            and combine_parts(["open", "open"]) == "open")  # fmt: skip


def quick_runs_compare_with_the_full_run():
    from implicit_em.experiments.rules import indicative, margins

    # two thresholds on one cell: the nearer one (0.4 away) is its margin
    full = margins([{"claim": "C9", "cell": "a", "mean": 0.9, "limit": 0.5},
                    {"claim": "C9", "cell": "a", "mean": 0.9, "limit": 0.2}])  # fmt: skip
    narrow = {"claim": "C9", "cell": "a", "lo": 0.8, "hi": 1.0}
    wide = {"claim": "C9", "cell": "a", "lo": 0.3, "hi": 1.0}
    unknown = {"claim": "C7", "cell": "b", "lo": 0.8, "hi": 0.9}
    few = {"claim": "C8", "cell": "c", "lo": None, "hi": None, "seeds": 2}  # a median of 2
    one = {"claim": "C6", "cell": "d", "lo": None, "hi": None, "seeds": 1}  # deterministic
    return (indicative([narrow], full) == set() and indicative([wide], full) == {"C9"}
            and indicative([unknown], full) == {"C7"} and indicative([few], full) == {"C8"}
            and indicative([one], full) == set())  # fmt: skip


def calibrated_on_ungraded_seeds():
    """Each calibrated threshold is a field of its experiment's config whose comment names
    the calibration seeds and run; calibration and graded seeds are apart."""
    import inspect

    from implicit_em.experiments.calibration import CALIBRATION_SEEDS, CALIBRATIONS, GRADED_SEEDS
    from implicit_em.experiments.registry import EXPERIMENTS

    assert tuple(range(100, 105)) == CALIBRATION_SEEDS and not set(CALIBRATION_SEEDS) & set(
        GRADED_SEEDS
    )
    for c in CALIBRATIONS:
        lines = inspect.getsource(EXPERIMENTS[c.experiment].config).splitlines()
        (at,) = [i for i, line in enumerate(lines) if line.strip().startswith(f"{c.field}:")]
        while lines[at - 1].strip() and not lines[at - 1].strip().startswith("#"):  # its group
            at -= 1
        comment = []
        for line in reversed(lines[:at]):
            if not line.strip().startswith("#"):
                break
            comment.insert(0, line)
        text = " ".join(comment)
        assert "100-104" in text and "runs/calibration" in text, (c.experiment, c.field)
    return True


LINES = {
    "each cell's statistic gets a 95 % interval over the seeds, of the kind its rule declares: "
    "a mean's Student-t interval, a 0/1 outcome's Wilson interval of its share of seeds "
    "(tested against one half, which all of four or more seeds show), a ratio's or "
    "heavy-tailed gap's sign-test "
    "interval of its median; each clipped to the statistic's range": intervals_by_kind,
    "a cell **holds** when its whole interval passes the threshold, **fails** when its whole "
    "interval fails, and is **undecided** otherwise": holds_fails_undecided,
    "one seed of a stochastic experiment decides nothing; a deterministic experiment's single "
    "value is graded as it is": one_seed_decides_nothing,
    "each claim's primary test, declared with its rules before the run (some rules' cells, or "
    "a statistic averaged over some columns in each seed), decides it: every cell holds: "
    "**confirmed**; some hold and some fail: **partly**; none holds and some fail: "
    "**refuted**; otherwise: **open**; its other cells are secondary: graded and counted, "
    "never deciding": every_some_otherwise,
    "a control that does not hold leaves the claim **open**; a premise that fails **refutes** "
    "it": controls_and_premises,
    "the verdict shows how many of its primary cells hold, fail and are undecided (and the "
    "secondary ones'), and its deciding cell: for **refuted** or **partly**, the primary "
    "cell farthest past its threshold": (counts_and_the_deciding_cell),
    'each seed graded alone is shown as evidence ("seeds alone"), never voted on': (
        seeds_alone_are_evidence
    ),
    "a claim measured by several experiments: open parts are set aside, agreeing parts give "
    "their verdict, disagreeing parts give **partly**": several_experiments,
    'a threshold in units of seed-to-seed noise ("keeps the accuracy": at most twice the '
    "reference's SD below it) is calibrated on seeds 100–104, which are never graded "
    "(`python -m implicit_em.experiments.calibration RUN`), and its config comment names the "
    "run": calibrated_on_ungraded_seeds,
    "a quick run marks a claim **indicative** when one of its intervals is wider than that "
    "cell's distance from its threshold in the last full run (or the full run lacks the "
    "cell, or its seeds are too few for an interval)": quick_runs_compare_with_the_full_run,
}


@pytest.mark.parametrize("line", list(LINES))
def test_each_line_is_what_the_grader_does(line):
    assert f"- {line};" in PAGE or f"- {line}." in PAGE, "the line in docs/verdicts.md changed"
    assert LINES[line]()


def test_the_page_describes_nothing_else():
    block = PAGE.split("decides every claim the same way:\n")[1].split("\n\n")[0]
    bullets = [b[2:].rstrip(";.") for b in block.splitlines() if b.startswith("- ")]
    assert bullets == list(LINES)
