"""Issue 22, medium 4 and 5: soft targets checked to their own precision; temperatures
outside float32's range refused; tiny temperatures give hard assignments, not NaN."""

import pytest
import torch

from implicit_em.layers import ImplicitEMLayer, build
from implicit_em.lse import distance_cross_entropy, responsibilities


def test_half_precision_distances_do_not_loosen_the_soft_target_check():
    d = torch.randn(3, 4).bfloat16()
    with pytest.raises(ValueError, match=r"a row sums to 1\.5: normalise it"):
        distance_cross_entropy(d, torch.tensor([[0.6, 0.3, 0.3, 0.3]] * 3))
    ok = torch.tensor([[0.4, 0.3, 0.2, 0.1]] * 3)
    assert torch.isfinite(distance_cross_entropy(d, ok))
    assert torch.isfinite(distance_cross_entropy(d, ok.bfloat16()))  # its own rounding


@pytest.mark.parametrize(
    "call",
    [
        lambda: responsibilities(torch.tensor([[0.0, 1.0]]), temperature=1e-39),
        lambda: build("6-8:iem(T=1e-40)"),
        lambda: ImplicitEMLayer(6, 8, temperature=1e-35),
    ],
)
def test_temperatures_below_float32s_range_are_refused(call):
    with pytest.raises(ValueError, match=r"temperature must be in \[1e-30, inf\)"):
        call()


def test_the_smallest_temperature_gives_the_hard_assignment():
    d = torch.tensor([[0.0, 1.0, 3.0], [1e10, 2e10, 5e9]])
    r = responsibilities(d, temperature=1e-30)
    torch.testing.assert_close(r, torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    soft = responsibilities(d[:1], temperature=2.0)  # the shift changes nothing
    torch.testing.assert_close(soft, torch.softmax(-d[:1] / 2.0, 1))


def test_bic_and_aic_take_lists_as_fit_does():
    """Issue 22, medium 11."""
    import numpy as np

    from implicit_em.mixture import GaussianMixture

    x = np.random.default_rng(0).normal(size=(100, 2))
    gm = GaussianMixture(2, random_state=0).fit(x.tolist())
    assert gm.bic(x.tolist()) == pytest.approx(gm.bic(x))
    assert gm.aic(x.tolist()) == pytest.approx(gm.aic(x))


@pytest.mark.parametrize(
    "shapes",
    [((3, 4), (5, 2), (3, 2)), ((3, 4), (4, 2), (2, 2)), ((3, 4), (4, 2), (3, 5)),
     ((2, 3, 4), (3, 4, 2), (2, 3, 2))],
)  # fmt: skip
def test_attention_score_gradient_names_mismatched_shapes(shapes):
    """Issue 22, medium 13."""
    from implicit_em.lse import attention_score_gradient

    w, v, g = (torch.rand(*s) for s in shapes)
    with pytest.raises(ValueError, match=r"expected weights \(\*, n_q, n_k\)|do not broadcast"):
        attention_score_gradient(torch.softmax(w, -1), v, g)


def test_sample_counts_must_be_integers():
    """Issue 22, low: sample(2.5) was accepted."""
    import numpy as np

    from implicit_em.mixture import GaussianMixture

    gm = GaussianMixture(2, random_state=0).fit(np.random.default_rng(0).normal(size=(60, 2)))
    with pytest.raises(ValueError, match=r"n_samples must be an integer >= 1, got 2\.5"):
        gm.sample(2.5)
    assert gm.sample(3)[0].shape == (3, 2)
