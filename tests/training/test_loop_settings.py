"""Issue 22, high 2: training settings outside their range are refused before any step."""

import pytest
import torch
from torch import nn

from implicit_em.training import train

X, Y = torch.randn(32, 3), torch.randn(32, 1)


def _mse(m, b):
    return ((m(b[0]) - b[1]) ** 2).mean()


@pytest.mark.parametrize(
    ("setting", "match"),
    [
        ({"grad_clip": -1.0}, r"grad_clip \(None turns clipping off\) must be a finite number > 0"),
        ({"grad_clip": 0.0}, r"grad_clip .* > 0, got 0.0"),
        ({"grad_clip": float("nan")}, r"grad_clip"),
        ({"lr": -1e-3}, r"lr must be a finite number > 0"),
        ({"lr": float("inf")}, r"lr must be a finite number"),
        ({"weight_decay": -0.1}, r"weight_decay must be a finite number >= 0"),
        ({"max_steps": -1}, r"max_steps \(None: no limit\) must be an integer >= 1"),
        ({"max_steps": 0}, r"max_steps"),
        ({"warmup_steps": -2}, r"warmup_steps must be an integer >= 0"),
        ({"checkpoint_every": 0}, r"checkpoint_every must be an integer >= 1"),
        ({"epochs": 2.5}, r"epochs must be an integer >= 1"),
        ({"batch_size": True}, r"batch_size must be an integer >= 1"),
    ],
)
def test_out_of_range_settings_are_refused_before_training(setting, match):
    net = nn.Linear(3, 1)
    before = [p.detach().clone() for p in net.parameters()]
    with pytest.raises(ValueError, match=match):
        train(net, _mse, (X, Y), epochs=setting.pop("epochs", 2), progress=False, **setting)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_a_positive_grad_clip_still_descends():
    torch.manual_seed(0)
    net = nn.Linear(3, 1)
    start = _mse(net, (X, Y)).item()
    train(net, _mse, (X, Y), epochs=20, batch_size=8, lr=1e-2, grad_clip=0.5, progress=False)
    assert _mse(net, (X, Y)).item() < start
