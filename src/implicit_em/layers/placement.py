r"""Where an implicit-EM layer's prototypes start: distinct training inputs.

``init="data"`` places the means on training inputs (the dense layer's first rows, the
conv layer's patches at random locations). Two equal prototypes get equal gradients and
never separate, so a layer whose inputs repeat (MNIST patches are mostly background;
pooled or sparse features repeat too) would start with dead weight: before this, 33 of
96 conv prototypes on MNIST were exact copies of another, at initialisation and after
training. :func:`distinct_rows` keeps, in their order, the candidate rows that equal no
earlier candidate and no placed prototype; with ``informative_first`` the rows that are
not constant (a blank patch) come first and constant ones only when too few are left.
When the data offer nothing new, :func:`jittered` gives distinct copies of placed ones.

Shapes: ``rows (m, D)``, ``placed (p, D)``; returns ``(m', D)`` with ``m' <= m``.
"""

from __future__ import annotations

import torch


def _first_of_each(rows: torch.Tensor) -> torch.Tensor:
    """Indices of the first occurrence of every distinct row, in order ``(u,)``."""
    if len(rows) == 0:
        return torch.zeros(0, dtype=torch.long, device=rows.device)
    _, inverse = torch.unique(rows, dim=0, return_inverse=True)
    order = torch.arange(len(rows), device=rows.device)
    first = torch.full((int(inverse.max()) + 1,), len(rows), device=rows.device)
    first = first.scatter_reduce(0, inverse, order, "amin")
    return first.sort().values


def distinct_rows(
    rows: torch.Tensor, placed: torch.Tensor, *, informative_first: bool = False
) -> torch.Tensor:
    """The rows of ``rows`` that equal no earlier row and no row of ``placed``, in order
    (with ``informative_first``, the non-constant ones first).

    Examples:
        >>> rows = torch.tensor([[1.0, 2.0], [0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
        >>> distinct_rows(rows, torch.tensor([[3.0, 4.0]]))
        tensor([[1., 2.],
                [0., 0.]])
        >>> distinct_rows(rows, rows[:0], informative_first=True)
        tensor([[1., 2.],
                [3., 4.],
                [0., 0.]])
    """
    both = torch.cat([placed.to(rows.dtype), rows])
    keep = _first_of_each(both)
    out = both[keep[keep >= len(placed)]]
    if informative_first and len(out):
        low, high = torch.aminmax(out, dim=1)
        constant = high == low
        out = torch.cat([out[~constant], out[constant]])
    return out


def jittered(placed: torch.Tensor, need: int) -> torch.Tensor:
    """``need`` rows ``(need, D)``: placed rows ``(p >= 1, D)`` in turn, row ``i`` moved
    by ``(i + 1) delta u`` along one random direction ``u`` (``max |u| = 1``), ``delta``
    1e-3 of their spread and at least 16 rounding steps of the dtype, so two rows from
    one base differ by at least ``delta`` in some coordinate, even in half precision.

    Examples:
        >>> out = jittered(torch.ones(1, 2), 3)
        >>> out.shape, bool((torch.cdist(out, out) + torch.eye(3) > 0).all())
        (torch.Size([3, 2]), True)
    """
    base = placed[torch.arange(need, device=placed.device) % len(placed)]
    spread = placed.std() if len(placed) > 1 else placed.abs().max()
    step = max(1e-3, 16 * torch.finfo(base.dtype).eps)  # above half's resolution
    tiny = torch.finfo(base.dtype).tiny ** 0.5  # all-zero data: still representable
    scale = float(torch.maximum(spread, base.abs().max()).clamp_min(tiny))
    u = torch.randn_like(base[0])
    u = u / u.abs().max().clamp_min(1e-12)
    ladder = torch.arange(1, need + 1, dtype=base.dtype, device=base.device)[:, None]
    return base + step * scale * ladder * u
