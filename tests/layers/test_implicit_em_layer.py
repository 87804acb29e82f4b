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
    layer = ImplicitEMLayer(5, 3, distance=distance, temperature=0.5, input_norm=None,
                            init="auto" if distance == "linear" else "normal").double()  # fmt: skip
    d = layer.distances(X)
    if distance == "linear":
        want = linear_distances(X, layer.weight, layer.bias)
    elif distance == "euclidean":
        want = euclidean_distances(X, layer.weight)
    else:
        want = mahalanobis_distances(X, layer.weight, layer.log_precision)
    torch.testing.assert_close(d, want)
    torch.testing.assert_close(layer.responsibilities(X), torch.softmax(-d / 0.5, 1))
    e = (2 * d).sqrt() if distance == "euclidean" else d  # triangle on ||x - mu||
    torch.testing.assert_close(layer(X), torch.relu(e.mean(1, keepdim=True) - e))


def test_objective_terms_are_the_library_functions():
    layer = ImplicitEMLayer(
        5, 3, objective={"infomax": 0.5, "logdet": 2.0}, input_norm=None, temperature=1.0
    ).double()
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
    only_volume = ImplicitEMLayer(
        5, 3, objective="decorrelation+balance", lse_weight=0, input_norm=None, temperature=1.0
    )
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
    layer = ImplicitEMLayer(5, 4, distance="linear", objective="infomax", weight_norm=True)
    stored = layer.parametrizations.weight.original
    torch.testing.assert_close(layer.weight, stored / stored.norm(dim=1, keepdim=True))
    x = torch.randn(64, 5)
    from implicit_em.training import train

    free = ImplicitEMLayer(5, 4, distance="linear", objective="infomax")
    for m in (layer, free):
        train(m, lambda m, b: m.objective(b[0]), (x,), epochs=20, batch_size=32, lr=5e-2)
    torch.testing.assert_close(layer.weight.norm(dim=1), torch.ones(4))
    assert float(free.weight.detach().norm(dim=1).min()) > 1.5  # InfoMax alone grows W
    with pytest.raises(ValueError, match="weight_norm=True normalises the rows of a linear"):
        ImplicitEMLayer(5, 4, distance="euclidean", weight_norm=True)


def test_input_norm_standardises_the_input():
    layer = ImplicitEMLayer(5, 4, distance="linear", input_norm=True)
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
    layer = ImplicitEMLayer(5, 3, objective="infomax", input_norm=None, temperature=1.0)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 5\), got \(7, 4\)"):
        layer(torch.randn(7, 4))
    with pytest.raises(ValueError, match=r"x has 1 row\(s\), but infomax estimate"):
        layer.objective(torch.randn(1, 5))
    with pytest.raises(ValueError, match=r"x holds NaN/inf"):
        layer(torch.full((2, 5), float("nan")))
    with pytest.raises(ValueError, match=r"x holds NaN/inf or values too large"):
        euclidean_distances(torch.full((2, 5), 1e30), torch.zeros(3, 5))  # overflows
    with pytest.raises(TypeError, match=r"x has dtype torch.float16"):
        layer(torch.randn(2, 5).half())
    # a batch of one is fine when no term needs batch statistics
    assert "lse" in ImplicitEMLayer(5, 3, objective="logdet").objective(torch.randn(1, 5))


def test_sample_norm_is_the_per_row_formula():
    from implicit_em.layers import SampleNorm

    x = 3 + 10 * torch.randn(6, 9, dtype=torch.float64)
    want = (x - x.mean(1, keepdim=True)) / torch.sqrt(x.var(1, keepdim=True) + 0.5)
    torch.testing.assert_close(SampleNorm(eps=0.5)(x), want)
    layer = ImplicitEMLayer(9, 4, init="normal", input_norm="sample").double()
    torch.testing.assert_close(
        layer.distances(x), euclidean_distances(SampleNorm()(x), layer.weight)
    )
    with pytest.raises(ValueError, match="at least 2 features per row"):
        SampleNorm()(torch.ones(3, 1))
    with pytest.raises(ValueError, match="eps must be a number >= 0"):
        SampleNorm(eps=-1.0)
    with pytest.raises(ValueError, match="input_norm must be one of"):
        ImplicitEMLayer(9, 4, input_norm="zca")


def test_triangle_output_is_coates_ngs_activation():
    from implicit_em.layers import triangle

    d = torch.rand(5, 7, dtype=torch.float64)
    want = torch.stack([torch.clamp(row.mean() - row, min=0) for row in d])  # row by row
    torch.testing.assert_close(triangle(d), want)
    layer = ImplicitEMLayer(4, 6, init="normal", input_norm=None, temperature=1.0).double()
    x = torch.randn(5, 4, dtype=torch.float64)
    e = torch.cdist(x, layer.weight)  # Coates & Ng: on the Euclidean distances
    torch.testing.assert_close(layer(x), triangle(e))


def test_data_init_places_the_means_at_the_first_training_inputs():
    layer = ImplicitEMLayer(4, 5, input_norm=None, temperature=1.0)
    assert int(layer.n_filled) == 0
    layer.eval()
    x = torch.randn(3, 4)
    layer(x)  # eval mode: nothing placed
    assert int(layer.n_filled) == 0
    layer.train()
    terms = layer.objective(x)  # 3 of 5 means from this batch, no gradient on them
    torch.testing.assert_close(layer.weight[:3], layer.normalise(x))
    sum(terms.values()).backward()
    assert float(layer.weight.grad.abs().max()) == 0.0
    x2 = torch.randn(4, 4)
    layer.objective(x2)
    torch.testing.assert_close(layer.weight[3:], layer.normalise(x2)[:2])
    assert int(layer.n_filled) == 5
    before = layer.weight.detach().clone()
    layer.objective(torch.randn(8, 4))  # full: no more placing
    torch.testing.assert_close(layer.weight, before)
    state = layer.state_dict()
    assert int(state["n_filled"]) == 5  # saved: a resumed layer does not place again
    with pytest.raises(ValueError, match="init='uniform' does not apply"):
        ImplicitEMLayer(4, 5, init="uniform")
    with pytest.raises(ValueError, match="init='data' does not apply"):
        ImplicitEMLayer(4, 5, distance="linear", init="data")
    with pytest.raises(ValueError, match="unknown init 'kmeans'"):
        ImplicitEMLayer(4, 5, init="kmeans")


def test_the_defaults_train_in_the_plain_loop_and_their_objective_is_bounded():
    """The README's loop: Adam(lr=1e-3) on sum(layer.objective(x).values())."""
    g = torch.Generator().manual_seed(0)
    centres = 3 * torch.randn(4, 10, generator=g)
    x = centres[torch.randint(0, 4, (512,), generator=g)] + 0.3 * torch.randn(512, 10, generator=g)
    torch.manual_seed(0)
    layer = ImplicitEMLayer(10, 8)
    opt = torch.optim.Adam(layer.parameters(), lr=1e-3)
    losses = []
    for _ in range(5):
        for xb in x.split(64):
            loss = sum(layer.objective(xb).values())
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    # LSE >= -log K (d >= 0) and balance >= -log K: bounded below by -2 log K
    assert min(losses) >= -2 * torch.log(torch.tensor(8.0)).item() - 1e-5
    assert sum(losses[-8:]) < sum(losses[8:16])  # it learns after placing its means


def test_the_triangle_output_has_finite_gradients_at_an_input_on_a_mean():
    layer = ImplicitEMLayer(4, 3)
    x = torch.randn(5, 4)
    layer.train()
    layer.objective(x)  # the means are placed at x's rows: d = 0 there
    out = layer(x)
    out.sum().backward()
    assert torch.isfinite(layer.weight.grad).all()


def test_a_relative_temperature_gives_the_same_responsibilities_at_any_scale():
    """Issue 35, item 1: ``T = tau lambda_max`` of the first batch, so scaling the data
    scales ``T`` with the distances (``lambda_max`` against a float64 eigensolve)."""
    from implicit_em.layers import ImplicitEMLayer

    x = torch.rand(256, 12, generator=torch.Generator().manual_seed(0))
    lam = float(torch.linalg.eigvalsh(torch.cov(x.double().T))[-1])
    r = {}
    for scale in (0.01, 1.0, 100.0):
        layer = ImplicitEMLayer(12, 8, relative_temperature=0.2, input_norm=None)
        layer.objective(x * scale)  # places the means and sets T
        assert float(layer.temperature) == pytest.approx(0.2 * lam * scale**2, rel=1e-5)
        r[scale] = layer.responsibilities(x * scale).double()
    torch.testing.assert_close(r[0.01], r[1.0], rtol=0, atol=1e-4)
    torch.testing.assert_close(r[100.0], r[1.0], rtol=0, atol=1e-4)


def test_a_relative_temperature_needs_placed_means_and_a_varied_batch():
    from implicit_em.layers import ImplicitEMLayer

    with pytest.raises(ValueError, match="needs init='data'"):
        ImplicitEMLayer(3, 2, relative_temperature=0.2, init="normal")
    with pytest.raises(ValueError, match="relative_temperature must be"):
        ImplicitEMLayer(3, 2, relative_temperature=-1.0)
    with pytest.raises(ValueError, match="no variance"):
        ImplicitEMLayer(3, 2, relative_temperature=0.2).objective(torch.ones(8, 3))


def test_input_norm_scale_makes_training_the_same_at_any_scale():
    """Issue 35, item 1: ``input_norm="scale"`` divides by ``sqrt(lambda_max)`` of the first
    batch (against a float64 eigensolve), so the README loop on ``c x`` trains the same
    layer as on ``x``: same means in the layer's units, same outputs, at any ``c``."""
    from implicit_em.layers import ImplicitEMLayer

    x = torch.rand(512, 12, generator=torch.Generator().manual_seed(0)).double()
    lam = float(torch.linalg.eigvalsh(torch.cov(x[:128].T))[-1])  # the first batch's
    out = {}
    for c in (0.01, 1.0, 100.0):
        torch.manual_seed(0)
        layer = ImplicitEMLayer(12, 8, input_norm="scale", temperature=0.2).double()
        opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
        for batch in (c * x).split(128):
            loss = sum(layer.objective(batch).values())
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert float(layer.input_norm.scale) == pytest.approx(c * lam**0.5, rel=1e-9)
        layer.eval()
        out[c] = layer(c * x).detach()
    assert not torch.equal(out[1.0], out[1.0][:, :1].expand_as(out[1.0]))  # it learned
    torch.testing.assert_close(out[0.01], out[1.0], rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(out[100.0], out[1.0], rtol=1e-6, atol=1e-8)


def test_input_norm_scale_measures_in_training_only_and_falls_back_on_a_constant_batch():
    from implicit_em.layers import ImplicitEMLayer, ScaleNorm

    x = torch.rand(4, 3)
    assert torch.equal(ScaleNorm().eval()(x), x)  # unmeasured, eval: as a fresh BatchNorm
    assert float(ScaleNorm().eval().scale) == 0  # and nothing measured
    with pytest.raises(ValueError, match="x has no rows"):
        ScaleNorm()(torch.ones(0, 3))
    # a first batch without variance: its root mean square; zeros: 1
    assert float(ScaleNorm()(torch.full((8, 3), 2.0))[0, 0]) == pytest.approx(1.0)
    assert float(ScaleNorm()(torch.tensor([[3.0, 4.0]]))[0, 1]) == pytest.approx(4 / 12.5**0.5)
    assert float(ScaleNorm()(torch.zeros(2, 3)).abs().sum()) == 0
    layer = ImplicitEMLayer(3, 2, input_norm="scale")
    layer.objective(torch.rand(8, 3))
    assert "input_norm='scale'" in repr(layer) and "scale=" in repr(layer.input_norm)
    state = layer.state_dict()
    fresh = ImplicitEMLayer(3, 2, input_norm="scale").eval()
    fresh.load_state_dict(state)  # the measured scale travels with the weights
    x = torch.rand(5, 3)
    torch.testing.assert_close(fresh(x), layer.eval()(x))


@pytest.mark.parametrize(("temperature", "says"), [(1e4, "nearly uniform"),
                                                    (1e-4, "nearly one-hot")])  # fmt: skip
def test_a_warning_when_the_responsibilities_stay_uniform_or_one_hot(temperature, says):
    """Issue 35, item 1: measured at training steps 10 and 100, said once; a temperature
    that fits the data says nothing."""
    import warnings

    from implicit_em.layers import ImplicitEMLayer
    from implicit_em.layers.implicit_em_layer import WATCH_STEPS

    x = torch.rand(64, 6, generator=torch.Generator().manual_seed(0))

    def steps(layer, n):
        for _ in range(n):
            sum(layer.objective(x).values()).backward()

    for t, expect in ((temperature, says), (0.1, None)):
        layer = ImplicitEMLayer(6, 8, temperature=t)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            steps(layer, WATCH_STEPS[-1] + 20)
            with torch.no_grad():
                layer.objective(x)  # no gradient: not a training step
        said = [str(w.message) for w in seen if "responsibilities stayed" in str(w.message)]
        assert (said == []) if expect is None else (len(said) == 1 and expect in said[0]), said
        assert layer._steps == WATCH_STEPS[-1] + 20 and len(layer._entropies) == 2
