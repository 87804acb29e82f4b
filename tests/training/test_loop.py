"""The training loop: convergence, named terms, exact resume, errors, AMP, DDP."""

import pytest
import torch
from torch import nn

from implicit_em.diagnostics import Monitor, unit_health
from implicit_em.training import Callback, train


def _data(n=120, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [0.0]]) + 0.3
    return x, y


def _mse(m, batch):
    return ((m(batch[0]) - batch[1]) ** 2).mean()


def test_loss_decreases_and_history_has_named_terms():
    x, y = _data()
    torch.manual_seed(0)
    net = nn.Linear(4, 1)

    def loss_fn(m, batch):
        err = ((m(batch[0]) - batch[1]) ** 2).mean()
        return {"mse": err, "l2": 1e-3 * m.weight.pow(2).sum()}

    res = train(net, loss_fn, (x, y), epochs=30, batch_size=32, lr=0.05, progress=False)
    assert res.steps == 30 * 4 and len(res.history) == 30
    first, last = res.history[0], res.history[-1]
    assert set(first) >= {"epoch", "step", "lr", "wall_s", "loss", "mse", "l2"}
    assert last["loss"] == pytest.approx(last["mse"] + last["l2"], rel=1e-6)
    assert last["mse"] < 0.01 * first["mse"]


class Interrupt(Callback):
    def __init__(self, at):
        self.at, self.calls = at, 0

    def on_step_end(self, state):
        self.calls += 1
        if state.step == self.at:
            raise KeyboardInterrupt


def _model():
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))


def _monitor(x):
    return Monitor({"health": lambda m: unit_health(m[:2](x))}, every=5)


@pytest.mark.parametrize("interrupt_at", [7, 12, 22])
def test_resume_gives_the_same_final_weights(tmp_path, interrupt_at):
    x, y = _data()
    kw = {
        "epochs": 4,
        "batch_size": 20,
        "lr": 1e-2,
        "schedule": "cosine",
        "warmup_steps": 3,
        "seed": 11,
        "progress": False,
        "checkpoint_every": 5,
    }
    ref_mon = _monitor(x)
    ref = train(_model(), _mse, (x, y), callbacks=[ref_mon], **kw)

    ck = tmp_path / "ck.pt"
    mon = _monitor(x)
    with pytest.raises(KeyboardInterrupt):
        train(_model(), _mse, (x, y), callbacks=[mon, Interrupt(interrupt_at)], checkpoint=ck, **kw)
    assert ck.exists()
    mon2 = _monitor(x)
    counter = Interrupt(-1)
    res = train(_model(), _mse, (x, y), callbacks=[mon2, counter], checkpoint=ck, **kw)
    assert res.resumed_from == (interrupt_at // 5) * 5 and res.steps == ref.steps
    assert counter.calls == ref.steps - res.resumed_from  # only the remaining steps ran
    for a, b in zip(ref.model.state_dict().values(), res.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert res.history == [
        dict(h, wall_s=r["wall_s"]) for h, r in zip(ref.history, res.history, strict=True)
    ]
    assert [r["step"] for r in mon2.history] == [r["step"] for r in ref_mon.history]
    assert mon2.history[-1]["health.dead_activity"] == ref_mon.history[-1]["health.dead_activity"]


def test_finished_checkpoint_is_not_retrained(tmp_path):
    x, y = _data()
    ck = tmp_path / "ck.pt"
    a = train(nn.Linear(4, 1), _mse, (x, y), epochs=2, batch_size=40, checkpoint=ck, progress=False)
    b = train(nn.Linear(4, 1), _mse, (x, y), epochs=2, batch_size=40, checkpoint=ck, progress=False)
    assert b.resumed_from == a.steps == b.steps == 6
    assert torch.equal(a.model.weight, b.model.weight)


def test_nan_loss_raises_and_bad_arguments():
    x, y = _data()
    x[5, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="loss became nan at step 0"):
        train(nn.Linear(4, 1), _mse, (x, y), batch_size=200, progress=False)
    with pytest.raises(ValueError, match="first dimension"):
        train(nn.Linear(4, 1), _mse, (x, y[:5]), progress=False)
    with pytest.raises(ValueError, match="optimizer"):
        train(nn.Linear(4, 1), _mse, (x, y), optimizer="lbfgs", progress=False)
    with pytest.raises(ValueError, match="amp"):
        train(nn.Linear(4, 1), _mse, (x, y), amp="fp8", progress=False)
    with pytest.raises(TypeError, match="scalar tensor"):
        train(nn.Linear(4, 1), lambda m, b: 1.0, (x, y), progress=False)
    with pytest.raises(ValueError, match="scalar"):
        train(nn.Linear(4, 1), lambda m, b: m(b[0]), (x, y), progress=False)


def test_bf16_autocast_on_cpu_trains():
    x, y = _data()
    res = train(
        nn.Linear(4, 1), _mse, (x, y), epochs=20, batch_size=30, lr=0.05, amp="bf16", progress=False
    )
    assert res.history[-1]["loss"] < 0.1 * res.history[0]["loss"]


def test_map_style_dataset_and_max_steps():
    x, y = _data(50)
    ds = torch.utils.data.TensorDataset(x, y)
    res = train(nn.Linear(4, 1), _mse, ds, epochs=5, batch_size=8, max_steps=9, progress=False)
    assert res.steps == 9


def test_ddp_two_gloo_processes_match_one_process(tmp_path, run_script):
    script = "ddp_train_script.py"
    single, ddp = tmp_path / "single.pt", tmp_path / "ddp.pt"
    run_script(script, single)
    run_script(script, ddp, processes=2)
    a, b = torch.load(single), torch.load(ddp)
    assert a["steps"] == b["steps"] == 12
    for k in a["state"]:
        torch.testing.assert_close(a["state"][k], b["state"][k], rtol=0, atol=1e-12)


def test_monitor_records_every_n_steps_flattens_dicts_and_restores_mode():
    x, y = _data(64)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 1))
    seen_modes = []

    def probe(m):
        seen_modes.append(m.training)
        return {"a": 1.0, "b": unit_health(m[:2](x))["dead_activity"]}

    mon = Monitor({"p": probe, "w": lambda m: m[0].weight.norm()}, every=3)
    res = train(net, _mse, (x, y), epochs=2, batch_size=16, callbacks=[mon], progress=False)
    assert [r["step"] for r in mon.history] == [0, 3, 6, 8]  # start, every 3, end
    assert set(mon.history[0]) == {"step", "epoch", "p.a", "p.b", "w"}
    steps, values = mon.series("w")
    assert steps == [0, 3, 6, 8] and values[-1] == pytest.approx(
        float(net[0].weight.detach().norm())
    )
    assert not any(seen_modes) and net.training and res.steps == 8
    with pytest.raises(ValueError, match="probe"):
        Monitor({})
    with pytest.raises(ValueError, match="every"):
        Monitor({"a": lambda m: 0.0}, every=0)


# ---------------------------------------------------------------- robustness (issue 10)


def _poisoned_setup(from_step):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(256, 4, generator=g), torch.randint(0, 3, (256,), generator=g)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    calls = {"n": 0}

    def loss_fn(m, batch):
        calls["n"] += 1
        ce = nn.functional.cross_entropy(m(batch[0]), batch[1])
        if calls["n"] > from_step:  # finite loss, NaN gradient (sqrt'(0) * 0)
            ce = ce + 0 * torch.sqrt(m[0].weight.sum() * 0)
        return ce

    return model, loss_fn, (x, y)


def test_nan_gradient_with_finite_loss_is_refused_before_the_step(tmp_path):
    model, loss_fn, data = _poisoned_setup(from_step=10)  # steps are counted from 0
    ck = tmp_path / "ck.pt"
    before = None

    class Snapshot(Callback):
        def on_step_end(self, state):
            nonlocal before
            before = {k: v.clone() for k, v in state.model.state_dict().items()}

    with pytest.raises(FloatingPointError, match=r"step 10 \(epoch 1\) in 0\.weight"):
        train(
            model, loss_fn, data, epochs=2, batch_size=32, progress=False, checkpoint=ck,
            checkpoint_every=4, callbacks=[Snapshot()],
        )  # fmt: skip
    # the refused step wrote nothing: the weights are those after step 9, all finite
    for k, v in model.state_dict().items():
        assert torch.isfinite(v).all(), k
        assert torch.equal(v, before[k]), k
    saved = torch.load(ck, weights_only=False)
    assert saved["position"]["step"] == 8  # the last good checkpoint is kept
    assert all(torch.isfinite(v).all() for v in saved["model"].values())


def test_nan_gradient_on_the_last_step_raises_instead_of_returning_nan_weights():
    model, loss_fn, data = _poisoned_setup(from_step=15)  # the last of 2 x 8 steps
    with pytest.raises(FloatingPointError, match="step 15"):
        train(model, loss_fn, data, epochs=2, batch_size=32, progress=False)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_check_finite_gradients_names_the_parameters_and_passes_finite_ones():
    from implicit_em.training.loop import check_finite_gradients

    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    for p in net.parameters():
        p.grad = torch.ones_like(p) * 1e30  # huge but finite: no false alarm
    check_finite_gradients(net, list(net.parameters()), 3, 0)
    net[1].bias.grad[0] = float("inf")
    with pytest.raises(FloatingPointError, match=r"step 3 \(epoch 0\) in 1\.bias"):
        check_finite_gradients(net, list(net.parameters()), 3, 0)


def test_resume_with_other_settings_raises_listing_them(tmp_path):
    x, y = _data()
    ck = tmp_path / "ck.pt"
    kw = {"epochs": 2, "batch_size": 20, "lr": 1e-2, "progress": False, "checkpoint": ck}
    train(_model(), _mse, (x, y), **kw)
    with pytest.raises(ValueError, match=r"batch_size: checkpoint 20, now 30.*lr: checkpoint"):
        train(_model(), _mse, (x, y), **{**kw, "batch_size": 30, "lr": 0.1})
    with pytest.raises(ValueError, match="n_samples: checkpoint 120, now 100"):
        train(_model(), _mse, (x[:100], y[:100]), **kw)
    with pytest.raises(ValueError, match="epochs: checkpoint 2, now 3"):
        train(_model(), _mse, (x, y), **{**kw, "epochs": 3})
    forced = train(_model(), _mse, (x, y), **{**kw, "epochs": 3, "resume": "force"})
    assert forced.resumed_from == 12 and forced.steps == 18
    with pytest.raises(ValueError, match="resume must be"):
        train(_model(), _mse, (x, y), **{**kw, "resume": "yes"})


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "not_a_checkpoint"])
def test_damaged_checkpoint_names_the_file_and_keeps_it(tmp_path, damage):
    from implicit_em.training import CheckpointError

    x, y = _data()
    ck = tmp_path / "ck.pt"
    kw = {"epochs": 1, "batch_size": 20, "progress": False, "checkpoint": ck}
    train(_model(), _mse, (x, y), **kw)
    raw = ck.read_bytes()
    if damage == "truncate":
        ck.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        ck.write_bytes(b"\x00garbage" * 100)
    elif damage == "empty":
        ck.write_bytes(b"")
    else:
        torch.save({"weights": torch.ones(2)}, ck)
    damaged = ck.read_bytes()
    with pytest.raises(CheckpointError, match=str(ck).replace("\\", "\\\\")):
        train(_model(), _mse, (x, y), **kw)
    assert ck.read_bytes() == damaged
    assert issubclass(CheckpointError, ValueError)


def test_fp16_grad_scaler_keeps_its_own_skip_logic():
    model, loss_fn, data = _poisoned_setup(from_step=10)
    res = train(model, loss_fn, data, epochs=2, batch_size=32, amp="fp16", progress=False)
    assert res.steps == 16  # the scaler skipped the non-finite steps instead of raising
    assert all(torch.isfinite(p).all() for p in model.parameters())
