"""ICA data: sources mixed by the recorded matrix."""

import numpy as np

from implicit_em.data import load_dataset


def test_ica_sources_are_mixed_by_the_recorded_matrix():
    ds = load_dataset("ica_sources", seed=0, n_samples=2000, n_sources=3)
    A = ds.meta["mixing"]
    np.testing.assert_allclose(ds.X_train, ds.meta["sources_train"] @ A.T, rtol=1e-4, atol=1e-4)
    assert np.linalg.cond(A) <= 3.0 + 1e-9
    S = ds.meta["sources_train"]
    assert np.abs(np.corrcoef(S.T) - np.eye(3)).max() < 0.1
