"""MNIST inputs for `competition` and `dead_units`: one global scale, so a pixel that is
constant on the training subset cannot reach 1e6 on a test image (issue 37)."""

import numpy as np
import pytest
import torch

from implicit_em.experiments.base import centre_and_scale


def test_a_pixel_constant_in_training_stays_bounded_on_test_images():
    rng = np.random.default_rng(0)
    x = rng.random((200, 10))
    x[:, 3] = 0.0  # never inked on the training subset
    xt = rng.random((50, 10))  # ... but inked on test images
    a, b = centre_and_scale(x, xt)
    assert np.abs(b).max() < 10  # per-pixel std + 1e-6 gave values near 1e6 here
    old = (xt - x.mean(0)) / (x.std(0) + 1e-6)
    assert np.abs(old).max() > 1e5  # the bug this replaces
    np.testing.assert_allclose(a.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose((a**2).mean(), 1.0, rtol=1e-12)  # one scale for all pixels
    ta, tb = centre_and_scale(torch.as_tensor(x), torch.as_tensor(xt))
    np.testing.assert_allclose(ta.numpy(), a, rtol=1e-12)
    np.testing.assert_allclose(tb.numpy(), b, rtol=1e-12)
    with pytest.raises(ValueError, match="all equal"):
        centre_and_scale(np.ones((4, 3)), np.ones((2, 3)))
