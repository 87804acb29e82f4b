"""The declared minimum versions (pyproject.toml) are the ones `make test-min` installs."""

from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, Version]:
    lines = (ROOT / "requirements-min.txt").read_text().splitlines()
    reqs = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {r.name: Version(next(iter(r.specifier)).version) for r in reqs}


def _minimum(req: Requirement) -> Version:
    lows = [Version(s.version) for s in req.specifier if s.operator == ">="]
    assert len(lows) == 1, f"{req}: one '>=' lower bound expected"
    return lows[0]


def test_every_dependency_is_pinned_at_its_declared_minimum():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = meta["dependencies"] + meta["optional-dependencies"]["test"]
    declared = {r.name: _minimum(r) for r in map(Requirement, names)}
    assert _pins() == declared  # Version("2.13") == Version("2.13.0")
