"""The passing-forward experiment (C21) and its rule."""

import pytest


def test_passing_forward_small_run_and_rule(tmp_path):
    from implicit_em.experiments import passing_forward as exp

    cfg = exp.Config(datasets=("digits",), width=16, epochs=1)
    res = exp.run(cfg, tmp_path)
    rows = res["tables"]["outputs"]
    assert {r["output"] for r in rows} == set(exp.OUTPUTS)
    for r in rows:
        assert 0 <= r["accuracy"] <= 1 and r["r2_norm"] <= 1 and r["r2_pcs"] <= 1
    assert "verdicts" not in res


def rows_with(r_norm, solu, others, jitter=0.0):
    from implicit_em.experiments import passing_forward as exp

    out = []
    for ds in ("mnist", "digits"):  # each with its own tolerance
        rows = [{"dataset": ds, "output": n, "accuracy": 0.9 + jitter, "r2_norm": 0.9}
                for n in exp.OUTPUTS]  # fmt: skip
        at = {r["output"]: r for r in rows}
        at[exp.RESPONSIBILITIES]["r2_norm"] = r_norm
        at[exp.COMPETITIVE[0]]["accuracy"] = solu
        for c in exp.COMPETITIVE[1:]:
            at[c]["accuracy"] = others + jitter
        out += rows
    return out


@pytest.mark.parametrize(
    ("values", "expected"),
    [((0.5, 0.9, 0.9), "confirmed"), ((0.9, 0.5, 0.9), "partly"),
     ((0.9, 0.5, 0.5), "refuted"),
     ((0.5, 0.88, 0.9), "partly")],  # 2 points below ReLU: within digits' tolerance only
)  # fmt: skip
def test_c21_rule_gives_each_outcome(values, expected):
    from implicit_em.experiments import passing_forward as exp
    from implicit_em.experiments.rules import grade, stack

    seeds = [exp.tables(rows_with(*values, jitter=j)) for j in (0.0, 1e-3, -1e-3, 2e-3, -2e-3)]
    (verdict,) = grade(exp.RULES, stack(seeds, list(range(5))), exp.Config())
    assert verdict.verdict == expected
