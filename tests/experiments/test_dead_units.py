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
    (v,) = res["verdicts"]
    assert v.claim == "C9" and v.verdict in ("partly", "refuted")
    assert set(res["metrics"]["parts"]) == {"die", "relu_stuck", "soft_recover"}


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
    assert grid["gate_silu"]["first_zero_float32"] == -90.0  # sigmoid(-90) ~ 8e-40 subnormal
    assert grid["solu"]["zero"] == grid["grouped_solu"]["zero"] == "underflow"


def test_decide_c9_gives_each_outcome():
    from implicit_em.experiments.dead_units import decide_c9

    kinds = {"relu": "analytic", "tanh": "underflow", "laplace": "analytic"}
    relu_dead = _c9_row("relu", dead=0.1, zero64=1.0, recovered=0.0)
    tanh_ok = _c9_row("tanh")
    # every part holds: ReLU alone dies, stays dead when forced off, tanh recovers
    verdict, parts = decide_c9([relu_dead, tanh_ok], kinds)
    assert verdict == "confirmed" and set(parts.values()) == {"confirmed"}
    # a soft unit that also dies in ordinary training (SoLU starving) makes "die" partly
    _, parts = decide_c9([relu_dead, _c9_row("tanh", dead=0.3)], kinds)
    assert parts["die"] == "partly"
    # ReLU never dies in ordinary training: that part is refuted, the claim partly
    verdict, parts = decide_c9([_c9_row("relu", zero64=1.0, recovered=0.0), tanh_ok], kinds)
    assert parts["die"] == "refuted" and verdict == "partly"
    # a forced-off ReLU that comes back refutes "cannot recover"
    _, parts = decide_c9([_c9_row("relu", dead=0.1, zero64=1.0, recovered=0.2), tanh_ok], kinds)
    assert parts["relu_stuck"] == "refuted"
    # an analytic zero among the soft ones (the Laplace plateau) makes the soft part partly
    _, parts = decide_c9([relu_dead, tanh_ok, _c9_row("laplace", zero64=1.0)], kinds)
    assert parts["soft_recover"] == "partly"
    # no soft unit recovers: refuted, and every part refuted refutes the claim
    bad = [_c9_row("relu", zero64=0.5, recovered=0.0), _c9_row("tanh", recovered=0.1)]
    verdict, parts = decide_c9(bad, kinds)
    assert parts["soft_recover"] == "refuted" and verdict == "refuted"
    assert decide_c9([tanh_ok], kinds) == ("open", {})
