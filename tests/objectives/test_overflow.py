"""Issue 22, high 1: activations whose covariance squares overflow give a clear error or a
finite loss, never NaN or inf."""

import pytest
import torch

from implicit_em import objectives as O
from implicit_em.layers import ImplicitEMLayer

BIG = torch.randn(256, 8, generator=torch.Generator().manual_seed(0)) * 1e10


def test_infomax_without_the_penalty_is_finite_at_huge_scale():
    loss = O.gaussian_infomax(BIG)  # lam = 0: only the log-det, which is finite
    assert torch.isfinite(loss)
    ref = -torch.linalg.slogdet(torch.cov(BIG.double().T) + 1e-6 * torch.eye(8)).logabsdet
    assert float(loss) == pytest.approx(float(ref), rel=1e-4)


@pytest.mark.parametrize(
    "call",
    [
        lambda: O.gaussian_infomax(BIG, lam=1.0),
        lambda: O.gaussian_infomax(BIG, return_terms=True),
        lambda: O.covariance_objective(BIG, offdiag=1.0),
    ],
)
def test_the_off_diagonal_penalty_refuses_to_overflow(call):
    with pytest.raises(ValueError, match=r"off-diagonal penalty overflows torch\.float32"):
        call()


@pytest.mark.parametrize("distance", ["euclidean", "mahalanobis_diag"])
def test_a_layer_objective_at_huge_inputs_is_finite(distance):
    layer = ImplicitEMLayer(6, 8, distance=distance, objective="infomax")
    x = torch.randn(64, 6, generator=torch.Generator().manual_seed(1)) * 1e5
    assert torch.isfinite(layer.objective(x)["infomax"])
