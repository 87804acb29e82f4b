"""Every public numeric hyper-parameter, probed at 0, a negative value, NaN, inf and a huge
value (issue 22): the call either refuses with an error that names the parameter, or
returns a finite result. Never a NaN, never an internal error from deep in torch.

The callables and their good inputs are those of ``test_bad_input_contract``; each one's
keyword parameters with a numeric default are found by ``inspect``, and the public name
is replaced for the call by ``functools.partial(original, **{param: value})``.
"""

from __future__ import annotations

import inspect
import math

import pytest

import implicit_em.mixture as M
import test_bad_input_contract as C

VALUES = {"zero": 0, "negative": -1.5, "nan": math.nan, "inf": math.inf, "huge": 1e30}
INT_VALUES = {"zero": 0, "negative": -2, "huge": 10**12, "nan": math.nan}
SKIP = {"seed", "random_state", "verbose", "dim", "axis", "n_init"}  # not magnitudes
# amounts of work: a huge one is a long run (with a progress bar), not an error
WORK = {"epochs", "max_iter", "max_steps", "trials", "permutations", "n_iter"}
MODULES = {"lse": C.L, "identities": C.identities, "mixture.xu_jordan": C.xu_jordan,
           "objectives": C.O, "diagnostics": C.D, "layers": C.Y, "baselines": C.B,
           "activations": C.A, "mixture": M}  # fmt: skip


def _numeric_params(obj) -> list[tuple[str, type]]:
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    out = []
    for p in sig.parameters.values():
        d = p.default
        if p.name in SKIP or isinstance(d, bool) or not isinstance(d, (int, float)):
            continue
        out.append((p.name, int if isinstance(d, int) else float))
    return out


def _cases():
    cases = []
    for name in C.CALLABLES:
        prefix, _, attr = name.split("[")[0].rpartition(".")
        mod = MODULES.get(prefix)
        obj = getattr(mod, attr, None) if mod is not None else None
        if obj is None:
            continue
        for param, kind in _numeric_params(obj):
            for label in INT_VALUES if kind is int else VALUES:
                if not (label == "huge" and param in WORK):
                    cases.append((name, mod, attr, param, kind, label))
    return cases


CASES = _cases()


@pytest.mark.parametrize(("name", "mod", "attr", "param", "kind", "label"), CASES,
                         ids=[f"{c[0]}-{c[3]}={c[5]}" for c in CASES])  # fmt: skip
def test_every_numeric_hyperparameter_is_checked(name, mod, attr, param, kind, label, monkeypatch):
    value = (INT_VALUES if kind is int else VALUES)[label]
    call, shape, _ = C.CALLABLES[name]
    original = getattr(mod, attr)
    if mod is C.A:  # the contract calls the registered module; the sweep, the function
        grouped = "group_size" in inspect.signature(original).parameters

        def call(x, attr=attr):
            return getattr(C.A, attr)(x, *((8,) if grouped else ()))

    used = []

    target = original.__init__ if inspect.isclass(original) else original
    sig = inspect.signature(target)

    def wrapped(*args, **kwargs):  # the value replaces whatever the call passes
        used.append(True)
        bound = sig.bind_partial(*((None,) if inspect.isclass(original) else ()), *args, **kwargs)
        bound.arguments[param] = value
        a, kw = bound.args[1:] if inspect.isclass(original) else bound.args, bound.kwargs
        return original(*a, **kw)

    monkeypatch.setattr(mod, attr, wrapped)
    C.check_contract(call, C._good(shape), param)
    assert used, f"{name}'s contract call does not look up {mod.__name__}.{attr}"


def test_the_sweep_covers_the_public_callables_with_numeric_settings():
    names = {c[0] for c in CASES}
    assert len(names) >= 40 and len(CASES) >= 300, (len(names), len(CASES))
