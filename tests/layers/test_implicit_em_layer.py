"""ImplicitEMLayer: equal to its functions, objective terms, outputs, training, weight and
input normalisation, bad input refused before training."""

import pytest
import torch

from implicit_em import objectives as O
from implicit_em.layers import (
    ImplicitEMLayer,
    euclidean_distances,
    linear_distances,
    mahalanobis_distances,
)
from implicit_em.lse import lse_loss

X = torch.randn(7, 5, dtype=torch.float64)


@pytest.mark.parametrize("distance", ["linear", "euclidean", "mahalanobis_diag"])
def test_layer_equals_its_functions(distance):
    layer = ImplicitEMLayer(5, 3, distance=distance, temperature=0.5).double()
    d = layer.distances(X)
    if distance == "linear":
        want = linear_distances(X, layer.weight, layer.bias)
    elif distance == "euclidean":
        want = euclidean_distances(X, layer.weight)
    else:
        want = mahalanobis_distances(X, layer.weight, layer.log_precision)
    torch.testing.assert_close(d, want)
    torch.testing.assert_close(layer.responsibilities(X), torch.softmax(-d / 0.5, 1))
    torch.testing.assert_close(layer(X), torch.softmax(-d / 0.5, 1))  # default output


def test_objective_terms_are_the_library_functions():
    layer = ImplicitEMLayer(5, 3, objective={"infomax": 0.5, "logdet": 2.0}).double()
    terms = layer.objective(X)
    d = layer.distances(X)
    assert list(terms) == ["lse", "infomax", "logdet"]
    torch.testing.assert_close(terms["lse"], lse_loss(d))
    torch.testing.assert_close(terms["infomax"], 0.5 * O.gaussian_infomax(d))
    torch.testing.assert_close(terms["logdet"], 2.0 * O.neg_log_det_gram(layer.weight))
    # the LSE term's gradient in d is r / n: the EM mechanism
    d_leaf = d.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(lse_loss(d_leaf / 1.0), d_leaf)
    torch.testing.assert_close(g, torch.softmax(-d_leaf, 1).detach() / len(X))
    only_volume = ImplicitEMLayer(5, 3, objective="decorrelation+balance", lse_weight=0)
    assert list(only_volume.objective(X.float())) == ["decorrelation", "balance"]


def test_outputs_and_learned_temperature():
    x = X.float()
    for output, shape in (("distances", (7, 4)), ("gated", (7, 4)), ("solu", (7, 4))):
        layer = ImplicitEMLayer(5, 4, output=output, temperature=2.0)
        assert layer(x).shape == shape
    gated = ImplicitEMLayer(5, 4, output="gated")
    torch.testing.assert_close(gated(x), gated.distances(x) * gated.responsibilities(x))
    learned = ImplicitEMLayer(5, 4, learn_temperature=True)
    assert any(n == "log_temperature" for n, _ in learned.named_parameters())
    sum(learned.objective(x).values()).backward()
    assert learned.log_temperature.grad is not None


def test_a_layer_trains_with_the_training_loop():
    from implicit_em.training import train

    layer = ImplicitEMLayer(5, 4, objective="infomax")
    x = torch.randn(64, 5)
    before = sum(layer.objective(x).values()).item()
    train(layer, lambda m, b: m.objective(b[0]), (x,), epochs=5, batch_size=32, lr=1e-2)
    assert sum(layer.objective(x).values()).item() < before


def test_weight_norm_keeps_unit_rows_through_training():
    layer = ImplicitEMLayer(5, 4, objective="infomax", weight_norm=True)
    stored = layer.parametrizations.weight.original
    torch.testing.assert_close(layer.weight, stored / stored.norm(dim=1, keepdim=True))
    x = torch.randn(64, 5)
    from implicit_em.training import train

    free = ImplicitEMLayer(5, 4, objective="infomax")
    for m in (layer, free):
        train(m, lambda m, b: m.objective(b[0]), (x,), epochs=20, batch_size=32, lr=5e-2)
    torch.testing.assert_close(layer.weight.norm(dim=1), torch.ones(4))
    assert float(free.weight.detach().norm(dim=1).min()) > 1.5  # InfoMax alone grows W
    with pytest.raises(ValueError, match="weight_norm=True normalises the rows of a linear"):
        ImplicitEMLayer(5, 4, distance="euclidean", weight_norm=True)


def test_input_norm_standardises_the_input():
    layer = ImplicitEMLayer(5, 4, input_norm=True)
    x = 3 + 10 * torch.randn(256, 5)
    layer.train()
    z = layer.distances(x)
    xs = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5)
    torch.testing.assert_close(z, linear_distances(xs, layer.weight, layer.bias))
    layer.eval()  # running statistics now (momentum 0.1 after one batch)
    assert not torch.allclose(layer.distances(x), z)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 5\), got \(7, 4\)"):
        layer(torch.randn(7, 4))


def test_bad_input_is_refused_before_training():
    with pytest.raises(ValueError, match="unknown distance 'cosine'"):
        ImplicitEMLayer(5, 3, distance="cosine")
    with pytest.raises(ValueError, match="unknown output 'probs'"):
        ImplicitEMLayer(5, 3, output="probs")
    with pytest.raises(ValueError, match="temperature"):
        ImplicitEMLayer(5, 3, temperature=0.0)
    with pytest.raises(ValueError, match="in_features must be an integer >= 1"):
        ImplicitEMLayer(0, 3)
    with pytest.raises(ValueError, match="weight of 'infomax' must be a finite number >= 0"):
        ImplicitEMLayer(5, 3, objective={"infomax": -1.0})
    with pytest.raises(ValueError, match="multiple of it"):
        ImplicitEMLayer(5, 6, output="grouped_solu")
    layer = ImplicitEMLayer(5, 3, objective="infomax")
    with pytest.raises(ValueError, match=r"x must have shape \(n, 5\), got \(7, 4\)"):
        layer(torch.randn(7, 4))
    with pytest.raises(ValueError, match=r"x has 1 row\(s\), but infomax estimate"):
        layer.objective(torch.randn(1, 5))
    with pytest.raises(ValueError, match=r"x holds NaN/inf or values too large"):
        layer(torch.full((2, 5), float("nan")))
    with pytest.raises(ValueError, match=r"x holds NaN/inf or values too large"):
        euclidean_distances(torch.full((2, 5), 1e30), torch.zeros(3, 5))  # overflows
    with pytest.raises(TypeError, match=r"x has dtype torch.float16"):
        layer(torch.randn(2, 5).half())
    # a batch of one is fine when no term needs batch statistics
    assert "lse" in ImplicitEMLayer(5, 3, objective="logdet").objective(torch.randn(1, 5))
