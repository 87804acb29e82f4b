"""The sparse autoencoder reconstructs; the backprop MLP classifies."""

import pytest

from helpers import blobs
from implicit_em.baselines import (
    BackpropMLP,
    SparseAutoencoder,
)


def test_sparse_autoencoder_reconstructs_and_backprop_classifies():
    x, y = blobs()
    sae = SparseAutoencoder(8, epochs=30, lr=1e-2).fit(x)
    err = float(((sae.reconstruct(x) - x) ** 2).mean())
    assert err < 0.5 * float(x.var(0).mean())
    mlp = BackpropMLP(8, epochs=20, lr=1e-2).fit(x, y + 5)  # labels need not start at 0
    assert float((mlp.predict(x) == y + 5).float().mean()) > 0.95
    with pytest.raises(ValueError, match="supervised: call fit\\(x, y\\)"):
        BackpropMLP(8).fit(x)
    with pytest.raises(ValueError, match="y must hold 300 integer labels"):
        BackpropMLP(8).fit(x, y.float())
