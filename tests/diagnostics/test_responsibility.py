"""Responsibility statistics against SciPy; collapse and starved units."""

import math

import numpy as np
import pytest
import torch
from scipy.special import softmax as sp_softmax
from scipy.stats import entropy as sp_entropy

from implicit_em import diagnostics as D


def test_responsibility_stats_against_scipy():
    rng = np.random.default_rng(6)
    d = rng.standard_normal((300, 5)) * 2
    r = sp_softmax(-d, axis=1)
    got = D.responsibility_stats(torch.tensor(d))
    assert got["mean_entropy"] == pytest.approx(sp_entropy(r, axis=1).mean(), rel=1e-9)
    np.testing.assert_allclose(got["usage"], r.mean(0), rtol=1e-9)
    assert got["usage_entropy"] == pytest.approx(sp_entropy(r.mean(0)), rel=1e-9)
    assert got["mean_entropy_normalized"] == pytest.approx(got["mean_entropy"] / math.log(5))
    scores = D.responsibility_stats(torch.tensor(-d).T, dim=0, scores=True)
    assert scores["mean_entropy"] == pytest.approx(got["mean_entropy"], rel=1e-9)


def test_collapse_and_starved_units():
    d = torch.zeros(100, 4)
    d[:, 1:] = 8.0  # unit 0 wins everywhere
    s = D.responsibility_stats(d)
    assert s["collapsed"] and s["starved_units"] == 3
    assert s["max_mean_responsibility"] > 0.99
    balanced = D.responsibility_stats(torch.randn(1000, 4) * 0.01)
    assert not balanced["collapsed"] and balanced["starved_units"] == 0
    assert balanced["usage_entropy_normalized"] > 0.999
