"""The collapse experiment (C11, C12): pressure tests and the rules."""

import math

import pytest


def _collapse_rows(**modes_of):
    """Rows for every variant x pressure: ``modes_of[variant] = (fresh modes, back)``."""
    from implicit_em.experiments.collapse import PRESSURES, VARIANTS

    rows = []
    for v, (family, _) in VARIANTS.items():
        fresh, back = modes_of.get(v, ((), True))
        for p in PRESSURES:
            rows.append(
                {
                    "variant": v,
                    "family": family,
                    "pressure": p,
                    "winner_take_all": p == "none" and "wta" in fresh,
                    "scale_blowup": p == "none" and "blowup" in fresh,
                    "starved_units": 2.0 if p == "none" and "starved" in fresh else 0.0,
                    "dead_units": 1.0 if p == "none" and "dead" in fresh else 0.0,
                    "unit0_back": None if p == "none" else back,
                }
            )
    return rows


def test_collapse_experiment_small_run_and_pressure_tests(tmp_path):
    from implicit_em.experiments import collapse as exp

    cfg = exp.Config(epochs=2, monitor_every=5)
    res = exp.run(cfg, tmp_path)
    assert {r["optimizer"] for r in res["tables"]["variants"]} == {"adam", "sgd"}
    assert {r["optimizer"] for r in res["tables"]["claims"]} == {"adam", "sgd"}
    rows = exp._by([r for r in res["tables"]["variants"] if r["optimizer"] == "adam"])
    assert {v for v, _ in rows} == set(exp.VARIANTS)
    assert {p for _, p in rows} == set(exp.PRESSURES)
    assert rows[("lse", "none")]["weight_norm_growth"] > 1.0  # the unbounded LSE loss
    # covariance objectives ignore the bias: a unit made dominant by its bias stays so
    assert rows[("infomax_gaussian", "dominant")]["unit0_back"] is False
    assert {r["variant"] for r in res["tables"]["claims"]} == set(exp.VARIANTS)
    # C12 judges InfoMax alone: a variant with an added regulariser does not count
    assert rows[("decorrelation+variance_hinge", "none")]["family"] == "infomax+regulariser"
    assert res["metrics"]["logdet_drop_weights_x10"] == pytest.approx(
        2 * cfg.units * math.log(10), rel=1e-6
    )


def test_apply_pressure_collapses_unit_0():
    import torch

    from implicit_em.experiments.collapse import apply_pressure

    torch.manual_seed(0)
    x = torch.randn(50, 4)
    layer = torch.nn.Linear(4, 3)
    apply_pressure(layer, x, "dominant")
    assert (layer(x).argmin(1) == 0).all()  # the smallest distance everywhere: it wins
    w = layer.weight[1].clone()
    apply_pressure(layer, x, "null")
    assert layer.weight[0].abs().max() < 1e-2 and torch.equal(layer.weight[1], w)
    with pytest.raises(ValueError, match="unknown pressure"):
        apply_pressure(layer, x, "squeeze")


def _claims(rows, sgd=None):
    """Both optimisers' claim tables: SGD's from ``sgd`` rows (default: Adam's)."""
    from implicit_em.experiments import collapse as exp

    return [dict(c, optimizer=o) for o, r in (("adam", rows), ("sgd", sgd or rows))
            for c in exp.claim_table(r)]  # fmt: skip


def _graded(rows, sgd=None):
    from implicit_em.experiments import collapse as exp
    from implicit_em.experiments.rules import grade, stack

    tables = stack([{"claims": _claims(rows, sgd)}] * 5, [0, 1, 2, 3, 4])
    return {v.claim: v.verdict for v in grade(exp.RULES, tables, exp.Config())}


def test_c11_and_c12_rules_give_each_outcome():
    collapsing = {"lse": (("wta",), False)}
    # LSE alone: one unit wins; every volume control holds up: confirmed; every InfoMax too
    assert _graded(_collapse_rows(**collapsing)) == {"C11": "confirmed", "C12": "confirmed"}
    # a unit made to win keeps winning under LSE alone: also the notes' collapse
    assert _graded(_collapse_rows(lse=((), False)))["C11"] == "confirmed"
    # LSE alone only grows its weights (the notes' "by growing weights unboundedly"), or
    # only starves some units: one unit dominates all the same, the premise holds
    assert _graded(_collapse_rows(lse=(("blowup",), True)))["C11"] == "confirmed"
    assert _graded(_collapse_rows(lse=(("starved",), True)))["C11"] == "confirmed"
    # LSE alone shows no collapse mode and a unit made to win comes back: refuted
    assert _graded(_collapse_rows())["C11"] == "refuted"
    # the primary test is every volume control preventing collapse from a fresh start:
    # none does (one mode each): refuted, though LSE alone collapses; one does not: partly
    volume = ("lse+logdet(WW^T)", "lse+variance_hinge", "lse+balance_entropy")
    stuck = dict.fromkeys(volume, (("blowup",), True))
    assert _graded(_collapse_rows(**collapsing, **stuck))["C11"] == "refuted"
    one = {volume[0]: (("blowup",), True)}
    assert _graded(_collapse_rows(**collapsing, **one))["C11"] == "partly"
    # a volume control that prevents collapse but does not repair a pushed unit: the
    # repair is secondary
    assert _graded(_collapse_rows(**collapsing, **{volume[0]: ((), False)}))["C11"] == "confirmed"
    infomax = ("infomax_gaussian", "infomax_correlation", "infomax_log_variance")
    # one InfoMax objective collapses from a fresh start: partly; all do: refuted
    assert _graded(_collapse_rows(infomax_gaussian=(("wta",), True)))["C12"] == "partly"
    assert _graded(_collapse_rows(**dict.fromkeys(infomax, (("dead",), True))))["C12"] == "refuted"
    # prevention and repair graded apart: an objective that prevents but cannot repair
    from implicit_em.experiments import collapse as exp
    from implicit_em.experiments.rules import grade, stack

    rows = _collapse_rows(**dict.fromkeys(infomax, ((), False)))
    tables = stack([{"claims": _claims(rows)}] * 5, [0, 1, 2, 3, 4])
    (c12,) = [v for v in grade(exp.RULES, tables, exp.Config()) if v.claim == "C12"]
    assert c12.verdict == "confirmed" and c12.counts == (6, 0, 0) and c12.secondary == (0, 6, 0)
    # every cell is one optimiser's: InfoMax prevents collapse under Adam, not under SGD
    blown = _collapse_rows(**dict.fromkeys(infomax, (("blowup",), True)))
    assert _graded(_collapse_rows(), sgd=blown)["C12"] == "partly"
    # LSE alone collapses under Adam only: the premise fails under SGD, so C11 cannot hold
    assert _graded(_collapse_rows(**collapsing), sgd=_collapse_rows())["C11"] == "refuted"
    # the regularised variant does not count for C12 either way
    assert (
        _graded(_collapse_rows(**{"decorrelation+variance_hinge": (("wta",), False)}))["C12"]
        == "confirmed"
    )
