"""Competitive activations: values against float64 formulas, Jacobian structure,
gradcheck, straight-through gradients, temperature, and errors."""

import pickle

import numpy as np
import pytest
import torch
from scipy.special import softmax as sp_softmax

from implicit_em.activations import competitive as C

torch.manual_seed(0)
Z = torch.randn(5, 12, dtype=torch.float64)


def test_values_match_numpy_formulas():
    z = Z.numpy()
    s = sp_softmax(z / 0.7, axis=1)
    np.testing.assert_allclose(C.solu(Z, temperature=0.7).numpy(), z * s, rtol=1e-12)
    nls = z + 0.7 * np.log(np.exp(-z / 0.7).sum(1, keepdims=True))
    np.testing.assert_allclose(C.neg_log_softmin(Z, temperature=0.7).numpy(), nls, rtol=1e-12)
    g = sp_softmax(z.reshape(5, 3, 4), axis=2).reshape(5, 12)
    np.testing.assert_allclose(C.grouped_softmax(Z, 4).numpy(), g, rtol=1e-12)
    np.testing.assert_allclose(C.grouped_solu(Z, 4).numpy(), z * g, rtol=1e-12)
    win = z.reshape(5, 3, 4) == z.reshape(5, 3, 4).max(2, keepdims=True)
    np.testing.assert_allclose(C.lwta(Z, 4).numpy(), z * win.reshape(5, 12))
    np.testing.assert_allclose(C.maxout(Z, 4).numpy(), z.reshape(5, 3, 4).max(2))
    # log_softmax relation stated in the docstring
    torch.testing.assert_close(-C.neg_log_softmin(-Z), torch.log_softmax(Z, -1))


def test_other_dims():
    z = torch.randn(3, 6, 2, dtype=torch.float64)
    torch.testing.assert_close(
        C.grouped_softmax(z, 3, dim=1), C.grouped_softmax(z.transpose(1, 2), 3).transpose(1, 2)
    )
    assert C.maxout(z, 2, dim=1).shape == (3, 3, 2)


def _jacobian(fn, z):
    return torch.autograd.functional.jacobian(fn, z)


def test_jacobian_structure():
    z = Z[0]
    j = _jacobian(lambda v: C.grouped_softmax(v, 4), z)
    blocks = torch.block_diag(*[torch.ones(4, 4)] * 3).bool()
    assert j[~blocks].abs().max() == 0  # no competition across groups
    s = torch.softmax(z[:4], 0)
    torch.testing.assert_close(j[:4, :4], torch.diag(s) - torch.outer(s, s))
    js = _jacobian(lambda v: C.solu(v), z)
    s = torch.softmax(z, 0)
    want = torch.diag(s) + z[:, None] * s[:, None] * (torch.eye(12) - s[None, :])
    torch.testing.assert_close(js, want.double())
    jn = _jacobian(lambda v: C.neg_log_softmin(v), z)
    torch.testing.assert_close(jn, torch.eye(12, dtype=torch.float64) - torch.softmax(-z, 0))


@pytest.mark.parametrize(
    "module",
    [
        C.SoLU(temperature=0.7),
        C.NegLogSoftmin(temperature=1.3),
        C.GroupedSoftmax(4, temperature=0.5),
        C.GroupedSoLU(3, temperature=2.0),
        C.SoLU(dim=0),
    ],
    ids=repr,
)
def test_jacobian_diagonal_matches_autograd(module):
    module = module.double()
    z = Z if module.dim == -1 else Z.T.contiguous()  # alternatives along module.dim
    got = module.jacobian_diagonal(z).movedim(module.dim, -1)
    for i, row in enumerate(z.movedim(module.dim, -1)):  # one full Jacobian per sample

        def fn(v):
            return module(v if module.dim == -1 else v[:, None])

        jac = _jacobian(fn, row).reshape(len(row), len(row))
        torch.testing.assert_close(got[i], torch.diagonal(jac))


def test_jacobian_diagonal_refuses_layer_norm():
    with pytest.raises(NotImplementedError, match="jacrev"):
        C.SoLU(layer_norm=12).jacobian_diagonal(Z.float())


def test_gradcheck():
    z = Z.clone().requires_grad_(True)
    for fn in (
        lambda v: C.solu(v, temperature=0.5),
        lambda v: C.neg_log_softmin(v),
        lambda v: C.grouped_softmax(v, 3),
        lambda v: C.grouped_solu(v, 6),
        lambda v: C.maxout(v, 4),
        lambda v: C.lwta(v, 4),
    ):
        assert torch.autograd.gradcheck(fn, (z,))


def test_lwta_gradients_hard_and_straight_through():
    z = Z.clone().requires_grad_(True)
    C.lwta(z, 4).sum().backward()
    winners = C.lwta(Z, 4) != 0
    assert torch.equal(z.grad != 0, winners)  # losers get nothing
    z2 = Z.clone().requires_grad_(True)
    out = C.lwta(z2, 4, straight_through=True)
    torch.testing.assert_close(out, C.lwta(Z, 4))  # forward is hard
    out.sum().backward()
    z3 = Z.clone().requires_grad_(True)
    C.grouped_solu(z3, 4).sum().backward()
    torch.testing.assert_close(z2.grad, z3.grad)  # backward is soft


def test_modules_forward_repr_pickle_and_learned_temperature():
    mods = [
        C.SoLU(),
        C.SoLU(layer_norm=12),
        C.NegLogSoftmin(),
        C.GroupedSoftmax(4),
        C.GroupedSoLU(4, learn_temperature=True),
        C.LWTA(3, straight_through=True),
        C.Maxout(3),
    ]
    z = torch.randn(7, 12)
    for m in mods:
        out = m(z)
        assert torch.isfinite(out).all()
        clone = pickle.loads(pickle.dumps(m))
        torch.testing.assert_close(clone(z), out)
        r = m.em_responsibilities(z)
        torch.testing.assert_close(r.sum(-1), torch.ones(r.shape[:-1]))
        assert type(m).__name__ in repr(m)
    m = C.GroupedSoLU(4, temperature=2.0, learn_temperature=True)
    m(torch.randn(3, 12)).pow(2).sum().backward()
    assert m.log_temperature.grad is not None and "learned" in repr(m)
    assert C.LWTA(3).em_soft is False and C.LWTA(3, straight_through=True).em_soft
    assert C.Maxout(3).em_soft is False and C.SoLU().em_soft


def test_large_inputs_stay_finite():
    z = torch.randn(4, 12) * 1e4
    for fn in (C.solu, C.neg_log_softmin, lambda v: C.grouped_solu(v, 4)):
        v = z.clone().requires_grad_(True)
        out = fn(v)
        out.sum().backward()
        assert torch.isfinite(out).all() and torch.isfinite(v.grad).all()


@pytest.mark.parametrize(
    ("fn", "match"),
    [
        (lambda: C.grouped_softmax(torch.zeros(2, 10), 4), "must divide the size 10"),
        (lambda: C.maxout(torch.zeros(2, 10), 0), "group_size"),
        (lambda: C.solu(torch.zeros(2, 3), dim=2), r"dim=2 is out of range"),
        (lambda: C.solu(torch.zeros(2, 3), temperature=0), "temperature"),
        (lambda: C.SoLU(temperature=-1.0), "temperature"),
        (lambda: C.GroupedSoLU(2.5), "group_size"),
        (lambda: C.solu(torch.zeros(2, 3), temperature=float("nan")), "temperature"),
    ],
)
def test_bad_arguments(fn, match):
    with pytest.raises(ValueError, match=match):
        fn()
