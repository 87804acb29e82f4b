"""Decorrelation terms."""

import numpy as np
import pytest

from helpers import correlated
from implicit_em import objectives as O


def test_decorrelation_terms():
    z = correlated()
    c = np.corrcoef(z.numpy().T)
    assert float(O.decorrelation_loss(z, eps=0.0)) == pytest.approx(
        ((c - np.diag(np.diag(c))) ** 2).sum(), rel=1e-8
    )
    loss, terms = O.cross_decorrelation_loss(z, z, lam=0.1, eps=0.0, return_terms=True)
    assert float(terms["on_diag"]) < 1e-20
    assert float(loss) == pytest.approx(0.1 * ((c - np.diag(np.diag(c))) ** 2).sum(), rel=1e-8)
