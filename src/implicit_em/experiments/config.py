"""Build an experiment's config from defaults, ``--quick``, ``--seed`` and ``--set key=value``.

Values given with ``--set`` are converted to the dataclass field's type (int, float,
bool, str, tuples/lists of those as comma-separated items, and ``X | None`` with
``none``); a key no selected experiment has is rejected with the list of valid keys.
``--set name.key=value`` targets one experiment.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass

from .base import Experiment


class ConfigError(ValueError):
    """A ``--set`` override that names an unknown key or has a value of the wrong type."""


@dataclass(frozen=True)
class Override:
    experiment: str | None  # None = every selected experiment that has ``key``
    key: str
    raw: str


def parse_overrides(items) -> list[Override]:
    out = []
    for item in items or ():
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        key = key.strip()
        exp, _, name = key.rpartition(".")
        if not name:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        out.append(Override(exp or None, name, raw.strip()))
    return out


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def convert(raw: str, tp, where: str):
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


def build_config(
    exp: Experiment, *, quick: bool = False, seed: int | None = None, overrides=()
) -> object:
    """Defaults, then ``exp.quick`` if ``quick``, then ``seed``, then matching overrides."""
    hints = typing.get_type_hints(exp.config)
    values = dict(exp.quick) if quick else {}
    if seed is not None:
        values["seed"] = int(seed)
    for ov in overrides:
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
    return exp.config(**values)


def check_overrides(experiments: list[Experiment], overrides) -> None:
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
