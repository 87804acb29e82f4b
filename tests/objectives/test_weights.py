"""Weight-volume terms: log|det W|, log det W W^T, orthogonality."""

import math

import numpy as np
import pytest
import torch

from implicit_em import objectives as O


def test_weight_terms():
    q, _ = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64))
    assert float(O.weight_orthogonality(3 * q)) < 1e-20
    w = torch.randn(6, 6, dtype=torch.float64)
    assert float(O.neg_log_abs_det(w)) == pytest.approx(-np.linalg.slogdet(w.numpy())[1])
    wide = torch.randn(3, 7, dtype=torch.float64)
    want = -0.5 * np.linalg.slogdet(wide.numpy() @ wide.numpy().T)[1]
    assert float(O.neg_log_det_gram(wide)) == pytest.approx(want)
    assert float(O.neg_log_det_gram(wide.T)) == pytest.approx(want)
    with pytest.raises(ValueError, match="square"):
        O.neg_log_abs_det(wide)


def test_weight_volume_is_scale_safe_and_refuses_singular_weights():
    w = torch.randn(4, 4, dtype=torch.float64)
    for s in (1e-30, 1e30):
        ref = float(O.neg_log_abs_det(w)) - 4 * math.log(s)
        assert float(O.neg_log_abs_det((w * s).float())) == pytest.approx(ref, rel=1e-5)
        wide = torch.randn(3, 6, dtype=torch.float64)
        ref = float(O.neg_log_det_gram(wide)) - 3 * math.log(s)
        assert float(O.neg_log_det_gram((wide * s).float())) == pytest.approx(ref, rel=1e-5)
    with pytest.raises(ValueError, match="singular"):
        O.neg_log_abs_det(torch.ones(3, 3))
