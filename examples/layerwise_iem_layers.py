"""Drop implicit-EM layers into a PyTorch model and train them layer by layer.

Each ``ImplicitEMLayer`` (at its defaults) divides its input by one number measured on
its first training batch (``input_norm="scale"``: the inputs can come at any scale),
computes distances ``d = 1/2 ||x - mu_j||^2`` to means placed at its first training
inputs, passes on the triangle activation of the distances and carries its own
objective (LSE plus the ``balance`` volume control), so a stack trains greedily with no
labels and no backprop across layers. A linear probe on the top layer then measures
what the features are worth.
Run: ``python examples/layerwise_iem_layers.py``.
"""

import torch

from _size import size
from implicit_em.data import load_dataset
from implicit_em.diagnostics import linear_probe
from implicit_em.layers import build
from implicit_em.training import train_layerwise

ds = load_dataset("digits", seed=0)  # 8x8 digits, bundled with scikit-learn
x, xt = (torch.as_tensor(a, dtype=torch.float32) for a in (ds.X_train, ds.X_test))
# the pixels as they come: each layer's input_norm="scale" measures their scale

torch.manual_seed(0)
net = build("64-64:iem-32:iem")  # two implicit-EM layers at their defaults
result = train_layerwise(net, x, epochs=size(20, 1), batch_size=128, lr=3e-3, progress=False)
print(f"trained stages {result.stages}, frozen inputs cached: {result.cached}")

with torch.no_grad():
    features, features_t = net(x), net(xt)
acc = linear_probe(features, ds.y_train, features_t, ds.y_test)["test_accuracy"]
print(f"linear probe on the top layer's features: {acc:.1%} test accuracy")
