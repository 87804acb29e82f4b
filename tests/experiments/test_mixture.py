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
    v, c24 = res["verdicts"]
    assert v.claim == "C4" and v.value < 1e-12 and v.verdict in ("confirmed", "partly")
    assert c24.claim == "C24" and len(res["tables"]["hard_vs_soft"]) == 4
    traces = [dict(r) for r in res["tables"]["traces"]]
    for r in traces:  # a gradient fit that ends on EM's value confirms the claim
        if r["solver"] == "gradient":
            r["heldout_loglik"] = solvers["em"]["final_heldout_loglik"]
    assert exp.summarise(traces, 1e-15, cfg)["verdicts"][0].verdict == "confirmed"
    assert exp.summarise(traces, 1e-3, cfg)["verdicts"][0].verdict == "refuted"
    assert res["metrics"]["preconditioned_max_relative_gap"] < 1e-9  # retraces EM
    for r in traces:  # preconditioned steps that leave EM's path: the full form fails
        if r["solver"] == "preconditioned":
            r["heldout_loglik"] *= 1.01
    assert exp.summarise(traces, 1e-15, cfg)["verdicts"][0].verdict == "partly"


def test_decide_identity_gives_each_outcome():
    from implicit_em.experiments.identities import decide_identity

    assert decide_identity(1e-15, 1.0, 1e-12, 1e-6) == "confirmed"
    assert decide_identity(1e-8, 1.0, 1e-12, 1e-6) == "partly"
    assert decide_identity(1e-3, 1.0, 1e-12, 1e-6) == "refuted"
    assert decide_identity(1e-15, 1e-12, 1e-12, 1e-6) == "open"  # the control went unseen
    assert decide_identity(float("nan"), 1.0, 1e-12, 1e-6) == "open"


def test_decide_c4_gives_each_outcome():
    from implicit_em.experiments.mixture import decide_c4

    # identity exact, EM path retraced, same fixed point, as fast as EM
    assert decide_c4(1e-15, 1e-12, 1e-5, 3, 5, 1e-3) == (
        "confirmed",
        {"mechanism": "confirmed", "speed": "confirmed"},
    )
    # same mechanism, but plain gradient ascent needs many more passes: partly
    assert decide_c4(1e-15, 1e-12, 1e-5, 3, 40, 1e-3)[1]["speed"] == "partly"
    assert decide_c4(1e-15, 1e-12, 1e-5, 3, 40, 1e-3)[0] == "partly"
    # never reaching EM's level within the budget: speed refuted, mechanism partly
    verdict, parts = decide_c4(1e-15, 1e-12, 0.1, 3, None, 1e-3)
    assert parts == {"mechanism": "partly", "speed": "refuted"} and verdict == "partly"
    # the step identity fails: refuted whatever the speed
    assert decide_c4(1e-3, 1e-12, 1e-5, 3, 3, 1e-3)[0] == "refuted"
    # preconditioned steps that leave EM's path make the mechanism partly
    assert decide_c4(1e-15, 1e-4, 1e-5, 3, 3, 1e-3)[1]["mechanism"] == "partly"


def test_c24_rule_gives_each_outcome():
    from implicit_em.experiments.mixture import decide_c24

    def rows(hard_unc, hard_back, soft_unc, soft_back, held=(-3.0, -3.0)):
        out = []
        for s, empty in (("one_far", 1), ("two_on_one", 0)):
            for em, unc, back, ll in (("hard", hard_unc, hard_back, held[0]),
                                      ("soft", soft_unc, soft_back, held[1])):  # fmt: skip
                out.append({"scenario": s, "em": em, "uncovered_clusters": unc,
                            "empty_at_start": empty, "came_back": min(back, empty),
                            "heldout_loglik": ll})  # fmt: skip
        return out

    assert decide_c24(rows(1, 0, 0, 1)).verdict == "confirmed"
    assert decide_c24(rows(2, 0, 2, 1)).verdict == "partly"  # soft revives, still uncovered
    assert decide_c24(rows(2, 0, 2, 0, held=(-3.0, -2.9))).verdict == "partly"  # ends better
    assert decide_c24(rows(2, 0, 2, 0)).verdict == "refuted"  # soft stuck the same way
    assert decide_c24(rows(0, 1, 0, 1)).verdict == "refuted"  # hard never stuck


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
