"""The linear read-out: learns a linear rule, standardises, refuses bad input."""

import pytest
import torch

from implicit_em.diagnostics.readout import _moments, linear_readout


def test_learns_a_linear_rule_whatever_the_feature_scale():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 2, 3, 3, generator=g)
    y = (x[:, 0, 1, 1] - x[:, 1, 0, 2] > 0).long()
    for scale in (1.0, 1e4):
        out = linear_readout(scale * x[:500], y[:500], scale * x[500:], y[500:], epochs=40, lr=1e-2)
        assert out["test_accuracy"] > 0.9 and out["n_features"] == 18
    chance = linear_readout(x[:500], torch.randint(0, 2, (500,), generator=g), x[500:],
                            y[500:], epochs=5)["test_accuracy"]  # fmt: skip
    assert chance < 0.7


def test_moments_match_float64():
    x = torch.rand(1000, 7, generator=torch.Generator().manual_seed(1)) * 100 + 5
    mean, std = _moments(x, chunk=64)
    torch.testing.assert_close(mean.double(), x.double().mean(0), rtol=1e-6, atol=0)
    torch.testing.assert_close(std.double(), x.double().std(0), rtol=1e-5, atol=0)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((torch.rand(4, 3), torch.zeros(3)), {}, "train_labels"),
        ((torch.rand(4, 3) * float("nan"), torch.zeros(4)), {}, "NaN"),
        ((torch.rand(4, 3), torch.zeros(4)), {"dropout": 1.0}, "dropout"),
        ((torch.rand(4, 3), torch.zeros(4)), {"epochs": 0}, "epochs"),
    ],
)
def test_bad_input_is_named(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        linear_readout(*args, torch.rand(2, 3), torch.zeros(2), **kwargs)
    with pytest.raises(ValueError, match="features"):
        linear_readout(torch.rand(4, 3), torch.zeros(4), torch.rand(2, 5), torch.zeros(2))


def test_the_dropout_mask_is_fair_and_independent():
    from implicit_em.diagnostics.readout import _kept

    g = torch.Generator().manual_seed(0)
    for p in (0.5, 0.2):
        m = _kept(torch.Size((400, 250)), p, g).double()
        assert m.shape == (400, 250) and set(m.unique().tolist()) <= {0.0, 1.0}
        assert abs(m.mean() - (1 - p)) < 0.01  # 100k draws: SD 0.0016
        # neighbouring elements (the bits of one byte) are uncorrelated
        flat = m.flatten()
        corr = torch.corrcoef(torch.stack([flat[:-1], flat[1:]]))[0, 1]
        assert abs(corr) < 0.02


def test_features_that_carry_a_graph_are_read_out_and_probed():
    """Issue 34: ``features = layer(x)`` as in the README, straight into the read-outs
    (before: "Trying to backward through the graph a second time")."""
    from implicit_em.diagnostics import linear_probe
    from implicit_em.layers import ImplicitEMLayer

    g = torch.Generator().manual_seed(0)
    x = torch.rand(200, 9, generator=g)
    y = (x[:, 0] > 0.5).long()
    layer = ImplicitEMLayer(9, 8)
    layer.objective(x)
    features = layer(x)
    assert features.requires_grad
    out = linear_readout(features, y, features, y, epochs=3)
    assert 0.0 <= out["test_accuracy"] <= 1.0
    assert 0.0 <= linear_probe(features, y, features, y)["test_accuracy"] <= 1.0


def test_the_read_out_leaves_the_global_rng_as_it_was():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    x = torch.randn(40, 4, generator=torch.Generator().manual_seed(1))
    y = (x[:, 0] > 0).long()
    linear_readout(x, y, x, y, epochs=2, seed=7)
    torch.testing.assert_close(torch.rand(3), expected, rtol=0, atol=0)


@pytest.mark.parametrize("scale", [1e-9, 1e-12, 1e6])
def test_no_feature_scale_matters(scale):
    """Round-three probe H4: a floor of 1e-8 on the std left features at 1e-9 unscaled
    (0.68 against 0.965 at scale 1)."""
    x = torch.randn(400, 6, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    base = linear_readout(x, y, x, y, epochs=20, lr=1e-2)["test_accuracy"]
    scaled = linear_readout(x * scale, y, x * scale, y, epochs=20, lr=1e-2)["test_accuracy"]
    assert scaled == pytest.approx(base, abs=0.02)


@pytest.mark.parametrize(
    ("labels", "error", "said"),
    [(lambda y: y - 1, ValueError, "class indices >= 0"),
     (lambda y: y.float() + 0.5, ValueError, "whole class indices"),
     (lambda y: y.cfloat(), TypeError, "integer class indices")],
)  # fmt: skip
def test_bad_labels_and_overflowing_features_are_refused(labels, error, said):
    x = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    with pytest.raises(error, match=said):
        linear_readout(x, labels(y), x, y, epochs=1)
    with pytest.raises(ValueError, match="beyond float32's range"):
        linear_readout(x.double() * 1e200, y, x, y, epochs=1)


def test_boolean_labels_are_two_classes_as_for_linear_probe():
    x = torch.randn(60, 3, generator=torch.Generator().manual_seed(0))
    y = x[:, 0] > 0
    as_bool = linear_readout(x, y, x, y, epochs=200, lr=1e-2)
    assert as_bool == linear_readout(x, y.long(), x, y.long(), epochs=200, lr=1e-2)
    assert as_bool["test_accuracy"] > 0.8


def test_a_nearly_dead_feature_is_not_blown_up():
    """A responsibility of 1e-38 here and there has a std whose inverse overflows
    float32: 0 * inf gave NaN and the read-out fell to chance (the conv search's
    responsibilities row; 0.545 here). The floor is 1e-7 of the largest std."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 4, generator=g)
    y = (x[:, 0] > 0).long()
    dead = torch.zeros(400, 50)  # one 1e-38 per column: a std whose inverse is inf
    dead[torch.randint(0, 400, (50,), generator=g), torch.arange(50)] = 1e-38
    out = linear_readout(torch.cat([x, dead], 1), y, torch.cat([x, dead], 1), y, epochs=20, lr=1e-2)
    assert out["test_accuracy"] > 0.9
