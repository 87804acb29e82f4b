"""SoftHebb's conv layer in half precision."""

import torch

from implicit_em.baselines import SoftHebbConv2d


def test_a_half_precision_module_learns_as_in_float32():
    """Issue 34: float16 overflowed inside the update and was blamed on the learning rate;
    the update now runs in float32 and only the filters are stored in half precision."""
    x = torch.rand(16, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    half, full = SoftHebbConv2d(1, 8, 3).half(), SoftHebbConv2d(1, 8, 3)
    for _ in range(3):
        half.learn(x.half())
        full.learn(x)
    assert half.weight.dtype == torch.float16
    torch.testing.assert_close(half.weight.float(), full.weight, rtol=0, atol=0.05)
    assert bool(torch.isfinite(half(x.half())).all())


def test_images_too_small_for_the_padding_or_the_pool_are_named():
    """Round-three probes: raw reflect-pad and pool-size RuntimeErrors."""
    import pytest

    with pytest.raises(ValueError, match="reflect padding of 4"):
        SoftHebbConv2d(1, 4, 5, padding=4).learn(torch.rand(2, 1, 3, 3))
    with pytest.raises(ValueError, match="smaller than the pool window"):
        SoftHebbConv2d(1, 4, 3, pool=("max", 16)).eval()(torch.rand(2, 1, 8, 8))
