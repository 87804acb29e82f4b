"""The dataset registry: deterministic by seed, every dataset listed, unknown refused."""

import numpy as np
import pytest

from implicit_em.data import (
    DATASETS,
    list_datasets,
    load_dataset,
)

SMALL = {
    "clusters": {"n_samples": 200},
    "rings": {"n_samples": 200},
    "uniform_square": {"n_samples": 200},
    "polytope": {"n_samples": 200},
    "digits": {},
    "mnist1d": {"n_samples": 200},
    "ica_sources": {"n_samples": 500},
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_deterministic_by_seed_and_split(name):
    a = load_dataset(name, seed=3, **SMALL[name])
    b = load_dataset(name, seed=3, **SMALL[name])
    c = load_dataset(name, seed=4, **SMALL[name])
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)
    assert a.X_train.dtype == np.float32 and a.X_train.ndim == 2
    assert a.X_test.shape[1] == a.X_train.shape[1] and len(a.X_test) > 0
    if a.y_train is not None:
        assert a.y_train.dtype == np.int64 and len(a.y_train) == len(a.X_train)


def test_registry_lists_every_dataset_and_rejects_unknown():
    assert set(list_datasets()) == set(DATASETS) == set(SMALL) | {"mnist", "cifar10"}
    with pytest.raises(ValueError, match="available"):
        load_dataset("cifar")
    with pytest.raises(ValueError, match="valid options"):
        load_dataset("clusters", n_points=5)
