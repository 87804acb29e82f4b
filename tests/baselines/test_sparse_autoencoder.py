"""The sparse autoencoder reconstructs; the backprop MLP classifies."""

import numpy as np
import pytest
import torch

from implicit_em.baselines import (
    BackpropMLP,
    SparseAutoencoder,
)


def _blobs(n=300, d=12, k=3, seed=0):
    g = np.random.default_rng(seed)
    centres = 3 * g.standard_normal((k, d))
    y = g.integers(0, k, n)
    x = centres[y] + 0.5 * g.standard_normal((n, d))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def test_sparse_autoencoder_reconstructs_and_backprop_classifies():
    x, y = _blobs()
    sae = SparseAutoencoder(8, epochs=30, lr=1e-2).fit(x)
    err = float(((sae.reconstruct(x) - x) ** 2).mean())
    assert err < 0.5 * float(x.var(0).mean())
    mlp = BackpropMLP(8, epochs=20, lr=1e-2).fit(x, y + 5)  # labels need not start at 0
    assert float((mlp.predict(x) == y + 5).float().mean()) > 0.95
    with pytest.raises(ValueError, match="supervised: call fit\\(x, y\\)"):
        BackpropMLP(8).fit(x)
    with pytest.raises(ValueError, match="y must hold 300 integer labels"):
        BackpropMLP(8).fit(x, y.float())
