"""The competition experiment (C25, C26, C28, C29, C30): measurements and rules."""

import pytest
import torch


def test_competition_small_run(tmp_path):
    from implicit_em.experiments import competition as exp

    cfg = exp.Config(datasets=("digits",), width=16, epochs=1, monitor_every=5, probe_size=8,
                     timing_steps=3)  # fmt: skip
    res = exp.run(cfg, tmp_path)
    fits = {r["activation"]: r for r in res["tables"]["fits"]}
    assert set(fits) == {*exp.ACTIVATIONS, "relu (untrained)"} and "verdicts" not in res
    assert fits["relu"]["coupling"] == 0.0 and fits["tanh"]["coupling"] == 0.0  # element-wise
    assert fits["prototype_attention"]["coupling"] > 0.5 and fits["solu"]["coupling"] > 0
    assert fits["relu"]["inactive_with_gradient"] == 0.0  # ReLU's off side has no gradient
    for name in exp.ACTIVATIONS:
        assert 0 <= fits[name]["accuracy"] <= 1 and fits[name]["step_ms"] > 0
    assert {r["activation"] for r in res["tables"]["c26"]} == set(exp.SOFT)
    assert res["tables"]["over_training"] and "l1.coupling" in res["tables"]["over_training"][0]


def test_jacobian_coupling_and_duplicates_against_references():
    from implicit_em.experiments.competition import PrototypeAttention, duplicate_share, jacobians

    z = torch.randn(5, 4, dtype=torch.float64)
    jac = jacobians(torch.nn.Softmax(-1), z)
    r = torch.softmax(z, -1)
    reference = torch.diag_embed(r) - r[:, :, None] * r[:, None, :]  # d softmax_i / d z_j
    torch.testing.assert_close(jac, reference)
    att = PrototypeAttention(4).double()
    torch.testing.assert_close(jacobians(att, z)[2], torch.autograd.functional.jacobian(
        lambda v: att(v[None])[0], z[2]))  # fmt: skip
    a = torch.randn(200, 1, dtype=torch.float64)
    h = torch.cat([a, 2 * a + 0.01 * torch.randn_like(a), torch.randn_like(a)], 1)
    assert duplicate_share(h, 0.9) == pytest.approx(2 / 3)  # units 0 and 1 duplicate
    assert duplicate_share(torch.cat([h, torch.zeros(200, 1)], 1), 0.9) == pytest.approx(2 / 3)


def test_matched_sparsity_gradient_share():
    from implicit_em.experiments.competition import matched_gradient_share

    torch.manual_seed(0)
    relu = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU())
    soft = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Softmax(-1))
    x = torch.randn(32, 6)
    active = float((relu(x) > 0).double().mean())
    assert matched_gradient_share(relu, x, active) == 0.0
    assert matched_gradient_share(soft, x, active) == 1.0  # every softmax entry has a slope


def _rows(**changes):
    """One seed's fit rows on both datasets: competition drops in (same accuracy), is
    cheaper than attention, keeps its coupling; softmin loses; ReLU is redundant."""
    base = {"accuracy": 0.95, "step_ms": 1.0, "coupling": 0.3, "coupling_init": 0.3,
            "usage_entropy": 0.9, "usage_entropy_init": 0.9, "duplicates": 0.05,
            "inactive_with_gradient": 0.9}  # fmt: skip
    per = {"relu": {"coupling": 0.0, "duplicates": 0.3, "inactive_with_gradient": 0.0},
           "tanh": {"coupling": 0.0}, "softmin": {"accuracy": 0.8},
           "prototype_attention": {"step_ms": 3.0}}  # fmt: skip
    rows = []
    for ds in ("mnist", "digits"):
        for name in ("relu", "tanh", "solu", "grouped_softmax", "lwta", "softmin",
                     "prototype_attention"):  # fmt: skip
            rows.append({"dataset": ds, "activation": name,
                         **{**base, **per.get(name, {}), **changes.get(name, {})}})  # fmt: skip
        rows.append({"dataset": ds, "activation": "relu (untrained)", "coupling": 0.0,
                     "duplicates": changes.get("untrained", 0.0)})  # fmt: skip
    return rows


def _graded(rows):
    from implicit_em.experiments import competition as exp
    from implicit_em.experiments.rules import grade, stack

    jitter = [[dict(r, **{k: v + d for k, v in r.items() if k == "accuracy"}) for r in rows]
              for d in (0.0, 1e-4, -1e-4, 2e-4, -2e-4)]  # fmt: skip
    tables = stack([{**exp.claim_tables(r), "fits": r} for r in jitter], list(range(5)))
    return {v.claim: v.verdict for v in grade(exp.RULES, tables, exp.Config())}


def test_competition_rules_give_each_outcome():
    assert _graded(_rows()) == dict.fromkeys(("C25", "C26", "C28", "C29", "C30"), "confirmed")
    worse = {c: {"accuracy": 0.5, "step_ms": 5.0, "coupling": 0.0, "coupling_init": 0.3,
                 "usage_entropy": 0.1, "inactive_with_gradient": 0.0}
             for c in ("solu", "grouped_softmax", "lwta")}  # fmt: skip
    out = _graded(_rows(**worse, relu={"inactive_with_gradient": 0.5, "duplicates": 0.0},
                        softmin={"accuracy": 0.99}, untrained=0.2))  # fmt: skip
    assert out == dict.fromkeys(("C25", "C26", "C28", "C29", "C30"), "refuted")
    mixed = _graded(_rows(lwta={"coupling": 0.0}, softmin={"accuracy": 0.95}))
    assert mixed["C25"] == "confirmed"  # LWTA (no coupling) is secondary: not a candidate
    assert _graded(_rows(grouped_softmax={"accuracy": 0.5}))["C25"] == "partly"
    assert mixed["C29"] == "refuted"  # softmin as accurate as tanh and ReLU
