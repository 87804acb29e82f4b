"""Check the implicit-EM identity on your own model's classification head.

A linear head produces logits ``s = W h + b``; read as distances ``d = -s``, cross-entropy
is ``-log r_y`` with ``r = softmax(-d)``, and its gradient with respect to ``d`` is exactly
``y - r`` (the E-step, clamped by the label). The same holds for an unsupervised LSE loss,
whose gradient is ``-r``. Run: ``python examples/check_identity.py``.
"""

import torch
from torch import nn

from implicit_em import identities, lse

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))  # your model
x, y = torch.randn(64, 20), torch.randint(0, 5, (64,))

d = -model(x)  # the head's distances, (batch, classes)
print(f"max |dCE/dd - (y - r)| = {identities.cross_entropy_gradient_error(d.detach(), y):.1e}")
print(f"max |dL/dd + r|        = {identities.responsibility_gradient_error(d.detach()):.1e}")

# the gradient reaching the head *is* the responsibility: compare with autograd directly
d = d.detach().requires_grad_(True)
lse.distance_cross_entropy(d, y, reduction="sum").backward()
r = lse.responsibilities(d.detach())
assert torch.allclose(d.grad, nn.functional.one_hot(y, 5) - r, atol=1e-6)
print("cross-entropy's gradient on the distances is y - r: the E-step, clamped by the label")
