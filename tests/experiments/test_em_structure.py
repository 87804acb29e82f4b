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
    (counts,) = res["tables"]["c17"]
    assert counts["controls_ok"] in (0.0, 1.0) and "verdicts" not in res


def _graded(rows):
    from implicit_em.experiments import em_structure as exp
    from implicit_em.experiments.rules import grade, stack

    tables = stack([{"c17": [exp.c17_counts(rows)]}] * 5, [0, 1, 2, 3, 4])
    return grade(exp.RULES, tables, exp.Config())[0].verdict


def test_c17_rule_gives_each_outcome():
    from implicit_em.diagnostics.em_structure import EM, GATE, NORM, OTHER
    from implicit_em.experiments.em_structure import c17_counts

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
    assert _graded(good + controls) == "confirmed"
    # EM behaviour at an op without a log-sum-exp: the primary test ("only where") fails
    gelu = [*good, _c17_row("m", "GELU", GATE, True), *controls]
    assert _graded(gelu) == "refuted" and c17_counts(gelu)["em_without_lse_ops"] == "m:GELU"
    # an LSE op whose Jacobian lacks the form: a secondary cell fails, the claim stands
    lse_only = [*good, _c17_row("m", "Softmax", EM, False), *controls]
    assert _graded(lse_only) == "confirmed" and c17_counts(lse_only)["lse_without_em"] == 1
    # a criterion that misses the hidden softmax (or flags the lookalike) decides nothing
    blind = [_c17_row("controls", "HiddenSoftmax", OTHER, False), controls[1]]
    assert _graded(good + blind) == "open"
    assert _graded(good) == "open"  # no controls measured
