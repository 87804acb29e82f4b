"""The passing-forward experiment (C21) and its rule."""


def test_passing_forward_small_run_and_rule(tmp_path):
    from implicit_em.experiments import passing_forward as exp

    cfg = exp.Config(datasets=("digits",), width=16, epochs=1)
    res = exp.run(cfg, tmp_path)
    rows = res["tables"]["outputs"]
    assert {r["output"] for r in rows} == set(exp.OUTPUTS)
    for r in rows:
        assert 0 <= r["accuracy"] <= 1 and r["r2_norm"] <= 1 and r["r2_pcs"] <= 1
    assert res["verdicts"][0].claim == "C21"

    def rows_with(r_norm, solu, others):
        out = [{"dataset": "d", "output": n, "accuracy": 0.9, "r2_norm": 0.9}
               for n in exp.OUTPUTS]  # fmt: skip
        at = {r["output"]: r for r in out}
        at[exp.RESPONSIBILITIES]["r2_norm"] = r_norm
        at[exp.COMPETITIVE[0]]["accuracy"] = solu
        for c in exp.COMPETITIVE[1:]:
            at[c]["accuracy"] = others
        return out

    assert exp.decide_c21(rows_with(0.5, 0.9, 0.9), 0.1, 0.01)[0] == "confirmed"
    assert exp.decide_c21(rows_with(0.9, 0.5, 0.9), 0.1, 0.01)[0] == "partly"
    assert exp.decide_c21(rows_with(0.9, 0.5, 0.5), 0.1, 0.01)[0] == "refuted"
