"""Tests of implicit_em.lse against independent references (SciPy, torch.nn.functional,
finite differences, gradcheck), property tests over shapes/axes/scales, and error paths."""

import math
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp as sp_logsumexp
from scipy.special import softmax as sp_softmax

from implicit_em import identities, lse

SCALES = [1e-3, 1e-1, 1.0, 1e2, 1e4, 1e6]
TOL = {torch.float64: 1e-12, torch.float32: 1e-5}


@st.composite
def distances(draw, dtype=None):
    shape = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    scale = draw(st.sampled_from(SCALES))
    dtype = dtype or draw(st.sampled_from([torch.float32, torch.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return torch.tensor(scale * rng.standard_normal(shape), dtype=dtype), dim


# ----------------------------------------------------------------------------- identity


@settings(max_examples=80, deadline=None)
@given(distances())
def test_gradient_is_minus_responsibilities(case):
    d, dim = case
    assert identities.responsibility_gradient_error(d, dim) < TOL[d.dtype]
    d_ = d.clone().requires_grad_(True)
    lse.lse_objective(d_, dim, reduction="sum").backward()
    assert torch.isfinite(d_.grad).all()


@settings(max_examples=60, deadline=None)
@given(distances(dtype=torch.float64))
def test_objective_and_responsibilities_match_scipy(case):
    d, dim = case
    want = sp_logsumexp(-d.numpy(), axis=dim)
    got = lse.lse_objective(d, dim).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13 * np.abs(d.numpy()).max())
    np.testing.assert_allclose(
        lse.responsibilities(d, dim).numpy(), sp_softmax(-d.numpy(), axis=dim), atol=1e-14
    )


@settings(max_examples=60, deadline=None)
@given(distances(), st.booleans())
def test_cross_entropy_gradient_is_y_minus_r(case, soft):
    d, dim = case
    k = d.shape[dim]
    rng = np.random.default_rng(0)
    if soft:
        y = torch.softmax(torch.tensor(rng.standard_normal(d.shape)), dim).to(d.dtype)
    else:
        shape = d.shape[: dim % d.ndim] + d.shape[dim % d.ndim + 1 :]
        y = torch.tensor(rng.integers(0, k, size=shape))
    assert identities.cross_entropy_gradient_error(d, y, dim) < TOL[d.dtype]


def test_cross_entropy_matches_torch_and_scores_gradient_is_r_minus_y():
    torch.manual_seed(0)
    d = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 5, (7,))
    loss = lse.distance_cross_entropy(d, y)
    s = (-d).detach().requires_grad_(True)
    ref = F.cross_entropy(s, y)
    torch.testing.assert_close(loss, ref, rtol=1e-14, atol=1e-14)
    loss.backward()
    ref.backward()
    torch.testing.assert_close(d.grad, -s.grad)  # distances = -scores
    r = torch.softmax(s.detach(), -1)
    torch.testing.assert_close(s.grad, (r - F.one_hot(y, 5)) / 7)


def test_soft_target_one_hot_equals_hard_and_matches_torch():
    torch.manual_seed(1)
    d = torch.randn(4, 6, 3, dtype=torch.float64)
    y = torch.randint(0, 6, (4, 3))
    onehot = F.one_hot(y, 6).movedim(-1, 1).double()
    hard = lse.distance_cross_entropy(d, y, dim=1, reduction="none")
    soft = lse.distance_cross_entropy(d, onehot, dim=1, reduction="none")
    torch.testing.assert_close(hard, soft)
    p = torch.softmax(torch.randn(4, 6, 3, dtype=torch.float64), 1)
    torch.testing.assert_close(
        lse.distance_cross_entropy(d, p, dim=1), F.cross_entropy(-d, p), rtol=1e-13, atol=1e-13
    )


def test_lse_loss_is_negative_objective_with_mean_reduction():
    d = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    lse.lse_loss(d).backward()
    torch.testing.assert_close(d.grad, lse.responsibilities(d.detach()) / 5)
    torch.testing.assert_close(lse.lse_loss(d, reduction="sum"), -lse.lse_objective(d).sum())


def test_gradcheck_all_ops():
    torch.manual_seed(2)
    d = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(3, 4, 5) > 0.3
    mask[..., 0] = True
    y = torch.randint(0, 4, (3, 5))
    p = torch.softmax(torch.randn(3, 4, 5, dtype=torch.float64), 1)
    v = torch.randn(3, 5, 2, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: lse.lse_objective(x, 1), (d,))
    assert torch.autograd.gradcheck(lambda x: lse.lse_objective(x, -1, mask=mask), (d,))
    assert torch.autograd.gradcheck(lambda x: lse.responsibilities(x, 0, temperature=0.7), (d,))
    assert torch.autograd.gradcheck(lambda x: lse.distance_cross_entropy(x, y, 1), (d,))
    assert torch.autograd.gradcheck(lambda x: lse.distance_cross_entropy(x, p, 1), (d,))
    assert torch.autograd.gradcheck(lambda x: lse.attention_log_partition(x, mask=mask), (d,))
    assert torch.autograd.gradcheck(lambda s: lse.attention_weights(s) @ v, (d,))


def test_temperature_scales_and_hardens():
    d = torch.tensor([[0.3, 0.1, 2.0]], dtype=torch.float64)
    torch.testing.assert_close(lse.responsibilities(d, temperature=2.0), torch.softmax(-d / 2, -1))
    hard = lse.responsibilities(d, temperature=1e-4)
    torch.testing.assert_close(hard, torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64))


# ----------------------------------------------------------------------------- exclusion


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_excluded_alternatives_get_exactly_zero(dtype):
    d = torch.tensor([[0.5, math.inf, 2.0], [1.0, 3.0, -1.0]], dtype=dtype, requires_grad=True)
    mask = torch.tensor([True, True, False])  # broadcast over rows
    r = lse.responsibilities(d, mask=mask)
    assert r[0, 1] == 0 and (r[:, 2] == 0).all()
    lse.lse_objective(d, mask=mask, reduction="sum").backward()
    assert d.grad[0, 1] == 0 and (d.grad[:, 2] == 0).all()
    torch.testing.assert_close(r.sum(-1), torch.ones(2, dtype=dtype))
    assert identities.responsibility_gradient_error(d.detach(), mask=mask) < TOL[dtype]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_flush_tiny_changes_values_and_gradients_by_less_than_tiny(dtype):
    g = torch.Generator().manual_seed(0)
    d = torch.randn(64, 50, generator=g, dtype=torch.float64) * 400  # spread: subnormal exps
    ref = d.clone().requires_grad_(True)
    lse.lse_objective(ref, reduction="sum").backward()  # float64, no flush
    x = d.to(dtype).clone().requires_grad_(True)  # (to() returns d itself for float64)
    value = lse.lse_objective(x, reduction="sum", flush_tiny=True)
    value.backward()
    plain = lse.lse_objective(d.to(dtype), reduction="sum")
    assert float(value.detach()) == float(plain)  # the floor is below rounding of a sum >= 1
    tiny = torch.finfo(dtype).tiny
    assert float((x.grad.double() - ref.grad).abs().max()) < max(3 * tiny, TOL[dtype])
    excluded = torch.tensor([[0.0, math.inf]], dtype=dtype, requires_grad=True)
    lse.lse_objective(excluded, reduction="sum", flush_tiny=True).backward()
    assert excluded.grad[0, 1] == 0  # exclusion stays exact


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_finite_for_huge_distances(dtype):
    d = torch.tensor([[1e6, 1e6 + 1, -1e6], [1e6, 1e6, 1e6]], dtype=dtype, requires_grad=True)
    value = lse.lse_objective(d, reduction="sum")
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(d.grad).all()
    torch.testing.assert_close(d.grad[1], -torch.full((3,), 1 / 3, dtype=dtype))
    loss = lse.distance_cross_entropy(d, torch.tensor([0, 2]))
    assert torch.isfinite(loss)


def test_shifted_objective_beats_torch_logsumexp_backward_at_large_scale():
    # Two distances 0.5 apart at magnitude 1e6: r = (sigmoid(0.5), sigmoid(-0.5)).
    d = torch.tensor([1e6, 1e6 + 0.5], dtype=torch.float64)
    want = torch.tensor([1 / (1 + math.exp(-0.5)), 1 / (1 + math.exp(0.5))], dtype=torch.float64)
    x = d.clone().requires_grad_(True)
    lse.lse_objective(x, reduction="sum").backward()
    assert (x.grad + want).abs().max() < 1e-15


# ----------------------------------------------------------------------------- attention


def test_attention_gradients_and_advantage_form_match_finite_differences():
    torch.manual_seed(3)
    s = torch.randn(2, 3, 4, dtype=torch.float64)
    v = torch.randn(2, 4, 5, dtype=torch.float64)
    g = torch.randn(2, 3, 5, dtype=torch.float64)
    assert identities.attention_gradient_error(s) < 1e-14
    assert identities.attention_advantage_error(s, v, g) < 1e-14
    analytic = lse.attention_score_gradient(torch.softmax(s, -1), v, g)
    eps, fd = 1e-6, torch.zeros_like(s)
    for idx in np.ndindex(*s.shape):  # central differences on a tiny tensor
        e = torch.zeros_like(s)
        e[idx] = eps
        f = lambda x: ((torch.softmax(x, -1) @ v) * g).sum()  # noqa: E731
        fd[idx] = (f(s + e) - f(s - e)) / (2 * eps)
    torch.testing.assert_close(analytic, fd, atol=1e-8, rtol=1e-7)
    # the baseline matters: without it the formula is wrong
    u = g @ v.transpose(-1, -2)
    assert (torch.softmax(s, -1) * u - analytic).abs().max() > 1e-3


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("fn", "match"),
    [
        (lambda: lse.lse_objective(torch.tensor([[math.inf, math.inf]])), "every alternative"),
        (
            lambda: lse.responsibilities(
                torch.zeros(2, 3), mask=torch.tensor([[True, False, True], [False] * 3])
            ),
            "1 row",
        ),
        (lambda: lse.lse_objective(torch.tensor([0.0, math.nan])), "NaN"),
        (lambda: lse.lse_objective(torch.tensor([0.0, -math.inf])), "-inf"),
        (lambda: lse.lse_objective(torch.zeros(2, 3), dim=2), r"expected dim in \[-2, 1\]"),
        (lambda: lse.lse_objective(torch.zeros(3), reduction="avg"), "reduction"),
        (lambda: lse.responsibilities(torch.zeros(3), temperature=0.0), "temperature"),
        (lambda: lse.responsibilities(torch.zeros(3), temperature=math.nan), "temperature"),
        (
            lambda: lse.distance_cross_entropy(torch.zeros(4, 3), torch.zeros(4, 1).long()),
            "class indices of shape",
        ),
        (
            lambda: lse.distance_cross_entropy(torch.zeros(4, 3), torch.zeros(4)),
            "soft target must have",
        ),
        (lambda: lse.distance_cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3])), "lie in"),
        (
            lambda: lse.distance_cross_entropy(torch.zeros(1, 2), torch.tensor([[0.7, 0.7]])),
            "sum to 1",
        ),
        (
            lambda: lse.distance_cross_entropy(torch.zeros(1, 2), torch.tensor([[1.5, -0.5]])),
            ">= 0",
        ),
        (
            lambda: lse.distance_cross_entropy(torch.tensor([[0.0, math.inf]]), torch.tensor([1])),
            "excluded",
        ),
        (
            lambda: lse.responsibilities(torch.zeros(2, 3), mask=torch.ones(4, dtype=torch.bool)),
            "does not broadcast",
        ),
        (
            lambda: identities.attention_advantage_error(
                torch.zeros(2, 3), torch.zeros(4, 2), torch.zeros(2, 2)
            ),
            "expected scores",
        ),
    ],
)
def test_bad_input_raises_value_error(fn, match):
    with pytest.raises(ValueError, match=match):
        fn()


@pytest.mark.parametrize(
    "fn",
    [
        lambda: lse.lse_objective(torch.zeros(3, dtype=torch.long)),
        lambda: lse.lse_objective([0.0, 1.0]),
        lambda: lse.responsibilities(torch.zeros(3), mask=torch.ones(3)),
    ],
)
def test_wrong_types_raise_type_error(fn):
    with pytest.raises(TypeError):
        fn()


def test_modules_repr_pickle_and_match_functions():
    d = torch.randn(4, 3)
    y = torch.tensor([0, 2, 1, 1])
    m = lse.LSELoss(dim=-1, reduction="sum")
    assert "reduction='sum'" in repr(m)
    torch.testing.assert_close(m(d), lse.lse_loss(d, reduction="sum"))
    ce = pickle.loads(pickle.dumps(lse.DistanceCrossEntropy()))
    torch.testing.assert_close(ce(d, y), lse.distance_cross_entropy(d, y))
    with pytest.raises(ValueError, match="reduction"):
        lse.LSELoss(reduction="bad")


# ---------------------------------------------------------------- robustness (issue 10)


def test_zero_alternatives_raise_the_documented_error_and_zero_rows_are_fine():
    from implicit_em.lse import lse_objective, responsibilities

    with pytest.raises(ValueError, match=r"d has no alternatives along dim=1"):
        lse_objective(torch.randn(3, 0))
    with pytest.raises(ValueError, match=r"d has no alternatives along dim=0"):
        responsibilities(torch.randn(0, 3), dim=0)
    assert lse_objective(torch.randn(0, 4)).shape == (0,)  # (0, K) is fine
    assert float(lse_objective(torch.randn(0, 4), reduction="sum")) == 0.0
    with pytest.raises(ValueError, match="no rows to average"):
        lse_objective(torch.randn(0, 4), reduction="mean")  # was NaN


def test_attention_errors_speak_of_scores():
    from implicit_em.lse import attention_log_partition, attention_weights

    s = torch.randn(2, 3)
    s[0, 1] = math.inf
    with pytest.raises(ValueError, match=r"scores contains \+inf; a score of \+inf"):
        attention_weights(s)
    s[0, 1] = -math.inf  # excludes that key
    assert torch.isfinite(attention_log_partition(s)).all()
    with pytest.raises(ValueError, match="meta"):
        attention_weights(torch.empty(2, 3, device="meta"))
