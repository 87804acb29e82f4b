"""Decorrelation terms."""

import numpy as np
import pytest
import torch

from implicit_em import objectives as O


def _z(n=200, d=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=dtype)
    return torch.randn(n, d, generator=g, dtype=dtype) @ a


def test_decorrelation_terms():
    z = _z()
    c = np.corrcoef(z.numpy().T)
    assert float(O.decorrelation_loss(z, eps=0.0)) == pytest.approx(
        ((c - np.diag(np.diag(c))) ** 2).sum(), rel=1e-8
    )
    loss, terms = O.cross_decorrelation_loss(z, z, lam=0.1, eps=0.0, return_terms=True)
    assert float(terms["on_diag"]) < 1e-20
    assert float(loss) == pytest.approx(0.1 * ((c - np.diag(np.diag(c))) ** 2).sum(), rel=1e-8)
