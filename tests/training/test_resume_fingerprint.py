"""Issue 22, high 3 and medium 9: a checkpoint records the work (model, loss, data) and
its settings; resuming under any change is refused, naming it, unless forced."""

import pytest
import torch
from torch import nn

from implicit_em.layers import build
from implicit_em.training import train, train_layerwise

g = torch.Generator().manual_seed(0)
X, Y = torch.randn(64, 6, generator=g), torch.randn(64, 1, generator=g)


def _mse(m, b):
    return ((m(b[0]) - b[1]) ** 2).mean()


def _fit(tmp_path, net=None, data=(X, Y), loss=_mse, **kw):
    net = net or nn.Linear(6, 1)
    train(net, loss, data, epochs=1, batch_size=16, checkpoint=tmp_path / "c.pt",
          progress=False, **kw)  # fmt: skip
    return net


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"data": (X + 1, Y)}, "data: checkpoint"),
        ({"grad_clip": 1.0}, "grad_clip: checkpoint None, now 1.0"),
        ({"amp": "bf16"}, "amp: checkpoint False, now 'bf16'"),
        ({"net": nn.Sequential(nn.Linear(6, 1))}, "model: checkpoint"),
        ({"loss": lambda m, b: (m(b[0]) - b[1]).abs().mean()}, "loss: checkpoint"),
    ],
)
def test_resuming_other_work_is_refused_naming_the_change(tmp_path, change, named):
    _fit(tmp_path)
    with pytest.raises(ValueError, match="written with other settings") as err:
        _fit(tmp_path, **change)
    assert named in str(err.value) and "resume='force'" in str(err.value)
    _fit(tmp_path, resume="force", **{k: v for k, v in change.items() if k != "net"})


def test_the_same_work_resumes(tmp_path):
    first = _fit(tmp_path)
    again = _fit(tmp_path)  # resumes at the end: nothing left to do, same weights
    assert torch.equal(first.weight, again.weight)


def test_a_changed_architecture_is_named_not_a_raw_size_mismatch(tmp_path):
    _fit(tmp_path)
    with pytest.raises(ValueError, match=r"model: checkpoint 'Linear\(in_features=6"):
        train(nn.Linear(6, 2), lambda m, b: m(b[0]).pow(2).mean(), (X,), epochs=1,
              batch_size=16, checkpoint=tmp_path / "c.pt", progress=False)  # fmt: skip


@pytest.mark.parametrize("change", ["objective", "data"])
def test_layerwise_does_not_reuse_checkpoints_of_other_work(tmp_path, change):
    torch.manual_seed(0)
    train_layerwise(build("6-4:iem(infomax)"), X, epochs=1, batch_size=16,
                    checkpoint_dir=tmp_path, progress=False)  # fmt: skip
    spec, x = "6-4:iem(infomax)", X
    if change == "objective":
        spec = "6-4:iem(decorrelation)"
    else:
        x = torch.randn(64, 6, generator=torch.Generator().manual_seed(5))  # same size
    with pytest.raises(ValueError, match="model: checkpoint" if change == "objective" else "data:"):
        train_layerwise(build(spec), x, epochs=1, batch_size=16, checkpoint_dir=tmp_path,
                        progress=False)  # fmt: skip


def test_a_last_batch_of_one_row_is_dropped_for_batch_statistics():
    """Issue 22, medium 10: n % batch_size == 1 with an InfoMax stage."""
    x = torch.randn(33, 6, generator=torch.Generator().manual_seed(2))
    res = train_layerwise(build("6-4:iem(infomax)-3:iem(decorrelation)"), x, epochs=2,
                          batch_size=16, progress=False)  # fmt: skip
    assert [r.steps for r in res.results] == [4, 4]  # 2 batches of 16 per epoch; 1 dropped
    plain = train(nn.Linear(6, 1), _mse, (x, torch.randn(33, 1)), epochs=1, batch_size=16,
                  progress=False)  # fmt: skip
    assert plain.steps == 3  # train() alone keeps it (min_batch=1)
