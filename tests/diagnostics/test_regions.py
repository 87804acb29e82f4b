"""Activation patterns and linear regions against known counts."""

import numpy as np
import pytest
import torch

from implicit_em import diagnostics as D


def test_activation_patterns_count_distinct_rows():
    a = torch.tensor([[1.0, -1, 2], [0.5, -3, 1], [-1, 1, 0], [0, 0, 0], [2, -1, 3]])
    assert D.count_activation_patterns(a) == 3  # 101, 010, 000
    assert D.count_activation_patterns(torch.randn(5000, 40)) == 5000


@pytest.mark.parametrize("k", [3, 5, 7])
def test_region_count_of_lines_in_general_position(k):
    # k lines tangent to a circle at spread angles: all pairs intersect inside the box
    angles = np.pi * (np.arange(k) + 0.37) / k
    normals = np.stack([np.cos(angles), np.sin(angles)], 1)
    offsets = 0.3 * np.cos(np.arange(k) * 2.1)
    w = torch.tensor(normals, dtype=torch.float32)
    b = torch.tensor(-offsets, dtype=torch.float32)
    pts = [np.linalg.solve(normals[[i, j]], offsets[[i, j]]) for i in range(k) for j in range(i)]
    box = 1.2 * np.abs(np.array(pts)).max() + 0.5
    count = D.count_regions_2d(lambda x: x @ w.T + b, (-box, box, -box, box), resolution=1200)
    assert count == 1 + k + k * (k - 1) // 2
