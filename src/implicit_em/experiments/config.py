"""Build an experiment's config from defaults, ``--quick``, ``--seed`` and ``--set key=value``.

Values given with ``--set`` are converted to the dataclass field's type (int, float,
bool, str, tuples/lists of those as comma-separated items, and ``X | None`` with
``none``); a key no selected experiment has is rejected with the list of valid keys.
``--set name.key=value`` targets one experiment, and wins over ``--set key=value`` for
it whatever their order; the same key given twice is refused.

Every value is then checked against its field's range before anything runs
(:func:`check_ranges`): a field declares it with :func:`bounded` (``metadata`` keys
``min``/``max`` inclusive, ``gt``/``lt`` exclusive); fields that declare nothing get their
type's rule: ``seed`` in ``[0, 2**31 - 1]``, other ints (counts) ``>= 1`` and at most
``COUNT_FACTOR`` (1000) times their default, floats finite and ``> 0``, tuples non-empty
with each element checked by the same rule.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .base import Experiment


class ConfigError(ValueError):
    """A ``--set`` override that names an unknown key or has a value of the wrong type."""


@dataclass(frozen=True)
class Override:
    """One ``--set`` override: ``[experiment.]key=value`` with the value still unparsed."""

    experiment: str | None  # None = every selected experiment that has ``key``
    key: str
    raw: str


def parse_overrides(items: Sequence[str] | None) -> list[Override]:
    """``--set`` items (``key=value`` or ``experiment.key=value``) as :class:`Override` records; a
    ``ValueError`` for malformed ones and for a key given twice."""
    out: dict[tuple, Override] = {}
    for item in items or ():
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        key = key.strip()
        exp, _, name = key.rpartition(".")
        if not name:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        if (exp or None, name) in out:
            first = out[exp or None, name].raw
            raise ConfigError(
                f"--set {key} is given twice ({first!r} and {raw.strip()!r}); give each key once"
            )
        out[exp or None, name] = Override(exp or None, name, raw.strip())
    return list(out.values())


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def convert(raw: str, tp: Any, where: str) -> Any:
    """Convert the string ``raw`` to type ``tp`` or raise :class:`ConfigError`."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if raw.lower() in ("none", "null") and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return convert(raw, arg, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError("; ".join(errors))
    if origin in (tuple, list):
        elem = args[0] if args else str
        items = [convert(x.strip(), elem, where) for x in raw.split(",") if x.strip()]
        return tuple(items) if origin is tuple else items
    if tp is bool:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ConfigError(f"{where}: expected a bool (true/false), got {raw!r}")
    if tp in (int, float, str):
        try:
            return tp(raw)
        except ValueError:
            raise ConfigError(f"{where}: expected {tp.__name__}, got {raw!r}") from None
    raise ConfigError(f"{where}: fields of type {tp} cannot be set from the command line")


SEED_MAX = 2**31 - 1
_TYPE_RULES = {int: {"min": 1}, float: {"gt": 0.0}}
# counts without a declared range: at most this many times their default (a typo of
# extra digits otherwise runs until killed, or fails deep in numpy)
COUNT_FACTOR = 1000


def _ints(default) -> list[int]:
    values = default if isinstance(default, (tuple, list)) else [default]
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def bounded(default: Any, **limits: float) -> Any:
    """A config field with a declared range (checked when the config is built).

    Example: ``x: float = bounded(0.25, min=0, max=1)``.

    ``limits``: ``min``/``max`` (inclusive), ``gt``/``lt`` (exclusive).
    """
    unknown = set(limits) - {"min", "max", "gt", "lt"}
    if unknown:
        raise TypeError(f"bounded() takes min/max/gt/lt, got {sorted(unknown)}")
    return dataclasses.field(default=default, metadata={"range": limits})


def _range_text(limits: dict) -> str:
    parts = [f">= {limits['min']}"] if "min" in limits else []
    parts += [f"> {limits['gt']}"] if "gt" in limits else []
    parts += [f"<= {limits['max']}"] if "max" in limits else []
    parts += [f"< {limits['lt']}"] if "lt" in limits else []
    return " and ".join(parts)


def _check_value(value, limits: dict, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return
    if not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    ok = (
        ("min" not in limits or value >= limits["min"])
        and ("gt" not in limits or value > limits["gt"])
        and ("max" not in limits or value <= limits["max"])
        and ("lt" not in limits or value < limits["lt"])
    )
    if not ok:
        raise ConfigError(f"{where}: expected a value {_range_text(limits)}, got {value!r}")


def check_ranges(cfg: Any, name: str) -> None:
    """Raise :class:`ConfigError` for any field of ``cfg`` outside its declared range."""
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        value, where = getattr(cfg, f.name), f"{name}.{f.name}"
        tp = hints[f.name]
        if typing.get_origin(tp) in (types.UnionType, typing.Union):
            if value is None:
                continue
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
        elem = typing.get_args(tp)[0] if typing.get_origin(tp) in (tuple, list) else None
        if f.name == "seed":
            limits = {"min": 0, "max": SEED_MAX}
        else:
            limits = f.metadata.get("range", _TYPE_RULES.get(elem or tp, {}))
            if "range" not in f.metadata and (elem or tp) is int:
                limits = {**limits, "max": COUNT_FACTOR * max([1, *_ints(f.default)])}
        if elem is not None:
            if not value:
                raise ConfigError(f"{where}: expected at least one value, got an empty list")
            for v in value:
                _check_value(v, limits, where)
        else:
            _check_value(value, limits, where)


def build_config(
    exp: Experiment,
    *,
    quick: bool = False,
    seed: int | None = None,
    overrides: Sequence[Override] = (),
) -> object:
    """Defaults, then ``exp.quick`` if ``quick``, then ``seed``, then matching overrides
    (``key=value`` ones, then ``name.key=value`` ones)."""
    hints = typing.get_type_hints(exp.config)
    values = dict(exp.quick) if quick else {}
    if seed is not None:
        values["seed"] = int(seed)
    for ov in sorted(overrides, key=lambda ov: ov.experiment is not None):
        if ov.experiment not in (None, exp.name):
            continue
        if ov.key not in hints:
            if ov.experiment is None:
                continue  # checked across all selected experiments by check_overrides
            raise ConfigError(
                f"unknown key {ov.key!r} for experiment {exp.name!r}; valid keys: "
                f"{', '.join(sorted(hints))}"
            )
        values[ov.key] = convert(ov.raw, hints[ov.key], f"{exp.name}.{ov.key}")
    cfg = exp.config(**values)
    check_ranges(cfg, exp.name)
    return cfg


def check_overrides(experiments: list[Experiment], overrides: Sequence[Override]) -> None:
    """Reject overrides that no selected experiment can take, listing the valid keys."""
    names = {e.name for e in experiments}
    for ov in overrides:
        if ov.experiment is not None and ov.experiment not in names:
            raise ConfigError(
                f"--set {ov.experiment}.{ov.key}: {ov.experiment!r} is not among the selected "
                f"experiments ({', '.join(sorted(names))})"
            )
        targets = [e for e in experiments if ov.experiment in (None, e.name)]
        if not any(ov.key in {f.name for f in dataclasses.fields(e.config)} for e in targets):
            valid = sorted({f.name for e in targets for f in dataclasses.fields(e.config)})
            raise ConfigError(f"unknown key {ov.key!r}; valid keys: {', '.join(valid)}")


def override_keys(exp: Experiment, overrides: Sequence[Override]) -> list[str]:
    """The config fields of ``exp`` that ``overrides`` set."""
    names = {f.name for f in dataclasses.fields(exp.config)}
    keys = [ov.key for ov in overrides if ov.experiment in (None, exp.name) and ov.key in names]
    return list(dict.fromkeys(keys))
