"""The local-learners comparison: small run, goals, redundancy measures."""

import math

import pytest


def test_local_learners_small_run_and_goals(tmp_path):
    from implicit_em.experiments import local_learners as exp

    cfg = exp.Config(datasets=("digits",), widths=(8, 80), wide=16, epochs=1, epochs_wide=1,
                     iem_epochs_scale=0.1)  # fmt: skip
    res = exp.run(cfg, tmp_path)
    fits = res["tables"]["fits"]
    narrow = {r["learner"] for r in fits if r["K"] == 8}
    assert narrow == {"PCA", "triangle k-means", "Krotov-Hopfield", "SoftHebb",
                      "decoder-free encoder", "sparse autoencoder", exp.IEM,
                      exp.BACKPROP}  # fmt: skip
    assert "PCA" not in {r["learner"] for r in fits if r["K"] == 80}  # K > D = 64
    for r in fits:
        assert 0 < r["probe_accuracy"] <= 1 and r["n_parameters"] > 0 and r["fit_s"] > 0
    from implicit_em.experiments.rules import grade_goals

    def outcomes(ours, theirs):
        stacked = {"fits": [{"seed": s, **r} for s in (0, 1, 2) for r in fits]}
        for r in stacked["fits"]:  # the implicit-EM layer against the rest, with spread
            bump = 0.01 * r["seed"]
            r["probe_accuracy"] = ours - bump if r["learner"] == exp.IEM else theirs + bump
        extra = exp.across_seeds(stacked, cfg)
        graded = grade_goals(exp.GOALS, {**stacked, **extra}, cfg)
        learners = {g["cell"].split("learner=")[1].split(":")[0] for g in graded}
        assert exp.IEM not in learners and exp.BACKPROP not in learners and len(learners) == 6
        return {g["outcome"] for g in graded}, extra

    met, extra = outcomes(0.99, 0.5)
    assert met == {"met"}
    assert any(r["probe_95"].startswith("98.00 ±") for r in extra["summary_over_seeds"])
    assert outcomes(0.5, 0.99)[0] == {"missed"}
    assert outcomes(0.70, 0.69)[0] == {"not resolved at 3 seeds"}  # intervals overlap


def test_implicit_em_features_fit_transform():
    import torch

    from implicit_em.baselines import ImplicitEMFeatures

    x = torch.rand(200, 10)
    seen = []
    f = ImplicitEMFeatures(4, epochs=2, on_epoch=lambda e, learner: seen.append(e))
    out = f.fit(x).transform(x)  # the layer's defaults: the triangle output
    layer = f.module_
    xs, mu = (x / layer.input_norm.scale).double(), layer.weight.detach().double()
    e = (xs[:, None] - mu[None]).norm(dim=2)  # float64 direct differences; input_norm="scale"
    # float32 distances d = e^2 / 2 carry a rounding error up to about eps sqrt(D) (|x|^2 +
    # |mu|^2); sqrt turns an error delta on d into at most sqrt(2 delta) on e (at d ~ 0: a
    # row on its mean), and the triangle's mean adds as much again
    delta = (
        4
        * torch.finfo(torch.float32).eps
        * 10**0.5
        * (xs.norm(dim=1).max() ** 2 + mu.norm(dim=1).max() ** 2)
    )
    want = torch.relu(e.mean(1, keepdim=True) - e)
    assert (out.double() - want).abs().max() <= 2 * (2 * delta) ** 0.5
    far = e.min(1).values > 0.5  # away from a mean, sqrt is well conditioned: tight
    assert far.sum() > 100
    torch.testing.assert_close(out.double()[far], want[far], atol=1e-4, rtol=1e-4)
    assert f.n_parameters == 40 and seen == [1, 2] and f.train_s_ > 0
    r = ImplicitEMFeatures(4, epochs=1, output="responsibilities").fit(x).transform(x)
    assert torch.allclose(r.sum(1), torch.ones(200))


def test_local_learners_redundancy_measures():
    import numpy as np
    import torch

    from implicit_em.baselines import PCA
    from implicit_em.experiments.local_learners import feature_stats, weight_cos

    g = torch.Generator().manual_seed(0)
    a = torch.randn(2000, 1, generator=g)
    f = torch.cat([a, 0.6 * a + 0.8 * torch.randn(2000, 1, generator=g)], 1)  # rho = 0.6
    stats = feature_stats(f)
    rho = float(np.corrcoef(f.numpy().T)[0, 1])  # about 0.6
    assert stats["mean_abs_corr"] == pytest.approx(abs(rho), rel=1e-6)
    assert stats["pairwise_tc"] == pytest.approx(-0.5 * math.log(1 - rho**2), rel=1e-6)
    assert feature_stats(torch.cat([f, torch.ones(2000, 1)], 1))["dead_units"] == 1

    class W:
        weight_ = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, -2.0]])

    s = 1 / math.sqrt(2)
    assert weight_cos(W()) == pytest.approx((s + 0 + s) / 3)
    assert weight_cos(PCA(2).fit(torch.randn(50, 4))) is None
