"""Issue 34: one contract for "the same work", and checkpoints that cannot run code.

A checkpoint records what decides the result -- the data's content, the loss, optimiser
and schedule as values (not names), the model and the settings -- and a resume under any
change of it is refused, naming the change; the same work, rebuilt from scratch as a
re-run of a script would, resumes (bit for bit). A checkpoint file is read without
running code, and every damage gives one clear CheckpointError.

The kinds this file covers for the project's bad-input contract: "data-changing
resumes" (test_data_changing_resumes_are_refused_naming_the_data) and "damaged
checkpoints" (test_every_damage_gives_a_checkpoint_error_and_keeps_the_file).
"""

import functools
import io
import os
import pathlib
import random
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from implicit_em.diagnostics import Monitor, unit_health
from implicit_em.training import Callback, CheckpointError, load_checkpoint, train

g = torch.Generator().manual_seed(0)
X, Y = torch.randn(64, 6, generator=g), torch.randn(64, 1, generator=g)


def _mse(m, b):
    return ((m(b[0]) - b[1]) ** 2).mean()


def _fit(ck, *, data=(X, Y), loss=_mse, init=0, **kw):
    torch.manual_seed(init)
    kw = {"epochs": 1, "batch_size": 16, "progress": False, **kw}
    return train(nn.Linear(6, 1), loss, data, checkpoint=ck, **kw)


class _Items(Dataset):
    """A general map-style dataset (not a TensorDataset): items read one by one."""

    def __init__(self, x, y, noise=0.0):
        self.x, self.y, self.noise, self.reads = x, y, noise, 0

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        self.reads += 1
        x = self.x[i]
        if self.noise:  # a random augmentation, from the global generators
            x = x + self.noise * torch.randn(x.shape) + random.random() + np.random.rand()  # noqa: NPY002
        return x, self.y[i]


# ---------------------------------------------------------------- data-changing resumes

_ONE_ULP = X.clone()
_ONE_ULP[17, 3] = torch.nextafter(_ONE_ULP[17, 3], torch.tensor(9.0))

DATA_CHANGES = {
    "TensorDataset of other tensors, same length": (
        lambda: TensorDataset(X, Y),
        lambda: TensorDataset(5 * X, -Y),
    ),
    "map Dataset, items permuted": (lambda: _Items(X, Y), lambda: _Items(X.flip(0), Y)),
    "map Dataset, one value one ulp off": (lambda: _Items(X, Y), lambda: _Items(_ONE_ULP, Y)),
    "tensors, one value one ulp off": (lambda: (X, Y), lambda: (_ONE_ULP, Y)),
}


@pytest.mark.parametrize("kind", DATA_CHANGES)
def test_data_changing_resumes_are_refused_naming_the_data(tmp_path, kind):
    before, after = DATA_CHANGES[kind]
    ck = tmp_path / "c.pt"
    _fit(ck, data=before())
    assert _fit(ck, data=before()).resumed_from == 4  # the same content, rebuilt: resumes
    with pytest.raises(ValueError, match=r"data: checkpoint '[0-9a-f]+', now '[0-9a-f]+'"):
        _fit(ck, data=after())
    assert _fit(ck, data=after(), resume="force").resumed_from == 4


def test_a_randomly_augmented_dataset_reads_the_same_and_leaves_the_generators_alone(tmp_path):
    from implicit_em.training.loop import _as_source

    states = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())  # noqa: NPY002
    prints = {_as_source(_Items(X, Y, noise=0.5)).fingerprint() for _ in range(2)}
    assert len(prints) == 1  # read under a fixed seed: the same print every time
    assert torch.equal(states[0], torch.get_rng_state()) and states[1] == random.getstate()
    assert np.array_equal(states[2], np.random.get_state()[1])  # noqa: NPY002
    ck = tmp_path / "c.pt"
    _fit(ck, data=_Items(X, Y, noise=0.5))
    assert _fit(ck, data=_Items(X, Y, noise=0.5)).resumed_from == 4
    with pytest.raises(ValueError, match="data: checkpoint"):
        _fit(ck, data=_Items(X, Y, noise=0.6))


def test_a_dataset_with_its_own_fingerprint_is_not_read_for_it(tmp_path):
    class Named(_Items):
        def __init__(self, x, y, version):
            super().__init__(x, y)
            self.version = version

        def fingerprint(self):
            return f"files v{self.version}"

    ds = Named(X, Y, 1)
    from implicit_em.training.loop import _as_source

    assert _as_source(ds).fingerprint().endswith("Named.fingerprint() files v1")
    assert ds.reads == 0
    _fit(tmp_path / "c.pt", data=ds)
    with pytest.raises(ValueError, match=r"data: checkpoint '\S+Named.fingerprint\(\) files v1'"):
        _fit(tmp_path / "c.pt", data=Named(X, Y, 2))


# ------------------------------------------------- the loss, optimiser, schedule as values


def _scaled_mse(m, b, scale=1.0):
    return scale * _mse(m, b)


def _closure(scale):
    return lambda m, b: scale * _mse(m, b)


def _with_default(scale):
    def loss(m, b, scale=scale):
        return scale * _mse(m, b)

    return loss


class _Loss:
    def __init__(self, scale):
        self.scale = scale

    def __call__(self, m, b):
        return self.scale * _mse(m, b)


class _Weighted:
    def __init__(self, w):
        self.w = torch.tensor([w, 1.0])

    def loss(self, m, b):
        return self.w[0] * _mse(m, b)


_GLOBAL_SCALE = 1.0


def _global_scaled(m, b):
    return _GLOBAL_SCALE * _mse(m, b)


LOSSES = {
    "functools.partial": lambda s: functools.partial(_scaled_mse, scale=s),
    "closure (lambda)": _closure,
    "default argument": _with_default,
    "callable object": _Loss,
    "bound method (tensor state)": lambda s: _Weighted(s).loss,
}


@pytest.mark.parametrize("kind", LOSSES)
def test_a_loss_is_fingerprinted_as_a_value(tmp_path, kind):
    make, ck = LOSSES[kind], tmp_path / "c.pt"
    _fit(ck, loss=make(1.0))
    assert _fit(ck, loss=make(1.0)).resumed_from == 4  # rebuilt, same values: resumes
    with pytest.raises(ValueError, match="written with other settings") as err:
        _fit(ck, loss=make(2.0))
    message = str(err.value)
    assert "loss: checkpoint '" in message and "', now '" in message
    assert message.count("loss: ") == 1 and "data:" not in message  # only the loss named
    assert _fit(ck, loss=make(2.0), resume="force").resumed_from == 4


def test_a_global_the_loss_reads_counts(tmp_path, monkeypatch):
    _fit(tmp_path / "c.pt", loss=_global_scaled)
    monkeypatch.setitem(_global_scaled.__globals__, "_GLOBAL_SCALE", 3.0)
    with pytest.raises(ValueError, match="loss: checkpoint"):
        _fit(tmp_path / "c.pt", loss=_global_scaled)


def test_a_loss_closing_over_the_trained_model_ignores_its_weights(tmp_path):
    def run(init):
        torch.manual_seed(init)
        net = nn.Linear(6, 1)
        loss = lambda m, b: _mse(m, b) + 0.0 * net.weight.sum()  # noqa: E731
        return train(net, loss, (X, Y), epochs=1, batch_size=16, progress=False,
                     checkpoint=tmp_path / "c.pt")  # fmt: skip

    first = run(init=0)
    again = run(init=1)  # other initial weights: the checkpoint restores them anyway
    assert again.resumed_from == 4 and torch.equal(first.model.weight, again.model.weight)


def _decay(opt, total_steps, gamma):
    return torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=gamma)


OPTIMIZERS = {
    "lambda over lr": lambda lr: lambda p: torch.optim.SGD(p, lr=lr),
    "functools.partial": lambda lr: functools.partial(torch.optim.SGD, lr=lr, momentum=0.9),
}
SCHEDULES = {
    "functools.partial": lambda gamma: functools.partial(_decay, gamma=gamma),
    "lambda of a lambda": lambda gamma: (
        lambda opt, total: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: gamma**s)
    ),
}


@pytest.mark.parametrize(("what", "kind"), [("optimizer", k) for k in OPTIMIZERS]
                         + [("schedule", k) for k in SCHEDULES])  # fmt: skip
def test_an_optimiser_or_schedule_factory_is_fingerprinted_as_a_value(tmp_path, what, kind):
    make = (OPTIMIZERS if what == "optimizer" else SCHEDULES)[kind]
    ck = tmp_path / "c.pt"
    _fit(ck, **{what: make(0.5)})
    assert _fit(ck, **{what: make(0.5)}).resumed_from == 4  # rebuilt, same values: resumes
    with pytest.raises(ValueError, match=f"{what}: checkpoint '") as err:
        _fit(ck, **{what: make(0.1)})  # before: resumed, keeping the old lr / decay
    assert "now '" in str(err.value)
    assert _fit(ck, resume="force", **{what: make(0.1)}).resumed_from == 4


def test_an_interrupted_run_of_values_resumes_bit_for_bit(tmp_path):
    """Closure loss, map Dataset, partial optimiser and schedule: all rebuilt for the
    resume (as a re-run of the script would) and still the same work."""

    class Interrupt(Callback):
        def __init__(self, at):
            self.at = at

        def on_step_end(self, state):
            if state.step == self.at:
                raise KeyboardInterrupt

    def run(ck, callbacks=None):
        torch.manual_seed(3)
        net = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Dropout(0.1), nn.Linear(8, 1))
        return train(
            net, _closure(0.5), _Items(X.clone(), Y.clone()), epochs=3, batch_size=16,
            optimizer=functools.partial(torch.optim.SGD, lr=0.05, momentum=0.9),
            schedule=functools.partial(_decay, gamma=0.7),
            checkpoint=ck, checkpoint_every=3, callbacks=callbacks or [Interrupt(-1)],
            progress=False, seed=5,
        )  # fmt: skip

    ref = run(tmp_path / "ref.pt")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "c.pt", [Interrupt(7)])
    res = run(tmp_path / "c.pt")
    assert res.resumed_from == 6 and res.steps == ref.steps == 12
    for a, b in zip(ref.model.state_dict().values(), res.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


_SCRIPT = """
import functools, torch
from implicit_em._fingerprint import fingerprint
from implicit_em.training.loop import _as_source
torch.manual_seed(0)
names = {"alpha", "beta", "gamma", "delta"}  # iteration order depends on PYTHONHASHSEED
table = {"b": 2.0, "a": 1.0}
def make(k):
    return lambda m, b: k * len(names) * table["a"]
x = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
print(fingerprint(make(2.0)), fingerprint(make(2.0)) != fingerprint(make(3.0)),
      fingerprint(functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9)),
      fingerprint({"s": names, "t": table, "m": torch.nn.Linear(3, 2)}),
      _as_source(torch.utils.data.TensorDataset(x)).fingerprint())
"""


def test_fingerprints_are_the_same_in_every_process(tmp_path):
    script = tmp_path / "prints.py"
    script.write_text(_SCRIPT)

    def run(seed):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, str(script)], capture_output=True, env=env)
        assert out.returncode == 0, out.stderr.decode()
        return out.stdout.decode()

    outs = [run("1"), run("2")]
    assert outs[0] == outs[1] and " True " in outs[0]
    assert "0x" not in outs[0]


def test_fingerprint_guards_cycles_and_odd_objects():
    from implicit_em._fingerprint import fingerprint

    a: list = [1]
    a.append(a)
    b: dict = {"k": 1}
    b["self"] = b
    odd = [object(), lambda: None, print, [].append, torch.Generator(), np.float32(1.5)]
    prints = {fingerprint(v) for v in (a, b, *odd)}
    assert len(prints) == 2 + len(odd)
    assert fingerprint(object()) == fingerprint(object())  # no address enters a print
    assert fingerprint(0.0) != fingerprint(-0.0) and fingerprint(1) != fingerprint(True)
    assert fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
    c: list = [b, a]  # shared and cyclic parts, walked in another order: the same print
    c.append(c)
    assert fingerprint({"x": c, "y": a, "z": [c, b]}) == fingerprint({"z": [c, b], "y": a, "x": c})


# --------------------------------------------------------- checkpoints cannot run code


class _Touch:
    """Unpickling this (without weights_only) creates ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _with_digest(raw: bytes) -> bytes:
    """``raw`` followed by a valid trailer, as anyone who knows the format can write."""
    from implicit_em.training.checkpoint import _TAG, _digest

    return raw + _TAG + _digest(raw)


@pytest.mark.parametrize("trailer", [False, True])
def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(tmp_path, trailer):
    marker, ck = tmp_path / "pwned", tmp_path / "c.pt"
    evil = dict.fromkeys(("optimizer", "scheduler", "scaler", "rng", "position"))
    buf = io.BytesIO()
    torch.save({**evil, "model": _Touch(marker), "callbacks": []}, buf)
    ck.write_bytes(_with_digest(buf.getvalue()) if trailer else buf.getvalue())
    with pytest.raises(Exception) as err:  # noqa: PT011 (the marker first, then the type)
        _fit(ck)
    assert not marker.exists()  # before: unpickled with weights_only=False, which ran it
    assert isinstance(err.value, CheckpointError) and str(ck) in str(err.value)
    if trailer:
        assert "no code in the file ran" in str(err.value)


def _checkpoint(tmp_path, **kw) -> pathlib.Path:
    ck = tmp_path / "c.pt"
    mon = Monitor({"health": lambda m: unit_health(m(X)), "w": lambda m: m.weight.norm()}, every=2)
    _fit(ck, callbacks=[mon, _Plain()], checkpoint_every=3, **kw)
    return ck


class _Plain(Callback):
    def state_dict(self):
        return {"seen": [1, 2.5, None, ("a", True)], "t": torch.arange(3)}


@pytest.mark.parametrize(
    "kw",
    [
        {"optimizer": "adam", "schedule": "cosine", "warmup_steps": 2},
        {"optimizer": "adamw", "amp": "bf16", "schedule": functools.partial(_decay, gamma=0.5)},
        {"optimizer": functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9), "amp": "fp16"},
    ],
)  # fmt: skip
def test_every_legitimate_checkpoint_loads_with_weights_only(tmp_path, kw):
    ck = _checkpoint(tmp_path, **kw)
    state = torch.load(ck, weights_only=True)  # plain torch reads it too
    assert state["position"]["step"] == 4 and state["callbacks"][1]["seen"][3] == ("a", True)
    assert state["callbacks"][0]["history"]  # the Monitor's records
    mon = Monitor({"w": lambda m: 0.0})
    assert _fit(ck, callbacks=[mon, _Plain()], checkpoint_every=3, **kw).resumed_from == 4
    assert mon.history[0]["step"] == 0


def test_a_callback_state_that_could_not_be_loaded_is_refused_when_saved(tmp_path):
    class Numpy(Callback):
        def state_dict(self):
            return {"mean": np.float64(0.5)}

    with pytest.raises(TypeError, match=r"\['callbacks'\]\[0\]\['mean'\] is a numpy.float64"):
        _fit(tmp_path / "c.pt", callbacks=[Numpy()])


# ------------------------------------------------------------------ damaged checkpoints


def _load(ck):
    net = nn.Linear(6, 1)
    opt = torch.optim.Adam(net.parameters())
    return load_checkpoint(ck, net, opt, None, None, [])


def test_every_damage_gives_a_checkpoint_error_and_keeps_the_file(tmp_path):
    ck = tmp_path / "c.pt"
    _fit(ck)
    raw = ck.read_bytes()
    assert _load(ck)["step"] == 4
    rng = random.Random(34)
    cuts = {0, 1, 20, len(raw) // 2, len(raw) - 49, len(raw) - 48, len(raw) - 1}
    damaged = [raw[:n] for n in sorted(cuts | set(rng.sample(range(len(raw)), 40)))]
    for n_flips in [1] * 50 + [2, 3, 8, 64] * 5:
        data = bytearray(raw)
        for i in rng.sample(range(len(raw)), n_flips):
            data[i] ^= 1 << rng.randrange(8)
        damaged.append(bytes(data))
    damaged += [raw + b"\0", raw[:100] + raw[101:], bytes(len(raw)), raw[-48:]]
    for data in damaged:
        ck.write_bytes(data)
        with pytest.raises(CheckpointError, match=r"truncated|damaged"):
            _load(ck)
        assert ck.read_bytes() == data


def _rezip(raw: bytes, name: str, change) -> bytes:
    """``raw`` (a torch.save zip) with the inner file ending in ``name`` changed by
    ``change(bytes) -> bytes`` (dropped when ``change`` is None)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith(name):
                if change is None:
                    continue
                data = change(data)
            dst.writestr(info, data)
    return out.getvalue()


def _trailer(raw: bytes) -> bytes:
    """The digest trailer at the end of ``raw`` (none in a format without one)."""
    try:
        from implicit_em.training.checkpoint import _TAG
    except ImportError:
        return b""
    return raw[-48:] if raw[-48:-32] == _TAG else b""


WRONG_INNER = {  # inner file, change; True: torch.load itself refuses the result
    "format version": (".format_version", lambda d: b"99", False),  # before: loaded
    "storage alignment": (".storage_alignment", lambda d: b"0", False),  # before: loaded
    "a tensor's bytes doubled": ("data/0", lambda d: d + d, True),
    "a tensor's bytes cut": ("data/0", lambda d: d[:3], True),
    "a tensor's file dropped": ("data/0", None, True),
    "byte order": ("byteorder", lambda d: b"middle", True),
    "the pickle emptied": ("data.pkl", lambda d: b"\x80\x02}q\x00.", True),
}


@pytest.mark.parametrize(
    ("kind", "digest"),
    [(k, "kept") for k in WRONG_INNER]
    + [(k, "recomputed") for k, (_, _, refused) in WRONG_INNER.items() if refused],
)
def test_a_zip_with_a_wrong_inner_file_gives_a_checkpoint_error(tmp_path, kind, digest):
    """With the digest kept the digest refuses it; recomputed (as anyone can), torch.load
    or the structure check does (a harmless change with a valid digest is valid)."""
    name, change, _ = WRONG_INNER[kind]
    ck = tmp_path / "c.pt"
    _fit(ck)
    raw = ck.read_bytes()
    wrong = _rezip(raw, name, change)  # a zip (its reader skips the digest after it)
    ck.write_bytes(_with_digest(wrong) if digest == "recomputed" else wrong + _trailer(raw))
    with pytest.raises(CheckpointError, match=str(ck)):
        _load(ck)


# ------------------------------------------------------- layer-wise and end-to-end runs


def _objective(weight):
    return lambda m, z: {name: weight * t for name, t in m.objective(z).items()}


def test_layerwise_fingerprints_a_stage_objective_as_a_value(tmp_path):
    from implicit_em.layers import build
    from implicit_em.training import train_layerwise

    def run(weight):
        torch.manual_seed(0)
        net, objectives = build("6-4:iem(infomax)"), {0: _objective(weight)}
        return train_layerwise(net, X, objectives=objectives, epochs=1, batch_size=16,
                               checkpoint_dir=tmp_path, progress=False)  # fmt: skip

    run(1.0)
    assert run(1.0).results[0].resumed_from == 4
    with pytest.raises(ValueError, match="model: checkpoint"):
        run(2.0)


def _smoothed_ce(out, batch, smoothing):
    return nn.functional.cross_entropy(out, batch[1], label_smoothing=smoothing)


def test_finetune_fingerprints_its_task_loss_as_a_value(tmp_path):
    from implicit_em.layers import build
    from implicit_em.training import finetune

    labels = torch.randint(0, 3, (64,), generator=torch.Generator().manual_seed(1))

    def run(smoothing):
        torch.manual_seed(0)
        loss = functools.partial(_smoothed_ce, smoothing=smoothing)
        return finetune(build("6-4:iem-3"), (X, labels), loss, epochs=1, batch_size=16,
                        checkpoint=tmp_path / "c.pt", progress=False)  # fmt: skip

    run(0.0)
    assert run(0.0).resumed_from == 4
    with pytest.raises(ValueError, match=r"model: checkpoint .*loss_fn=.*partial"):
        run(0.1)


def test_module_and_class_attributes_the_code_reads_are_part_of_the_print(tmp_path):
    """Round-three probe H3: ``cfg.SCALE`` (a user module) and ``Cfg.scale`` (a class)
    read inside a loss were not fingerprinted, so a change resumed silently."""
    import importlib
    import sys

    from implicit_em._fingerprint import fingerprint

    (tmp_path / "iem_probe_cfg.py").write_text("SCALE = 1.0\n")
    sys.path.insert(0, str(tmp_path))
    try:
        cfg = importlib.import_module("iem_probe_cfg")

        def loss(m, b):
            return cfg.SCALE * m(b[0]).square().mean()

        before = fingerprint(loss)
        cfg.SCALE = 2.0
        assert fingerprint(loss) != before
        cfg.SCALE = 1.0
        assert fingerprint(loss) == before
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("iem_probe_cfg", None)

    class Cfg:
        scale = 1.0

    def class_loss(m, b):
        return Cfg.scale * m(b[0]).square().mean()

    before = fingerprint(class_loss)
    Cfg.scale = 3.0
    assert fingerprint(class_loss) != before


def _tampered(tmp_path, change) -> tuple:
    """A checkpoint of a small run, rewritten with ``change(state)`` and a valid digest."""
    import io

    from implicit_em.training import train

    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(0))
    ck = tmp_path / "ck.pt"
    train(nn.Linear(3, 1), lambda m, b: m(b[0]).square().mean(), x, epochs=1, batch_size=8,
          checkpoint=ck, progress=False)  # fmt: skip
    raw = ck.read_bytes()[:-48]
    state = torch.load(io.BytesIO(raw), weights_only=True)
    change(state)
    buf = io.BytesIO()
    torch.save(state, buf)
    ck.write_bytes(_with_digest(buf.getvalue()))
    return ck, x


@pytest.mark.parametrize(
    "change",
    [lambda s: s.update(rng="abc"), lambda s: s.update(position={}),
     lambda s: s.update(callbacks=5), lambda s: s.update(model=[1, 2]),
     lambda s: s["position"].update(epoch="x"), lambda s: s["position"].update(step=-5),
     lambda s: s.update(optimizer={})],
)  # fmt: skip
def test_a_sealed_checkpoint_of_the_wrong_structure_gives_a_checkpoint_error(tmp_path, change):
    """Round-three probes: a valid digest over a wrong structure gave raw TypeError,
    KeyError or RuntimeError."""
    from implicit_em.training import train
    from implicit_em.training.checkpoint import CheckpointError

    ck, x = _tampered(tmp_path, change)
    with pytest.raises(CheckpointError):
        train(nn.Linear(3, 1), lambda m, b: m(b[0]).square().mean(), x, epochs=2, batch_size=8,
              checkpoint=ck, progress=False, resume="force")  # fmt: skip


def test_force_cannot_carry_another_optimisers_state(tmp_path):
    """Round-three probe: SGD's state resumed by Adam under force raised KeyError 'betas'."""
    from implicit_em.training import train

    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(0))
    ck = tmp_path / "ck.pt"
    loss = lambda m, b: m(b[0]).square().mean()  # noqa: E731
    train(nn.Linear(3, 1), loss, x, epochs=1, batch_size=8, optimizer="sgd", checkpoint=ck,
          progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="another optimiser"):
        train(nn.Linear(3, 1), loss, x, epochs=2, batch_size=8, optimizer="adam",
              checkpoint=ck, progress=False, resume="force")  # fmt: skip


@pytest.mark.parametrize(("before", "after"), [("cosine", None), (None, "cosine")])
def test_force_continues_when_only_the_schedule_changes(tmp_path, before, after):
    """A schedule adds ``initial_lr`` to the optimiser's groups: not another optimiser."""
    from implicit_em.training import train

    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(0))
    ck = tmp_path / "ck.pt"
    loss = lambda m, b: m(b[0]).square().mean()  # noqa: E731
    train(nn.Linear(3, 1), loss, x, epochs=2, batch_size=8, max_steps=3, schedule=before,
          checkpoint=ck, progress=False)  # fmt: skip
    out = train(nn.Linear(3, 1), loss, x, epochs=2, batch_size=8, schedule=after,
                checkpoint=ck, progress=False, resume="force")  # fmt: skip
    assert out.resumed_from == 3 and out.steps == 8
