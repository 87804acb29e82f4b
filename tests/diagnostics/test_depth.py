"""``stack_diagnostics``: each measure against a construction whose answer is known, and
against float64 formulas."""

import math

import pytest
import torch
from torch import nn

from implicit_em.diagnostics import effective_rank, stack_diagnostics
from implicit_em.layers import ImplicitEMConv2d, ImplicitEMLayer


def _placed(layer: ImplicitEMLayer, means: torch.Tensor) -> ImplicitEMLayer:
    with torch.no_grad():
        layer.weight.copy_(means)
        layer.n_filled.fill_(len(means))
    return layer


def test_duplicates_unused_and_dead_units_are_counted():
    g = torch.Generator().manual_seed(0)
    means = torch.tensor([[0.0, 0.0], [0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [50.0, 50.0]])
    layer = _placed(
        ImplicitEMLayer(2, 5, input_norm=None, temperature=1.0), means
    )  # units 0, 1 equal; 4 far from the data
    x = torch.cat([means[[0, 2, 3]][torch.randint(0, 3, (300,), generator=g)]])
    x = x + 0.3 * torch.randn(300, 2, generator=g)
    (row,) = stack_diagnostics(nn.Sequential(layer), x)
    assert row["layer"] == "0" and row["kind"] == "dense" and row["units"] == 5
    assert row["duplicate_prototypes"] == 2
    assert row["never_nearest"] >= 2  # the far unit, and one of the two equal ones
    assert row["dead_units"] >= 1  # the triangle output of the far unit is always 0
    assert row["near_duplicate_share"] >= 2 / 5  # the equal units' outputs are equal


def test_entropies_and_spread_follow_the_temperature():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 3, generator=g)
    means = torch.randn(6, 3, generator=g)
    rows = {}
    for t in (1e-3, 1.0, 1e4):
        layer = _placed(ImplicitEMLayer(3, 6, temperature=t, input_norm=None), means)
        rows[t] = stack_diagnostics(layer, x)[0]
    assert rows[1e4]["responsibility_entropy"] > 0.999
    assert rows[1e-3]["responsibility_entropy"] < 0.01
    d = 0.5 * torch.cdist(x.double(), means.double()) ** 2
    spread = float(d.std(1).median())
    assert rows[1.0]["spread_over_T"] == pytest.approx(spread, rel=1e-5)
    assert rows[1e4]["spread_over_T"] == pytest.approx(spread / 1e4, rel=1e-5)
    r = torch.softmax(-d, 1)
    usage = r.mean(0)
    want = float(-(usage * usage.log()).sum()) / math.log(6)
    assert rows[1.0]["usage_entropy"] == pytest.approx(want, rel=1e-5)
    assert rows[1.0]["input_effective_rank"] == pytest.approx(
        effective_rank(x.double(), center=True), rel=1e-9
    )


def test_a_conv_stack_gives_one_row_per_block_in_call_order():
    torch.manual_seed(0)
    net = nn.Sequential(ImplicitEMConv2d(1, 6, 3, padding=1), ImplicitEMConv2d(6, 4, 3))
    x = torch.rand(8, 1, 10, 10)
    net[0].objective(x)
    net[1].objective(net[0](x).detach())
    rows = stack_diagnostics(net, x)
    assert [(r["layer"], r["kind"], r["units"]) for r in rows] == [("0", "conv", 6),
                                                                   ("1", "conv", 4)]  # fmt: skip
    assert rows[0]["input_effective_rank"] <= 9 and 0 < rows[0]["input_rank_share"] <= 1
    assert net.training  # the mode is restored


def test_a_model_without_implicit_em_layers_is_refused():
    with pytest.raises(ValueError, match="holds no ImplicitEMLayer"):
        stack_diagnostics(nn.Linear(3, 2), torch.randn(4, 3))
    with pytest.raises(ValueError, match="redundant_corr must be in"):
        stack_diagnostics(ImplicitEMLayer(3, 2), torch.randn(4, 3), redundant_corr=1.5)
