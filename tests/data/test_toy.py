"""Toy generators: polytope labels, bad arguments."""

import numpy as np
import pytest

from implicit_em.data import load_dataset


def test_polytope_labels_match_its_hyperplanes_and_are_balanced_enough():
    ds = load_dataset("polytope", seed=1, n_samples=4000, n_vertices=6)
    normals, offsets = ds.meta["normals"], ds.meta["offsets"]
    inside = (ds.X_train @ normals.T <= offsets).all(1)
    np.testing.assert_array_equal(inside, ds.y_train == 1)
    assert 0.2 < ds.y_train.mean() < 0.8
    # every vertex lies on its two adjacent edges, and the polygon is convex
    v = ds.meta["vertices"]
    assert np.all(v @ normals.T <= offsets[None] + 1e-9)


def test_bad_generator_arguments():
    with pytest.raises(ValueError, match="n_samples"):
        load_dataset("clusters", n_samples=1)
    with pytest.raises(ValueError, match="test_fraction"):
        load_dataset("rings", test_fraction=1.5)
    with pytest.raises(ValueError, match="kinds"):
        load_dataset("ica_sources", kinds=("gauss",))
