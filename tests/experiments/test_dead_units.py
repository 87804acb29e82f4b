"""The dead-units experiment (C9) and its decision rule."""


def _c9_row(act, dead=0.0, zero64=0.0, recovered=1.0):
    return {
        "activation": act,
        "inactive_layer1_end_of_training": dead,
        "shifted_zero_derivative_float64": zero64,
        "recovered_fraction": recovered,
    }


def test_dead_units_experiment_small_run(tmp_path):
    from implicit_em.experiments import dead_units as exp

    cfg = exp.Config(
        datasets=("digits",),
        activations=("relu", "tanh"),
        optimizers=("adam",),
        hidden=16,
        epochs=1,
        recovery_epochs=1,
        monitor_every=5,
    )
    res = exp.run(cfg, tmp_path)
    runs = {r["activation"]: r for r in res["tables"]["runs"]}
    assert runs["relu"]["grad_to_shifted_vs_others"] == 0.0
    assert runs["relu"]["shifted_inactive_after_shift"] == 1.0
    assert runs["relu"]["shifted_zero_derivative_float64"] == 1.0
    assert runs["tanh"]["grad_to_shifted_vs_others"] > 0.0
    assert runs["tanh"]["shifted_zero_derivative_float64"] == 0.0
    zero = {g["activation"]: g["zero"] for g in res["tables"]["zero_derivative_grid"]}
    assert zero == {"relu": "analytic", "tanh": "underflow"}
    c9 = {r["activation"]: r for r in res["tables"]["c9"]}
    assert c9["relu"]["analytic_zero"] == 1.0 and c9["tanh"]["analytic_zero"] == 0.0
    assert "verdicts" not in res


def test_zero_derivative_grid_tells_underflow_from_analytic_zero():
    from implicit_em.experiments import dead_units as exp

    grid = {g["activation"]: g for g in exp.zero_derivative_grid(exp.Config().activations)}
    assert grid["relu"]["zero"] == grid["laplace"]["zero"] == "analytic"
    assert grid["tanh"] == {
        "activation": "tanh",
        "first_zero_float32": -10.0,
        "first_zero_float64": -20.0,
        "zero": "underflow",
    }
    # float32 sigmoid(-90) is 8e-40, a subnormal: torch's 1 / (1 + exp(90)) gives 0 (exp
    # overflows), a kernel that keeps the subnormal gives a derivative of -7e-38 there and
    # its first zero at -110. Either way the zero is an underflow, far before float64's.
    silu = grid["gate_silu"]
    assert silu["first_zero_float32"] in (-90.0, -110.0) and silu["zero"] == "underflow"
    assert silu["first_zero_float64"] == -800.0  # exp(-800) is 0 even in float64
    assert grid["solu"]["zero"] == grid["grouped_solu"]["zero"] == "underflow"


def _c9(rows, kinds, claim="C9"):
    from implicit_em.experiments import dead_units as exp
    from implicit_em.experiments.rules import grade, stack

    tables = stack([{"c9": exp.c9_table(rows, kinds)}] * 5, [0, 1, 2, 3, 4])
    verdict = {v.claim: v for v in grade(exp.RULES, tables, exp.Config())}[claim]
    return verdict.verdict, verdict.evidence


def test_c9_rule_gives_each_outcome():
    kinds = {"relu": "analytic", "tanh": "underflow", "laplace": "analytic"}
    relu_dead = _c9_row("relu", dead=0.1, zero64=1.0, recovered=0.0)
    tanh_ok = _c9_row("tanh")
    # every part holds: ReLU alone dies, stays dead when forced off, tanh recovers
    assert _c9([relu_dead, tanh_ok], kinds)[0] == "confirmed"
    # the primary test is recovery (forced-off ReLU units stay off, soft ones come back);
    # a soft unit that also dies in ordinary training (SoLU starving) is a secondary cell
    verdict, evidence = _c9([relu_dead, _c9_row("tanh", dead=0.3)], kinds)
    assert verdict == "confirmed" and "c9.max_inactive_end 0.3 [0.3, 0.3] <= 0: fails" in evidence
    assert "secondary cells: 4 hold, 1 fail" in evidence
    # ReLU never dies in ordinary training: secondary too
    assert _c9([_c9_row("relu", zero64=1.0, recovered=0.0), tanh_ok], kinds)[0] == "confirmed"
    # a forced-off ReLU that comes back: partly
    come_back = _c9_row("relu", dead=0.1, zero64=1.0, recovered=0.2)
    assert _c9([come_back, tanh_ok], kinds)[0] == "partly"
    # a soft unit that does not come back either: partly
    assert _c9([relu_dead, tanh_ok, _c9_row("laplace", recovered=0.0)], kinds)[0] == "partly"
    # nothing the claim says holds: refuted
    bad = [_c9_row("relu", zero64=0.5, recovered=0.3),
           _c9_row("tanh", dead=0.2, recovered=0.1)]  # fmt: skip
    assert _c9(bad, {"relu": "underflow", "tanh": "analytic"})[0] == "refuted"


def test_c28_recovery_rule_gives_each_outcome():
    kinds = {"relu": "analytic", "solu": "underflow", "grouped_solu": "underflow"}
    relu_stuck = _c9_row("relu", dead=0.1, zero64=1.0, recovered=0.0)
    competitive = [_c9_row("solu"), _c9_row("grouped_solu")]
    assert _c9([relu_stuck, *competitive], kinds, "C28")[0] == "confirmed"
    stuck_too = [_c9_row("solu", recovered=0.0), _c9_row("grouped_solu", recovered=0.1)]
    assert _c9([relu_stuck, *stuck_too], kinds, "C28")[0] == "partly"
    relu_back = _c9_row("relu", dead=0.1, zero64=1.0, recovered=0.8)
    assert _c9([relu_back, *stuck_too], kinds, "C28")[0] == "refuted"
