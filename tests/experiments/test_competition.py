"""The competition experiment (C25, C26, C28, C29, C30, C31): measurements and rules."""

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
    assert fits["relu"]["zero_sum_logits"] < 1e-10  # softmax - onehot sums to 0
    assert fits["grouped_softmax"]["zero_sum_z1"] < 1e-10  # softmax groups: shift-invariant
    assert fits["relu"]["coupling_scaled_init"] == 0.0 and 0 < fits["solu"]["selectivity"] <= 1


def test_zero_sum_ratio_against_per_input_formulas():
    from implicit_em.experiments.competition import mlp, zero_sum_ratio

    torch.manual_seed(0)
    model = mlp(5, 7, 3, "relu").double()
    x, y = torch.randn(40, 5, dtype=torch.float64), torch.randint(0, 3, (40,))
    got = zero_sum_ratio(model, x, y)
    z1 = model[0](x)
    z2 = model[2](torch.relu(z1))
    g3 = torch.softmax(model[4](torch.relu(z2)), 1) - torch.nn.functional.one_hot(y, 3)
    g2 = (g3 @ model[4].weight) * (z2 > 0)  # back through the output layer and ReLU
    g1 = (g2 @ model[2].weight) * (z1 > 0)

    def ratio(g):
        return float(g.detach().sum(1).square().sum() / g.detach().square().sum())

    assert got["zero_sum_logits"] < 1e-25
    assert got["zero_sum_z2"] == pytest.approx(ratio(g2), rel=1e-12)
    assert got["zero_sum_z1"] == pytest.approx(ratio(g1), rel=1e-12)
    g = torch.randn(100000, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert ratio(g) == pytest.approx(1.0, abs=0.02)  # independent units: 1


def test_selectivity_and_scaled_coupling():
    from implicit_em.experiments.competition import layer_stats, mlp, scaled_coupling, selectivity

    y = torch.tensor([0, 0, 1, 1, 2, 2])
    h = torch.tensor([[1.0, 1.0], [1.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    # unit 0 fires on class 0 only (1); unit 1 is constant (left out)
    assert selectivity(h, y) == pytest.approx(1.0)
    h = torch.tensor([[2.0], [2.0], [1.0], [1.0], [0.0], [0.0]])  # (2 - 0.5) / (2 + 0.5)
    assert selectivity(h, y) == pytest.approx(0.6)
    torch.manual_seed(0)
    model = mlp(5, 8, 3, "solu")
    probe = torch.randn(16, 5)
    assert scaled_coupling(model, model, probe) == pytest.approx(
        layer_stats(model, probe, probe, 0.9)["coupling"], rel=1e-5)  # fmt: skip
    bigger = mlp(5, 8, 3, "solu")
    bigger.load_state_dict(model.state_dict())
    with torch.no_grad():
        bigger[0].weight.mul_(3.0)
        bigger[0].bias.mul_(3.0)
    assert scaled_coupling(model, bigger, probe) == pytest.approx(
        layer_stats(bigger, probe, probe, 0.9)["coupling"], rel=1e-5)  # fmt: skip


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
            "coupling_scaled_init": 0.3, "usage_entropy": 0.9, "usage_entropy_init": 0.9,
            "duplicates": 0.05, "inactive_with_gradient": 0.9, "selectivity": 0.6,
            "selectivity_init": 0.4, "zero_sum_z1": 1.2, "zero_sum_z2": 1.2,
            "zero_sum_logits": 0.0}  # fmt: skip
    per = {"relu": {"coupling": 0.0, "duplicates": 0.3, "inactive_with_gradient": 0.0,
                    "selectivity": 0.5},
           "solu": {"zero_sum_z2": 0.2},
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


CLAIMS = ("C25", "C26", "C28", "C29", "C30", "C31")


def test_competition_rules_give_each_outcome():
    assert _graded(_rows()) == dict.fromkeys(CLAIMS, "confirmed")
    worse = {c: {"accuracy": 0.5, "step_ms": 5.0, "coupling": 0.0, "coupling_init": 0.3,
                 "usage_entropy": 0.1, "inactive_with_gradient": 0.0, "selectivity": 0.3}
             for c in ("solu", "grouped_softmax", "lwta")}  # fmt: skip
    relu = {"inactive_with_gradient": 0.5, "duplicates": 0.0, "zero_sum_z2": 0.1,
            "zero_sum_z1": 0.1}  # fmt: skip
    out = _graded(_rows(**worse, relu=relu, softmin={"accuracy": 0.99}, untrained=0.2))
    assert out == dict.fromkeys(CLAIMS, "refuted")
    # C26: the coupling grew only as much as |z| did: the control decides against it
    grown = {c: {"coupling": 0.6, "coupling_scaled_init": 1.5} for c in ("solu", "grouped_softmax")}
    assert _graded(_rows(**grown))["C26"] == "refuted"  # kept against the start, not scale
    # C31: the measure misses the output's own competition: undecidable
    assert _graded(_rows(relu={"zero_sum_logits": 0.9}))["C31"] == "open"
    mixed = _graded(_rows(lwta={"coupling": 0.0}, softmin={"accuracy": 0.95}))
    assert mixed["C25"] == "confirmed"  # LWTA (no coupling) is secondary: not a candidate
    assert _graded(_rows(grouped_softmax={"accuracy": 0.5}))["C25"] == "partly"
    assert mixed["C29"] == "refuted"  # softmin as accurate as tanh and ReLU
