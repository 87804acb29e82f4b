"""Bad activations and other bad inputs are refused with clear errors."""

import numpy as np
import pytest
import torch

from implicit_em import diagnostics as D


@pytest.mark.parametrize(
    "fn",
    [
        D.unit_health,
        D.unit_variance,
        D.l0_sparsity,
        D.effective_rank,
        D.activation_redundancy,
        D.gaussian_total_correlation,
        D.correlation_redundancy,
        D.count_activation_patterns,
        D.responsibility_stats,
    ],
)
def test_bad_activations_raise(fn):
    with pytest.raises(ValueError, match="NaN"):
        fn(torch.tensor([[0.0, float("nan")], [1.0, 2.0]]))
    if fn not in (D.effective_rank, D.count_activation_patterns, D.responsibility_stats):
        with pytest.raises(ValueError, match="at least 2 rows"):
            fn(torch.ones(1, 3))
        with pytest.raises(ValueError, match="2-D"):
            fn(torch.ones(4, 3, 2))


def test_other_bad_inputs():
    with pytest.raises(ValueError, match="at least 2 inputs"):
        D.responsibility_stats(torch.ones(1, 3))
    with pytest.raises(ValueError, match="threshold"):
        D.direction_groups(torch.randn(3, 2), threshold=0)
    with pytest.raises(ValueError, match="bounds"):
        D.count_regions_2d(lambda x: x, (1, 0, 0, 1))
    with pytest.raises(ValueError, match="labels"):
        D.linear_probe(np.ones((4, 2)), np.ones(3), np.ones((4, 2)), np.ones(4))
    with pytest.raises(ValueError, match="2 classes"):
        D.linear_probe(np.ones((4, 2)), np.ones(4), np.ones((4, 2)), np.ones(4))
    with pytest.raises(ValueError, match="p must"):
        D.dead_by_activity(torch.ones(3, 2), p=2)
