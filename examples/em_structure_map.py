"""Map where EM lives in an existing model.

``em_structure`` traces the model (torch.fx, falling back to hooks), finds every operation
that normalises over alternatives (softmax, attention, LSE losses, competitive
activations), and measures each on an example input: entropy of its responsibilities,
dead alternatives, and whether its Jacobian behaves like an E-step.
Run: ``python examples/em_structure_map.py``.
"""

import torch
from torch import nn

from implicit_em.diagnostics import em_structure


class TinyTransformerBlock(nn.Module):
    """Self-attention, a feed-forward layer and a softmax classifier."""

    def __init__(self, d: int = 16, heads: int = 2, classes: int = 4):
        super().__init__()
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(d, 32), nn.GELU(), nn.Linear(32, d))
        self.head = nn.Linear(d, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x + self.attn(x, x, x, need_weights=False)[0]
        h = h + self.ff(h)
        return self.head(h.mean(1))


torch.manual_seed(0)
emap = em_structure(TinyTransformerBlock(), torch.randn(8, 10, 16), head="cross_entropy")
print(emap)
print(f"\n{len(emap.em_rows)} operation(s) perform an E-step")
