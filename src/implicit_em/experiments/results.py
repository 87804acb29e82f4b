"""The one definition of a run directory's records: ``Verdict``, ``Figure``, ``Result``.

``RUN_DIR/<experiment>/results.json`` is ``Result.to_dict()`` (with ``"schema": 1``),
written by the runner and read back by the report through :func:`read_results`; nothing
else reads or writes it by string keys. ``RUN_DIR/run.json`` is read by
:func:`read_run_meta`. Both readers check the structure and raise
:class:`DamagedFileError` naming the file and what is wrong, instead of a JSON decoder
message or a ``KeyError`` later on (the files are written atomically, but a disk, a copy
or a hand edit can still damage them).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .._io import jsonable, write_json
from ..claims import CLAIMS

SCHEMA = 1
VERDICTS = ("confirmed", "refuted", "partly", "open")


class DamagedFileError(ValueError):
    """A run-directory JSON file that is truncated, empty or of the wrong structure."""


def _number(value):
    """A JSON number back from :func:`implicit_em._io.jsonable` (``"nan"``/``"inf"`` too)."""
    if value in ("nan", "inf", "-inf"):
        return float(value)
    return value


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict, computed from measurements.

    Attributes:
        claim: claim ID (see :data:`implicit_em.claims.CLAIMS`).
        verdict: ``"confirmed" | "refuted" | "partly" | "open"``.
        value: the key measured number (``None`` if there is none); across seeds, the mean.
        threshold: the rule that decided the verdict, in words.
        evidence: one sentence with the numbers behind it.
        interval: 95 % interval of ``value`` across seeds (``None`` for one seed).
        seeds_agree, seeds_total: how many seeds gave this verdict, of how many.
        per_seed: each seed's own verdict, in seed order.
        counts: the cells of its primary test that hold, fail and are undecided (``None``:
            a verdict not made from cells).
        secondary: the same counts for its secondary cells (graded, never deciding).
        primary: its primary test in words (the rules whose cells decide it).
        indicative: measured at quick sizes, where an interval of this claim is wider
            than the last full run's distance from the threshold (or the full run did not
            grade the cell); shown as "indicative (quick sizes)".
    """

    claim: str
    verdict: str
    value: float | None
    threshold: str
    evidence: str
    interval: tuple[float, float] | None = None
    seeds_agree: int | None = None
    seeds_total: int | None = None
    per_seed: tuple[str, ...] = ()
    indicative: bool = False
    counts: tuple[int, int, int] | None = None
    secondary: tuple[int, int, int] | None = None
    primary: str = ""

    def __post_init__(self):
        if self.claim not in CLAIMS:
            raise ValueError(f"unknown claim {self.claim!r}; expected one of {list(CLAIMS)}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def to_dict(self) -> dict:
        """The verdict as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Verdict:
        """A verdict from :meth:`to_dict`'s output (numbers restored from their JSON form)."""
        d = dict(d)
        d["value"] = _number(d.get("value"))
        if d.get("interval") is not None:
            d["interval"] = tuple(_number(v) for v in d["interval"])
        d["per_seed"] = tuple(d.get("per_seed", ()))
        for key in ("counts", "secondary"):
            if d.get(key) is not None:
                d[key] = tuple(int(n) for n in d[key])
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


@dataclass(frozen=True)
class Figure:
    """A figure file in the experiment's folder and its caption."""

    file: str
    caption: str = ""


@dataclass
class Result:
    """One experiment's results in a run directory (``results.json``).

    ``seeds`` lists the seeds that ran; ``tables`` hold every seed's rows (with a
    ``seed`` column when there are several); ``verdicts`` are combined across seeds;
    ``per_seed`` keeps each seed's metrics and verdicts; figures are drawn from the
    first seed's record.
    """

    experiment: str
    title: str
    claims: list[str]
    config: dict
    seed: int
    quick: bool
    wall_s: float
    finished: str
    metrics: dict = field(default_factory=dict)
    tables: dict[str, list[dict]] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    summary: str = ""
    seeds: list[int] = field(default_factory=list)
    per_seed: list[dict] = field(default_factory=list)
    data: str = ""  # the data actually used, in words (e.g. "MNIST: 8k/2k of t10k")
    # the data files read and their content MD5s (runner.data_files); None: not recorded
    data_files: dict | None = None
    # the config fields set with --set and their values; None: not recorded
    overrides: dict | None = None
    schema: int = SCHEMA

    def to_dict(self) -> dict:
        """The result as a JSON-ready dict."""
        return jsonable(asdict(self))

    def work(self) -> dict:
        """What decided the numbers, as :func:`implicit_em.experiments.runner.work_record`
        gives it: the config, the seeds and the data files."""
        return {"config": self.config, "seeds": self.seeds, "data_files": self.data_files}

    @classmethod
    def from_dict(cls, d: dict, path: Path | str = "results.json") -> Result:
        """Parse and check a ``results.json`` record; :class:`DamagedFileError` if bad."""
        path = Path(path)
        _require(d, _RESULT_TYPES, path, "the record")
        if d.get("schema", SCHEMA) != SCHEMA:
            raise DamagedFileError(
                f"{path} has schema {d.get('schema')!r}; this version reads schema {SCHEMA} "
                "(re-run the experiment to rewrite it)"
            )
        verdicts = []
        for i, v in enumerate(d["verdicts"]):
            _require(v, _VERDICT_TYPES, path, f"verdicts[{i}]")
            value = v.get("value")
            bad_type = isinstance(value, bool) or not isinstance(value, (int, float))
            if value is not None and bad_type and value not in ("nan", "inf", "-inf"):
                raise DamagedFileError(f"{path} is damaged: verdicts[{i}]['value'] is {value!r}")
            try:
                verdicts.append(Verdict.from_dict(v))
            except (TypeError, ValueError) as err:
                raise DamagedFileError(f"{path} is damaged: verdicts[{i}]: {err}") from None
        for name, rows in d["tables"].items():
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise DamagedFileError(f"{path} is damaged: table {name!r} is not a list of rows")
        figures = d.get("figures", [])
        if not isinstance(figures, list) or not all(
            isinstance(f, dict) and isinstance(f.get("file"), str) for f in figures
        ):
            raise DamagedFileError(f"{path} is damaged: 'figures' is not a list of {{'file': ...}}")
        for key in ("data_files", "overrides"):
            if not isinstance(d.get(key, {}), (dict, type(None))):
                raise DamagedFileError(f"{path} is damaged: {key!r} is not a dict")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        values["verdicts"] = verdicts
        values["figures"] = [Figure(f["file"], f.get("caption", "")) for f in figures]
        return cls(**values)


# key -> the type(s) its value must have
_RESULT_TYPES = {
    "experiment": str,
    "config": dict,
    "seed": int,
    "wall_s": (int, float),
    "claims": list,
    "metrics": dict,
    "tables": dict,
    "verdicts": list,
}
_VERDICT_TYPES = {"claim": str, "verdict": str, "threshold": str, "evidence": str}


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


def read_results(path: str | Path) -> Result:
    """An experiment's ``results.json`` as a :class:`Result`; :class:`DamagedFileError`."""
    path = Path(path)
    return Result.from_dict(_load(path), path)


def write_results(path: str | Path, result: Result) -> None:
    """Write ``result`` atomically as JSON (non-finite floats as ``"nan"``/``"inf"``)."""
    write_json(path, result.to_dict())


def read_run_meta(path: str | Path) -> dict:
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
