r"""The implicit-EM layer's two default terms from one softmax: the LSE loss and the
balance term, whose gradients both run through the responsibilities ``r = softmax(-s)``.

For scaled distances ``s`` ``(n, K)`` (``d / T``), with ``Z_n = sum_j exp(-s_nj)`` and the
usage ``u = mean_n r_n``:

* LSE loss ``-mean_n log Z_n``, gradient ``r / n``;
* balance ``sum_j u_j log u_j`` (:func:`~implicit_em.objectives.responsibility_entropy`
  with ``mode="balance"``), gradient ``-(r / n) (log u - r . log u)``.

Computed apart (:func:`~implicit_em.lse.lse_loss` and ``responsibility_entropy``), they
take two softmaxes and autograd's backward of each; here one forward pass keeps ``r`` and
``log u``, and the backward is the two formulas above in three element-wise passes.
"""

from __future__ import annotations

import math

import torch

from ..lse import above_subnormal, prepare_distances


class _LseBalance(torch.autograd.Function):
    @staticmethod
    def forward(ctx, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, _, top = prepare_distances(s, 1, None, name="d / T")  # top = max_j(-s): checked
        # exponents floored so that r = e / z >= e tiny (z <= K): neither exp nor the
        # division returns a subnormal; a term below e K tiny of a sum >= 1 counts as that
        e = above_subnormal(-s - top, math.log(s.shape[1])).exp_()
        z = e.sum(1, keepdim=True)  # >= 1
        r = e.div_(z)
        usage = r.mean(0)
        log_u = usage.clamp_min(1e-30).log()
        ctx.save_for_backward(r, log_u)
        return -(z.log() + top).mean(), (usage * log_u).sum()

    @staticmethod
    def backward(ctx, g_lse: torch.Tensor, g_balance: torch.Tensor) -> torch.Tensor:
        r, log_u = ctx.saved_tensors
        centred = log_u - (r @ log_u)[:, None]  # log u_k - sum_j r_nj log u_j
        return r * (g_lse - g_balance * centred) / r.shape[0]


def lse_and_balance(s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(lse_loss(s), responsibility_entropy(s, "balance"))`` for ``s`` ``(n, K)``, from
    one softmax (see the module); float16 / bfloat16 are computed in float32.

    Examples:
        >>> from implicit_em.lse import lse_loss
        >>> s = torch.tensor([[0.0, 1.0], [2.0, 0.5]])
        >>> lse, balance = lse_and_balance(s)
        >>> bool(torch.isclose(lse, lse_loss(s)))
        True
    """
    if s.ndim != 2:
        raise ValueError(f"s must be (n, K) scaled distances, got shape {tuple(s.shape)}")
    if s.dtype in (torch.float16, torch.bfloat16):
        s = s.float()
    return _LseBalance.apply(s)
