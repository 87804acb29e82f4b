"""Issue 35, item 2: prototypes that start distinct (and, for patches, informative)."""

import torch

from implicit_em.layers import ImplicitEMConv2d, ImplicitEMLayer
from implicit_em.layers.placement import distinct_rows


def _closest_pair(w: torch.Tensor) -> float:
    d = torch.cdist(w.double(), w.double())
    d.fill_diagonal_(float("inf"))
    return float(d.min())


def test_distinct_rows_keeps_first_occurrences_in_order_and_skips_placed_ones():
    g = torch.Generator().manual_seed(0)
    base = torch.rand(6, 4, generator=g)
    rows = base[torch.tensor([0, 1, 0, 2, 3, 1, 4, 5])]
    torch.testing.assert_close(distinct_rows(rows, base[:0]), base, rtol=0, atol=0)
    torch.testing.assert_close(distinct_rows(rows, base[[1, 3]]), base[[0, 2, 4, 5]], rtol=0,
                               atol=0)  # fmt: skip
    assert len(distinct_rows(rows, base)) == 0


def test_constant_rows_come_last_when_asked():
    rows = torch.tensor([[0.0, 0.0], [1.0, 2.0], [5.0, 5.0], [2.0, 1.0]])
    out = distinct_rows(rows, rows[:0], informative_first=True)
    torch.testing.assert_close(out, rows[[1, 3, 0, 2]], rtol=0, atol=0)


def test_distinct_data_still_start_at_the_first_inputs():
    """The measured default (the first training inputs) is unchanged on distinct data."""
    x = torch.rand(32, 5, generator=torch.Generator().manual_seed(0))
    layer = ImplicitEMLayer(5, 8, input_norm=None, temperature=1.0)
    layer.objective(x)
    torch.testing.assert_close(layer.weight.detach(), x[:8], rtol=0, atol=0)


def test_repeated_rows_never_give_equal_means():
    x = torch.rand(4, 5, generator=torch.Generator().manual_seed(0)).repeat(8, 1)  # 32 rows
    layer = ImplicitEMLayer(5, 8, input_norm=None, temperature=1.0)
    layer.objective(x)  # 4 distinct rows: the other 4 means wait for new inputs
    assert layer._n_filled() == 4
    layer.objective(x)  # nothing new: jittered copies of the placed means
    assert layer.means_placed
    assert _closest_pair(layer.weight.detach()) > 0
    opt = torch.optim.Adam(layer.parameters(), 1e-2)
    for _ in range(20):
        loss = sum(layer.objective(x).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert _closest_pair(layer.weight.detach()) > 1e-4


def test_conv_prototypes_on_mostly_blank_images_start_distinct_and_informative():
    """Digit-like images: a bright stroke on a blank background, so most 5x5 patches are
    blank and many repeat. Before: a third of the prototypes were copies of another."""
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(16, 1, 20, 20)
    x[:, :, 6:14, 9:11] = torch.randint(1, 4, (16, 1, 8, 2), generator=g) / 4
    torch.manual_seed(0)
    conv = ImplicitEMConv2d(1, 24, 5, padding=2)
    opt = torch.optim.Adam(conv.parameters(), 1e-3)
    for step in range(10):
        loss = sum(conv.objective(x).values())
        if step == 0:
            w = conv.layer.weight.detach()
            assert _closest_pair(w) > 1e-4
            assert int(((w.amax(1) - w.amin(1)) == 0).sum()) == 0  # no blank patch
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert _closest_pair(conv.layer.weight.detach()) > 1e-4
