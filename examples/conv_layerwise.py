"""A two-layer convolutional implicit-EM stack, trained layer by layer, no labels.

Each ``ImplicitEMConv2d`` is an implicit-EM layer on every 3x3 patch: distances to K
prototype filters, responsibilities over the channels at each location, and its own
objective (LSE + ``balance``) over batch x locations. ``train_layerwise`` trains the first
on the images, freezes it, and trains the second on its pooled outputs; a linear probe
on the top layer's features then measures what they are worth.
Run: ``python examples/conv_layerwise.py``.
"""

import torch
from torch import nn

from _size import size
from implicit_em.data import load_dataset
from implicit_em.diagnostics import linear_probe
from implicit_em.layers import ImplicitEMConv2d
from implicit_em.training import train_layerwise

ds = load_dataset("digits", seed=0)  # 8x8 digits, bundled with scikit-learn
x, xt = (torch.as_tensor(a, dtype=torch.float32).view(-1, 1, 8, 8) / 16
         for a in (ds.X_train, ds.X_test))  # fmt: skip

torch.manual_seed(0)
net = nn.Sequential(
    ImplicitEMConv2d(1, 16, 3, padding=1, pool=("max", 2), input_norm="batch"),  # -> 16x4x4
    ImplicitEMConv2d(16, 32, 3, padding=1, pool=("max", 2), input_norm="batch"),  # -> 32x2x2
)
result = train_layerwise(net, x, epochs=size(10, 1), batch_size=64, lr=3e-3, progress=False)
print(f"trained stages {result.stages} in {result.wall_s:.1f} s")

with torch.no_grad():
    features, features_t = net.eval()(x).flatten(1), net(xt).flatten(1)
acc = linear_probe(features, ds.y_train, features_t, ds.y_test)["test_accuracy"]
print(f"linear probe on the second layer's {features.shape[1]} features: {acc:.1%} test accuracy")
