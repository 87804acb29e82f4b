"""Shared tests over every registered activation: dtypes, gradcheck, repr, pickling,
torch.compile, large inputs."""

import pickle

import pytest
import torch

from implicit_em.activations import ACTIVATIONS, make_activation

NAMES = list(ACTIVATIONS)


def _input(name, dtype, scale=1.0, rows=6, width=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(rows, width, generator=g, dtype=torch.float64)).to(dtype)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_dtype_and_finite(name, dtype):
    act = make_activation(name).to(dtype)
    out = act(_input(name, dtype))
    assert out.dtype == dtype and torch.isfinite(out).all()
    if ACTIVATIONS[name].kind == "derived" or name != "maxout":
        assert out.shape == (6, 16)


@pytest.mark.parametrize("name", NAMES)
def test_float32_matches_float64(name):
    act = make_activation(name)
    x = _input(name, torch.float64)
    a32 = act.float()(x.float()).double()
    a64 = act.double()(x)
    torch.testing.assert_close(a32, a64, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_bf16_forward_runs_close_to_float32(name):
    act = make_activation(name)
    x = _input(name, torch.float32)
    out = act.to(torch.bfloat16)(x.bfloat16())
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
    ref = make_activation(name)(x)
    assert (out.float() - ref).abs().max() < 0.1 * (1 + ref.abs().max())


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_float64(name):
    act = make_activation(name).double()
    x = _input(name, torch.float64, rows=3, width=8, seed=1).requires_grad_(True)
    surrogate = ACTIVATIONS[name].surrogate
    if surrogate is None:
        assert torch.autograd.gradcheck(act, (x,), atol=1e-6)
        return
    # straight-through: the backward is, by design, the surrogate's exact gradient
    sur = surrogate().double()
    assert torch.autograd.gradcheck(sur, (x,), atol=1e-6)
    g = torch.randn(3, 8, dtype=torch.float64)
    (ga,) = torch.autograd.grad(act(x), x, g)
    (gs,) = torch.autograd.grad(sur(x), x, g)
    torch.testing.assert_close(ga, gs)


@pytest.mark.parametrize("name", NAMES)
def test_repr_and_pickle(name):
    act = make_activation(name)
    assert type(act).__name__ in repr(act)
    clone = pickle.loads(pickle.dumps(act))
    x = _input(name, torch.float32)
    torch.testing.assert_close(clone(x), act(x))


@pytest.mark.parametrize("name", NAMES)
def test_large_inputs_give_finite_outputs_and_gradients(name):
    act = make_activation(name)
    x = _input(name, torch.float32, scale=1e4).requires_grad_(True)
    out = act(x)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()


def test_torch_compile_smoke():
    x = _input("solu", torch.float32)
    for name in NAMES:
        act = make_activation(name)
        compiled = torch.compile(act, backend="aot_eager", fullgraph=False)
        torch.testing.assert_close(compiled(x), act(x))
