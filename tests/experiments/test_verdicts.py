"""Intervals over seeds, the rule that combines experiments, the typed results record, and
the claims registry."""

import math

import pytest

from implicit_em.claims import CLAIMS, REGISTRY, SOURCES
from implicit_em.experiments.results import (
    SCHEMA,
    DamagedFileError,
    Figure,
    Result,
    Verdict,
    read_results,
    write_results,
)
from implicit_em.experiments.verdicts import COUNT, UNIT, combine_parts, interval95


def _v(verdict, value=1.0, claim="C9"):
    return Verdict(claim, verdict, value, "value < 1", f"measured {value}")


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (["confirmed"], "confirmed"),
        (["confirmed", "confirmed"], "confirmed"),
        (["confirmed", "refuted"], "partly"),
        (["partly", "confirmed"], "partly"),
        (["refuted", "refuted"], "refuted"),
        (["open", "refuted"], "refuted"),  # an undecided part is set aside
        (["open", "open"], "open"),
    ],
)
def test_combine_parts_gives_each_outcome(parts, expected):
    assert combine_parts(parts) == expected


def test_interval_and_grading_edges():
    assert interval95([]) == (None, None)
    assert interval95([2.0, math.nan]) == (2.0, None)
    mean, (lo, hi) = interval95([1.0, 1.0, 1.0])
    assert mean == lo == hi == 1.0
    # the t-interval clipped to the quantity's range, never outside it
    _, (lo, hi) = interval95([0.999, 1.0, 0.99], UNIT)
    assert hi == 1.0 and 0.0 <= lo < 0.99
    _, (lo, hi) = interval95([0.0, 0.0, 3.0], COUNT)
    assert lo == 0.0 and hi > 3.0


def test_result_round_trips_through_json_and_damage_is_named(tmp_path):
    r = Result(
        experiment="x", title="X", claims=["C9"], config={"seed": 0}, seed=0, quick=True,
        wall_s=1.5, finished="now", verdicts=[_v("open", math.nan)],
        figures=[Figure("a.png", "cap")], seeds=[0], data="digits",
    )  # fmt: skip
    path = tmp_path / "results.json"
    write_results(path, r)
    back = read_results(path)
    assert back.schema == SCHEMA and back.figures == [Figure("a.png", "cap")]
    assert back.verdicts[0].verdict == "open" and math.isnan(back.verdicts[0].value)
    assert back.data == "digits" and back.seeds == [0]
    path.write_text(path.read_text().replace('"schema": 1', '"schema": 99'))
    with pytest.raises(DamagedFileError, match="schema 99"):
        read_results(path)


def test_claims_registry_mirrors_the_claims_list():
    assert list(CLAIMS) == [f"C{i}" for i in range(1, 36)]
    assert "y_j - r_j" in CLAIMS["C2"]  # the corrected distance-form gradient
    for c in REGISTRY.values():
        assert c.words and c.sources and all(s in SOURCES for s in c.sources)
        assert SOURCES[c.sources[0]] in c.source_label() and "arXiv:2512.24780" in (
            c.source_label()
        )
        assert ".txt" not in c.source_label()


def test_over_seeds():
    from implicit_em.experiments.verdicts import over_seeds

    rows = [{"m": m, "acc": a} for m, accs in (("x", (0.90, 0.91, 0.92)),
            ("y", (0.80, 0.81, 0.82)), ("z", (0.85, 0.95, 0.90))) for a in accs]  # fmt: skip
    out = {r["m"]: r for r in over_seeds(rows, ("m",), {"acc": UNIT})}
    assert out["x"]["acc"] == pytest.approx(0.91) and out["x"]["seeds"] == 3
    assert out["x"]["acc_lo"] < 0.91 < out["x"]["acc_hi"]
    assert out["z"]["acc_lo"] < out["x"]["acc_lo"] and out["y"]["acc_hi"] < out["x"]["acc_lo"]
    one = over_seeds(rows[:1], ("m",), {"acc": UNIT})[0]
    assert one["acc_lo"] is None and one["acc"] == 0.90


def test_share_interval_is_wilson_and_never_zero_width():
    from implicit_em.experiments.verdicts import interval_of

    # Wilson's score interval, against its closed form at 4 of 5 (z = 1.96)
    z, n, p = 1.959963984540054, 5, 0.8
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    share, (lo, hi) = interval_of([1, 1, 0, 1, 1], kind="share")
    assert share == pytest.approx(0.8)
    assert (lo, hi) == pytest.approx((centre - half, centre + half))
    # 5 of 5 passes 0.5 and 0 of 5 fails it; 5 of 5 is never an interval of width zero
    assert interval_of([1] * 5, kind="share")[1][0] > 0.5
    assert interval_of([0] * 5, kind="share")[1][1] < 0.5
    assert interval_of([1, 1, 1], kind="share")[1][0] < 0.5  # three seeds cannot show it
    assert interval_of([1], kind="share") == (1.0, None)
    with pytest.raises(ValueError, match="0 or 1"):
        interval_of([0.5, 1.0], kind="share")


def test_median_interval_is_the_sign_tests():
    from scipy.stats import binom

    from implicit_em.experiments.verdicts import interval_of

    # heavy tails do not widen it: C14's per-seed ratios
    assert interval_of([1.6, 1.6, 2.1, 149.0, 74.0], kind="median") == (2.1, (1.6, 149.0))
    assert interval_of([3.0, 1.0, 2.0, 4.0], kind="median") == (2.5, None)  # too few seeds
    # at 20 values the order statistics 6 and 15 cover the median with at least 95 %,
    # and 7 and 14 do not
    xs = [float(i) for i in range(20)]
    assert interval_of(xs, kind="median")[1] == (5.0, 14.0)
    assert 1 - 2 * binom.cdf(5, 20, 0.5) >= 0.95 > 1 - 2 * binom.cdf(6, 20, 0.5)
    assert interval_of([-3.0, -2.0, -1.0, 0.0, 5.0], bounds=COUNT, kind="median") == (
        -1.0, (0.0, 5.0))  # clipped to the range  # fmt: skip
    with pytest.raises(ValueError, match="kind must be one of"):
        interval_of([1.0], kind="mode")
