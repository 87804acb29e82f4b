"""Reading a run directory's JSON files back, with one clear error for a damaged file.

``results.json`` and ``run.json`` are written atomically, but a disk, a copy or a hand
edit can still damage them. :func:`read_results` and :func:`read_run_meta` parse and
check the structure and raise :class:`DamagedFileError` naming the
file and what is wrong, instead of a JSON decoder message or a ``KeyError`` later on.
"""

from __future__ import annotations

import json
from pathlib import Path


class DamagedFileError(ValueError):
    """A run-directory JSON file that is truncated, empty or of the wrong structure."""


# key -> the type(s) its value must have; verdict rows and figures are checked inside
_RESULTS = {
    "experiment": str,
    "config": dict,
    "seed": int,
    "wall_s": (int, float),
    "claims": list,
    "metrics": dict,
    "tables": dict,
    "verdicts": list,
}
_VERDICT = {"claim": str, "verdict": str, "threshold": str, "evidence": str}


def _load(path: Path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DamagedFileError(f"{path} is damaged: not valid JSON ({err})") from None


def _require(mapping, spec: dict, path: Path, what: str) -> None:
    if not isinstance(mapping, dict):
        raise DamagedFileError(f"{path} is damaged: {what} is {type(mapping).__name__}, not a dict")
    for key, tp in spec.items():
        if key not in mapping:
            raise DamagedFileError(f"{path} is damaged: {what} has no {key!r}")
        if isinstance(mapping[key], bool) or not isinstance(mapping[key], tp):
            raise DamagedFileError(
                f"{path} is damaged: {what}[{key!r}] is {type(mapping[key]).__name__}"
            )


def read_results(path) -> dict:
    """An experiment's ``results.json``, checked; raises :class:`DamagedFileError`."""
    path = Path(path)
    record = _load(path)
    _require(record, _RESULTS, path, "the record")
    for i, v in enumerate(record["verdicts"]):
        _require(v, _VERDICT, path, f"verdicts[{i}]")
        value = v.get("value")
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            if value not in ("nan", "inf", "-inf"):
                raise DamagedFileError(f"{path} is damaged: verdicts[{i}]['value'] is {value!r}")
    for name, rows in record["tables"].items():
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise DamagedFileError(f"{path} is damaged: table {name!r} is not a list of rows")
    figures = record.get("figures", [])
    if not isinstance(figures, list) or not all(
        isinstance(f, dict) and isinstance(f.get("file"), str) for f in figures
    ):
        raise DamagedFileError(f"{path} is damaged: 'figures' is not a list of {{'file': ...}}")
    return record


def read_run_meta(path) -> dict:
    """A run's ``run.json``, checked; raises :class:`DamagedFileError`."""
    path = Path(path)
    meta = _load(path)
    _require(meta, {"experiments": list}, path, "the run record")
    if not all(isinstance(n, str) for n in meta["experiments"]):
        raise DamagedFileError(f"{path} is damaged: 'experiments' is not a list of names")
    failures = meta.get("failures", {})
    if not isinstance(failures, dict):
        raise DamagedFileError(f"{path} is damaged: 'failures' is not a dict")
    return meta
