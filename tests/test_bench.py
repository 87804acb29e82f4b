"""Smoke tests of benchmark scripts at tiny sizes (the full runs are `make bench`)."""

import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _quick_rows(module: str, tmp_path, monkeypatch) -> list[dict]:
    """Run ``bench/<module>.py --quick`` with its results written to ``tmp_path``."""
    monkeypatch.syspath_prepend(str(BENCH))
    import _common

    monkeypatch.setattr(_common, "RESULTS", tmp_path)
    try:
        bench = __import__(module)
        rows = bench.main(["--quick"])
    finally:
        sys.modules.pop(module, None)  # a top-level name: do not leave it imported
    assert (tmp_path / f"{module}-quick.json").exists()
    return rows


@pytest.mark.parametrize(
    ("module", "parts", "ratio"),
    [
        ("objectives", {"objective", "train_step", "hsic"}, "x_mse"),
        ("checks", {"train", "objective"}, "ratio"),
        ("layers", {"step", "greedy"}, "ratio"),
        ("plateau", {"plateau"}, "ratio"),
    ],
)
def test_benchmark_runs_and_reports_ratios(tmp_path, monkeypatch, module, parts, ratio):
    rows = _quick_rows(module, tmp_path, monkeypatch)
    assert {r["part"] for r in rows} == parts
    assert all(math.isfinite(r[ratio]) and r[ratio] > 0 for r in rows if ratio in r)
    assert any(ratio in r for r in rows)
