"""The mixture experiment (C4, C24, the Xu-Jordan identity) and its decision rules."""

import pytest


def test_mixture_experiment_small_run_and_verdict_rule(tmp_path):
    from implicit_em.experiments import mixture as exp

    cfg = exp.Config(
        identity_trials=3, n_2d=200, n_samples=600, n_features=4, n_components=3, iterations=4
    )
    res = exp.run(cfg, tmp_path)
    solvers = {r["solver"]: r for r in res["tables"]["solvers"]}
    # our EM and scikit-learn's take identical steps from the same initialisation
    assert solvers["em"]["final_heldout_loglik"] == pytest.approx(
        solvers["sklearn"]["final_heldout_loglik"], rel=1e-10
    )
    (c4,) = res["tables"]["c4"]
    assert c4["identity_error"] < 1e-12 and c4["preconditioned_gap"] < 1e-9  # retraces EM
    assert len(res["tables"]["hard_vs_soft"]) == 4 and len(res["tables"]["c24"]) == 2
    assert "verdicts" not in res


def _graded(tables, claim):
    from implicit_em.experiments import mixture as exp
    from implicit_em.experiments.rules import grade, stack

    rules = [r for r in exp.RULES if r.claim == claim]
    return grade(rules, stack([tables] * 5, [0, 1, 2, 3, 4]), exp.Config())[0].verdict


@pytest.mark.parametrize(
    ("identity", "retrace", "expected"),
    [
        (1e-15, 1e-12, "confirmed"),  # exact, and the preconditioned fit retraces EM
        (1e-15, 1e-4, "partly"),  # preconditioned steps leave EM's path
        (1e-3, 1e-12, "refuted"),  # the step identity fails: whatever else
    ],
)
def test_c4_rule_gives_each_outcome(identity, retrace, expected):
    row = {"identity_error": identity, "preconditioned_gap": retrace, "gradient_gap": 0.5,
           "iterations_over_em": None}  # plain gradient ascent decides nothing  # fmt: skip
    assert _graded({"c4": [row]}, "C4") == expected
    # plain gradient ascent is graded, as a secondary cell: it fails here, and counts
    from implicit_em.experiments import mixture as exp
    from implicit_em.experiments.rules import grade, stack

    (v,) = grade([r for r in exp.RULES if r.claim == "C4"], stack([{"c4": [row]}] * 5,
                 list(range(5))), exp.Config())  # fmt: skip
    assert v.secondary == (0, 1, 0) and "gradient_gap" in v.evidence


def test_c4_is_open_while_the_retrace_is_undecided():
    from implicit_em.experiments import mixture as exp
    from implicit_em.experiments.rules import grade, stack

    rows = [{"identity_error": 1e-15, "preconditioned_gap": g, "gradient_gap": 0.02}
            for g in (1e-12, 1e-6, 1e-12)]  # fmt: skip
    tables = stack([{"c4": [r]} for r in rows], [0, 1, 2])
    assert (
        grade([r for r in exp.RULES if r.claim == "C4"], tables, exp.Config())[0].verdict == "open"
    )


def test_c24_rule_gives_each_outcome():
    from implicit_em.experiments.mixture import c24_table

    def verdict(hard_unc, hard_back, soft_unc, soft_back):
        out = []
        for s, empty in (("one_far", 1), ("two_on_one", 0)):
            for em, unc, back in (("hard", hard_unc, hard_back), ("soft", soft_unc, soft_back)):
                out.append({"scenario": s, "em": em, "uncovered_clusters": unc,
                            "empty_at_start": empty, "came_back": min(back, empty),
                            "heldout_loglik": -3.0})  # fmt: skip
        return _graded({"c24": c24_table(out)}, "C24")

    assert verdict(1, 0, 0, 1) == "confirmed"
    # the primary test is the revision itself: soft EM revives the switched-off
    # component and hard EM does not, even where both leave clusters uncovered (secondary)
    assert verdict(2, 0, 2, 1) == "confirmed"
    assert verdict(2, 0, 2, 0) == "partly"  # soft EM does not revise either
    assert verdict(1, 1, 0, 1) == "partly"  # hard EM revises too
    assert verdict(2, 1, 2, 0) == "refuted"  # the other way round
    assert verdict(0, 1, 0, 1) == "open"  # hard never stuck: the starts test nothing


def test_hard_em_never_moves_an_empty_component_and_soft_em_does():
    import numpy as np

    from implicit_em.experiments.mixture import CENTRES, _scenario, classification_em

    rng = np.random.default_rng(0)
    X = np.vstack([c + 0.5 * rng.standard_normal((100, 2)) for c in CENTRES])
    start = _scenario("one_far", X, rng)
    hard = classification_em(X, *start, hard=True, iters=10)
    soft = classification_em(X, *start, hard=False, iters=10)
    assert np.array_equal(hard[0][2], start[0][2]) and hard[2][2] == 0.0
    assert np.linalg.norm(soft[0][2] - start[0][2]) > 10 and soft[2][2] > 0
