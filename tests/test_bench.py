"""Smoke test of a benchmark script at tiny sizes (the full runs are `make bench`)."""

import math
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_objectives_benchmark_runs_and_reports_ratios(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import _common
    import objectives as bench

    monkeypatch.setattr(_common, "RESULTS", tmp_path)
    try:
        rows = bench.main(["--quick"])
    finally:
        sys.modules.pop("objectives", None)  # a top-level name: do not leave it imported
    parts = {r["part"] for r in rows}
    assert parts == {"objective", "train_step", "hsic"}
    assert all(math.isfinite(r["x_mse"]) and r["x_mse"] > 0 for r in rows if "x_mse" in r)
    assert (tmp_path / "objectives-quick.json").exists()


def test_checks_benchmark_runs_and_reports_ratios(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import _common
    import checks as bench

    monkeypatch.setattr(_common, "RESULTS", tmp_path)
    try:
        rows = bench.main(["--quick"])
    finally:
        sys.modules.pop("checks", None)
    assert {r["part"] for r in rows} == {"train", "objective"}
    assert all(math.isfinite(r["ratio"]) and r["ratio"] > 0 for r in rows)
    assert (tmp_path / "checks-quick.json").exists()
