"""Greedy layer-wise training: stages, freezing, cached = recomputed, exact resume
mid-stage, errors before any training."""

import pytest
import torch
from torch import nn

from implicit_em.layers import ImplicitEMLayer, build
from implicit_em.training import Callback, train_layerwise

X = torch.randn(96, 6, generator=torch.Generator().manual_seed(0))


def _net():
    torch.manual_seed(0)
    return build("6-5:iem(infomax)-4:iem(infomax+balance)-2")


def _weights(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


def test_each_stage_trains_on_its_own_objective_then_freezes():
    net = _net()
    before = _weights(net)
    with torch.no_grad():
        first_before = sum(net[0].objective(X).values()).item()
    res = train_layerwise(net, X, epochs=[3, 2], batch_size=32, progress=False)
    assert res.stages == [0, 1] and res.cached == [True, True]
    assert [r.steps for r in res.results] == [9, 6]
    with torch.no_grad():
        assert sum(net[0].objective(X).values()).item() < first_before
    assert all(not p.requires_grad for p in net[0].parameters())
    assert all(not p.requires_grad for p in net[1].parameters())
    after = net.state_dict()
    assert not torch.equal(after["0.weight"], before["0.weight"])
    assert torch.equal(after["2.weight"], before["2.weight"])  # the head is not a stage


def test_stage_two_sees_stage_one_frozen_outputs():
    seen = []

    def spy(m, z):
        seen.append(z.detach())
        return m.objective(z)

    net = _net()
    train_layerwise(net, X, objectives={1: spy}, epochs=1, batch_size=96, progress=False)
    with torch.no_grad():
        want = net[0](X)  # layer 1's outputs after its training (rows in shuffled order)
    torch.testing.assert_close(seen[0].sort(0).values, want.sort(0).values)


def test_cached_and_recomputed_inputs_give_the_same_weights():
    a, b = _net(), _net()
    ra = train_layerwise(a, X, epochs=2, batch_size=32, progress=False)
    rb = train_layerwise(b, X, epochs=2, batch_size=32, cache_bytes=0, progress=False)
    assert ra.cached == [True, True] and rb.cached == [True, False]  # stage 0 needs none
    for k, v in a.state_dict().items():
        torch.testing.assert_close(v, b.state_dict()[k], rtol=1e-5, atol=1e-6)


class _Interrupt(Callback):
    def __init__(self, at_stage_step):
        self.at, self.calls = at_stage_step, 0

    def on_step_end(self, state):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt


def test_resuming_mid_stage_gives_the_weights_of_an_uninterrupted_run(tmp_path):
    whole = _net()
    train_layerwise(whole, X, epochs=3, batch_size=16, progress=False)
    cut = _net()
    with pytest.raises(KeyboardInterrupt):  # stops in stage 2, after 18 + 7 steps
        train_layerwise(
            cut, X, epochs=3, batch_size=16, checkpoint_dir=tmp_path, progress=False,
            checkpoint_every=1, callbacks=[_Interrupt(25)],
        )  # fmt: skip
    assert (tmp_path / "stage-0.pt").exists() and (tmp_path / "stage-1.pt").exists()
    again = _net()  # a fresh process: weights from the checkpoints only
    res = train_layerwise(
        again, X, epochs=3, batch_size=16, checkpoint_dir=tmp_path, progress=False,
        checkpoint_every=1, callbacks=[_Interrupt(10**9)],  # the same callbacks, silent
    )  # fmt: skip
    assert res.results[1].resumed_from == 6
    for k, v in whole.state_dict().items():
        torch.testing.assert_close(again.state_dict()[k], v)


def test_errors_before_any_training():
    with pytest.raises(ValueError, match="no stage to train"):
        train_layerwise(nn.Sequential(nn.Linear(6, 3)), X, progress=False)
    with pytest.raises(ValueError, match="objectives has index 5"):
        train_layerwise(_net(), X, objectives={5: lambda m, z: z.sum()}, progress=False)
    with pytest.raises(ValueError, match="epochs has 3 entries for 2 stages"):
        train_layerwise(_net(), X, epochs=[1, 1, 1], progress=False)
    mismatched = nn.Sequential(ImplicitEMLayer(6, 5), ImplicitEMLayer(7, 3))
    before = _weights(mismatched)
    with pytest.raises(ValueError, match=r"do not chain on x: x must have shape \(n, 7\)"):
        train_layerwise(mismatched, X, progress=False)
    assert all(torch.equal(v, before[k]) for k, v in mismatched.state_dict().items())
    with pytest.raises(
        ValueError, match=r"x must be a \(n, D\) or \(n, C, H, W\) tensor with n >= 2"
    ):
        train_layerwise(_net(), X[:1], progress=False)
    with pytest.raises(TypeError, match=r"nn\.Sequential or a list of modules"):
        train_layerwise(nn.Linear(6, 3), X, progress=False)


def test_finetune_end_to_end_plain_and_with_the_layer_objectives():
    from implicit_em.training import finetune
    from implicit_em.training.layerwise import _EndToEnd

    y = torch.randint(0, 2, (len(X),), generator=torch.Generator().manual_seed(1))

    def ce(out, batch):
        return nn.functional.cross_entropy(out, batch[1])

    net = _net()
    train_layerwise(net, X, epochs=1, batch_size=32, progress=False)
    frozen = _weights(net)
    res = finetune(net, (X, y), ce, epochs=2, batch_size=32, progress=False)
    assert "layers" not in res.history[-1] and "task" in res.history[-1]
    for k, v in net.state_dict().items():  # every weight trains again, frozen or not
        if k.endswith("weight"):
            assert not torch.equal(v, frozen[k]), k
    # the auxiliary term is each stage's objective on its own input, weighted
    with torch.no_grad():
        terms = _EndToEnd(list(net), [0, 1], ce, 0.5)(X, y)
        want = sum(net[0].objective(X).values()) + sum(net[1].objective(net[0](X)).values())
        torch.testing.assert_close(terms["layers"], 0.5 * want)
        torch.testing.assert_close(terms["task"], ce(net(X), (X, y)))
    a, b = _net(), _net()  # layer_weight=0 is the plain fine-tuning
    finetune(a, (X, y), ce, epochs=1, batch_size=32, progress=False)
    finetune(b, (X, y), ce, layer_weight=0.0, epochs=1, batch_size=32, progress=False)
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    with pytest.raises(ValueError, match="layer_weight must be a number >= 0"):
        finetune(_net(), (X, y), ce, layer_weight=-1.0, progress=False)
    with pytest.raises(ValueError, match="needs stages"):
        finetune(nn.Sequential(nn.Linear(6, 2)), (X, y), ce, layer_weight=1.0, progress=False)


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_two_gloo_processes_train_like_one_on_the_global_batch(tmp_path, run_script, kind):
    script = "layerwise_ddp_script.py"
    single, ddp = tmp_path / "single.pt", tmp_path / "ddp.pt"
    run_script(script, single, kind)
    run_script(script, ddp, kind, processes=2)
    a, b = torch.load(single), torch.load(ddp)
    assert a["steps"] == b["steps"] == [8, 8]
    for k in a["state"]:
        torch.testing.assert_close(a["state"][k], b["state"][k], rtol=0, atol=1e-10)
