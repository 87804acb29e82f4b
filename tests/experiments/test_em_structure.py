"""The EM-structure experiment (C17) and its decision rule."""


def _c17_row(model, op, kind, em_behaviour):
    return {"model": model, "name": op, "op": op, "kind": kind, "em_behaviour": em_behaviour}


def test_em_structure_experiment_runs_and_decides_c17(tmp_path):
    from implicit_em.experiments import em_structure as exp

    res = exp.run(exp.Config(epochs=1, hidden=16), tmp_path)
    models = {r["model"]: r for r in res["tables"]["models"]}
    assert set(models) == {"relu_mlp", "tanh_mlp", "attention", "competitive"}
    assert models["relu_mlp"]["internal_em_behaviour_ops"] == 0
    assert models["tanh_mlp"]["internal_em_behaviour_ops"] == 2  # tanh: two hypotheses
    assert models["competitive"]["internal_em_behaviour_ops"] == 2
    (v,) = res["verdicts"]
    assert v.claim == "C17" and v.verdict == "confirmed" and res["metrics"]["controls_ok"]


def test_decide_c17_gives_each_outcome():
    from implicit_em.diagnostics.em_structure import EM, GATE, NORM, OTHER
    from implicit_em.experiments.em_structure import decide_c17

    controls = [
        _c17_row("controls", "HiddenSoftmax", OTHER, True),
        _c17_row("controls", "Lookalike", OTHER, False),
    ]
    good = [
        _c17_row("m", "ReLU", GATE, False),
        _c17_row("m", "Tanh", GATE, True),
        _c17_row("m", "SoLU", EM, True),
        _c17_row("m", "LayerNorm", NORM, False),
        _c17_row("m", "Linear", "linear", None),  # not measured: not judged
    ]
    assert decide_c17(good + controls)[0] == "confirmed"
    # EM behaviour at an op without a log-sum-exp: "only where LSE exists" fails
    verdict, found = decide_c17([*good, _c17_row("m", "GELU", GATE, True), *controls])
    assert verdict == "refuted" and found["em_without_lse"] == ["m:GELU"]
    # an LSE op whose Jacobian lacks the form
    verdict, found = decide_c17([*good, _c17_row("m", "Softmax", EM, False), *controls])
    assert verdict == "partly" and found["lse_without_em"] == ["m:Softmax"]
    # a criterion that misses the hidden softmax (or flags the lookalike) decides nothing
    blind = [_c17_row("controls", "HiddenSoftmax", OTHER, False), controls[1]]
    assert decide_c17(good + blind)[0] == "open"
    assert decide_c17(good)[0] == "open"  # no controls measured
