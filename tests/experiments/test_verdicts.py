"""The verdict rules that combine seeds and experiments, the typed results record, and
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
from implicit_em.experiments.verdicts import (
    combine_parts,
    combine_seeds,
    grade_below,
    interval95,
    vote,
)


def _v(verdict, value=1.0, claim="C9"):
    return Verdict(claim, verdict, value, "value < 1", f"measured {value}")


@pytest.mark.parametrize(
    ("seeds", "expected"),
    [
        (["confirmed"] * 5, "confirmed"),
        (["refuted"] * 5, "refuted"),
        (["partly"] * 3, "partly"),
        (["open"] * 2, "open"),
        (["confirmed", "confirmed", "refuted"], "partly"),  # disagreeing, one holds
        (["confirmed", "open"], "partly"),
        (["refuted", "partly"], "partly"),
        (["refuted", "open", "refuted"], "open"),  # disagreeing, none holds
    ],
)
def test_vote_gives_each_outcome(seeds, expected):
    assert vote(seeds) == expected


def test_combine_seeds_reports_agreement_interval_and_the_split():
    seeds = [0, 1, 2, 3]
    v = combine_seeds([_v("confirmed", x) for x in (1.0, 2.0, 3.0, 4.0)], seeds)
    assert v.verdict == "confirmed" and v.seeds_agree == 4 and v.seeds_total == 4
    assert v.value == pytest.approx(2.5)
    half = 3.182446305284263 * math.sqrt(5 / 3) / 2  # t_{0.975,3} * sd / sqrt(n)
    assert v.interval == pytest.approx((2.5 - half, 2.5 + half))
    assert "all 4 seeds agree" in v.evidence and "across seeds" in v.threshold
    mixed = combine_seeds([_v("confirmed"), _v("refuted", math.nan), _v("confirmed")], [5, 6, 7])
    assert mixed.verdict == "partly" and mixed.seeds_agree == 0
    assert "0/3 seeds agree (seed 5: confirmed, seed 6: refuted, seed 7: confirmed)" in (
        mixed.evidence
    )
    assert mixed.value == 1.0 and mixed.per_seed == ("confirmed", "refuted", "confirmed")
    one = combine_seeds([_v("refuted", 3.0)], [9])
    assert one.verdict == "refuted" and one.interval is None and one.seeds_total == 1
    with pytest.raises(ValueError, match="one claim"):
        combine_seeds([_v("confirmed"), _v("confirmed", claim="C1")], [0, 1])
    with pytest.raises(ValueError, match="one verdict per seed"):
        combine_seeds([_v("confirmed")], [0, 1])


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
    assert grade_below(0.5, 1.0) == "confirmed" and grade_below(1.5, 1.0, 2.0) == "partly"
    assert grade_below(3.0, 1.0, 2.0) == "refuted" and grade_below(None, 1.0) == "open"


def test_result_round_trips_through_json_and_damage_is_named(tmp_path):
    r = Result(
        experiment="x", title="X", claims=["C9"], config={"seed": 0}, seed=0, quick=True,
        wall_s=1.5, finished="now", verdicts=[combine_seeds([_v("open", math.nan)], [0])],
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
    assert list(CLAIMS) == [f"C{i}" for i in range(1, 25)]
    assert "y_j - r_j" in CLAIMS["C2"]  # the corrected distance-form gradient
    for c in REGISTRY.values():
        assert c.words and c.sources and all(s in SOURCES for s in c.sources)
        assert SOURCES[c.sources[0]][0] in c.source_label()


def test_over_seeds_and_separated():
    from implicit_em.experiments.verdicts import over_seeds, separated

    rows = [{"m": m, "acc": a} for m, accs in (("x", (0.90, 0.91, 0.92)),
            ("y", (0.80, 0.81, 0.82)), ("z", (0.85, 0.95, 0.90))) for a in accs]  # fmt: skip
    out = {r["m"]: r for r in over_seeds(rows, ("m",), ("acc",))}
    assert out["x"]["acc"] == pytest.approx(0.91) and out["x"]["seeds"] == 3
    assert out["x"]["acc_lo"] < 0.91 < out["x"]["acc_hi"]
    assert separated(out["x"], out["y"], "acc") == "above"
    assert separated(out["y"], out["x"], "acc") == "below"
    assert separated(out["x"], out["z"], "acc") == "overlap"
    one = over_seeds(rows[:1], ("m",), ("acc",))[0]
    assert one["acc_lo"] is None and separated(one, out["y"], "acc") == "overlap"
