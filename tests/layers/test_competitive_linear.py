"""CompetitiveLinear: a linear map followed by a competitive activation."""

import pytest
import torch
from torch import nn

from implicit_em.layers import CompetitiveLinear

X = torch.randn(7, 5, dtype=torch.float64)


def test_competitive_linear():
    net = CompetitiveLinear(5, 8, "grouped_solu")
    assert isinstance(net[0], nn.Linear) and net(X.float()).shape == (7, 8)
    with pytest.raises(ValueError, match="unknown competitive activation 'relu'"):
        CompetitiveLinear(5, 8, "relu")
    with pytest.raises(ValueError, match="groups of 8: out_features \\(6\\)"):
        CompetitiveLinear(5, 6, "grouped_solu")
