r"""Why a stack of implicit-EM layers does (not) get better with depth: one row per layer.

:func:`stack_diagnostics` runs ``model(x)`` once in eval mode and, for every
:class:`~implicit_em.layers.ImplicitEMLayer` and
:class:`~implicit_em.layers.ImplicitEMConv2d` inside it (found by forward hooks, in call
order), measures on the input that layer saw (a conv layer's rows are its patches, one
per image and location):

=========================  ============================================================
``duplicate_prototypes``   units whose prototype lies within ``1e-4`` of another's
``dead_units``             units whose output is 0 on every row
``never_nearest``          units that are no row's nearest prototype
``near_duplicate_share``   share of live units whose output correlates above
                           ``redundant_corr`` (in ``|corr|``) with another unit's
                           (:func:`~implicit_em.diagnostics.near_duplicate_share`)
``usage_entropy``          entropy of the mean responsibilities / ``log K`` (1: all
                           units used alike; 0: one unit takes every row)
``responsibility_entropy`` mean entropy of a row's responsibilities / ``log K`` (1:
                           uniform, the temperature swamps the distances; 0: one-hot)
``spread_over_T``          median over rows of ``std_j d_j / T``: the distances' spread
                           in units of the temperature
``input_effective_rank``   effective rank of the (centred) input rows, and
``input_rank_share``       that rank over the input's width
=========================  ============================================================

Shapes: ``x`` is what ``model`` takes. Rows beyond ``max_rows`` are subsampled (a fixed
generator), so a conv layer on 60k images costs what 20k patches cost.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import check_count, check_tensor
from .redundancy import effective_rank, near_duplicate_share


def _rows(t: torch.Tensor, max_rows: int, g: torch.Generator) -> torch.Tensor:
    """``(n, K, H, W)`` -> ``(n H W, K)`` (or ``(n, K)`` as is), at most ``max_rows``."""
    rows = t.permute(0, 2, 3, 1).reshape(-1, t.shape[1]) if t.ndim == 4 else t
    return _sample(rows, max_rows, g)


def _sample(rows: torch.Tensor, max_rows: int, g: torch.Generator) -> torch.Tensor:
    if len(rows) > max_rows:
        rows = rows[torch.randperm(len(rows), generator=g)[:max_rows]]
    return rows.double()


def _row(module: nn.Module, inp: torch.Tensor, out: torch.Tensor, redundant_corr: float,
         max_rows: int, g: torch.Generator) -> dict:  # fmt: skip
    from ..layers import ImplicitEMConv2d, ImplicitEMLayer

    conv = isinstance(module, ImplicitEMConv2d)
    layer = module.layer if isinstance(module, ImplicitEMConv2d) else module
    assert isinstance(layer, ImplicitEMLayer)
    d = module.distances(inp) if isinstance(module, ImplicitEMConv2d) else layer.distances(inp)
    k = d.shape[1]
    d_rows = _rows(d, max_rows, g)
    r = torch.softmax(-d_rows / float(layer.temperature), 1)
    usage = r.mean(0)
    entropy = -(r * r.clamp_min(1e-300).log()).sum(1)
    w = layer.weight.detach().double()
    gap = torch.cdist(w, w).fill_diagonal_(math.inf)
    if isinstance(module, ImplicitEMConv2d):  # its patches: what prototypes meet
        inputs = _sample(module.patches(inp), max_rows, g)
    else:
        inputs = _rows(layer.normalise(inp), max_rows, g)
    out_rows = _rows(out, max_rows, g)
    rank = effective_rank(inputs, center=True)
    return {
        "kind": "conv" if conv else "dense",
        "units": k,
        "duplicate_prototypes": int((gap.amin(1) < 1e-4).sum()),
        "dead_units": int((out_rows.abs().amax(0) == 0).sum()),
        "never_nearest": k - int(torch.unique(d_rows.argmin(1)).numel()),
        "near_duplicate_share": near_duplicate_share(out_rows, redundant_corr),
        "usage_entropy": float(-(usage * usage.clamp_min(1e-300).log()).sum()) / math.log(k),
        "responsibility_entropy": float(entropy.mean()) / math.log(k),
        "spread_over_T": float(d_rows.std(1).median()) / float(layer.temperature),
        "input_effective_rank": rank,
        "input_rank_share": rank / inputs.shape[1],
    }


@torch.no_grad()
def stack_diagnostics(
    model: nn.Module,
    x: torch.Tensor,
    *,
    redundant_corr: float = 0.9,
    max_rows: int = 20000,
    seed: int = 0,
) -> list[dict]:
    """One dict per implicit-EM layer of ``model`` (see the module), in call order, each
    with its ``layer`` name in ``model`` and the measures above.

    Args:
        model: any module holding implicit-EM layers (dense or conv).
        x: a batch ``model`` takes (held-out rows, ideally).
        redundant_corr: ``|corr|`` above which two units' outputs are near duplicates.
        max_rows: rows (images x locations) measured per layer at most.
        seed: seeds the subsample.

    Raises:
        ValueError: ``model`` holds no implicit-EM layer, ``x`` has fewer than 2 rows,
            ``redundant_corr`` is not in ``(0, 1)`` or ``max_rows`` is below 2.

    Examples:
        >>> from implicit_em.layers import build
        >>> net = build("16-8:iem-4:iem")
        >>> x = torch.rand(64, 16, generator=torch.Generator().manual_seed(0))
        >>> _ = net[0].objective(x); _ = net[1].objective(net[0](x).detach())
        >>> [row["units"] for row in stack_diagnostics(net, x)]
        [8, 4]
    """
    from ..layers import ImplicitEMConv2d, ImplicitEMLayer

    if not 0 < redundant_corr < 1:
        raise ValueError(f"redundant_corr must be in (0, 1), got {redundant_corr!r}")
    max_rows = check_count(max_rows, "max_rows", low=2)
    check_tensor(x, "x")
    if x.ndim < 1 or len(x) < 2:
        raise ValueError(f"x must hold at least 2 rows (correlations and spreads), got "
                         f"shape {tuple(x.shape)}")  # fmt: skip
    names = {m: n for n, m in model.named_modules()}
    seen: list[tuple[nn.Module, torch.Tensor, torch.Tensor]] = []
    inner = {m.layer for m in model.modules() if isinstance(m, ImplicitEMConv2d)}
    hooks = [
        m.register_forward_hook(lambda mod, args, out: seen.append((mod, args[0], out)))
        for m in model.modules()
        if isinstance(m, ImplicitEMConv2d) or (isinstance(m, ImplicitEMLayer) and m not in inner)
    ]
    if not hooks:
        raise ValueError(
            f"model holds no ImplicitEMLayer or ImplicitEMConv2d ({type(model).__name__}): "
            "nothing to diagnose"
        )
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    g = torch.Generator().manual_seed(seed)
    return [
        {"layer": names[m], **_row(m, inp, out, redundant_corr, max_rows, g)}
        for m, inp, out in seen
    ]
