"""Thresholds calibrated on seeds that are never graded: the formula, the refusals."""

import json
import statistics

import pytest


def _results(seeds, rows):
    return {"seeds": list(seeds), "tables": rows}


def _write_run(tmp_path, seeds=(100, 101, 102, 103, 104)):
    """A calibration run with every calibrated experiment's tables (made-up values)."""
    from implicit_em.experiments.calibration import CALIBRATIONS

    tables: dict[str, dict[str, list]] = {}
    for c in CALIBRATIONS:
        rows = tables.setdefault(c.experiment, {}).setdefault(c.table, [])
        for i, s in enumerate(seeds):
            cell = dict(zip(c.cells, ("mnist", 16), strict=False))
            rows.append({**c.where, **cell, "seed": s, c.stat: 0.9 + 0.01 * i})
    for exp, t in tables.items():
        (tmp_path / exp).mkdir()
        (tmp_path / exp / "results.json").write_text(json.dumps(_results(seeds, t)))


def test_calibrate_is_factor_times_the_seed_sd(tmp_path):
    from implicit_em.experiments.calibration import CALIBRATIONS, calibrate, main

    _write_run(tmp_path)
    rows = calibrate(tmp_path)
    assert [(r["experiment"], r["field"]) for r in rows] == [
        (c.experiment, c.field) for c in CALIBRATIONS
    ]
    sd = statistics.stdev([0.9 + 0.01 * i for i in range(5)])
    for r, c in zip(rows, CALIBRATIONS, strict=True):
        assert r["sd"] == pytest.approx(sd) and r["calibrated"] == pytest.approx(c.factor * sd)
        assert r["seeds"] == "100-104" and isinstance(r["default"], float)
    assert main([str(tmp_path)]) == 0
    assert main([]) == 2


def test_the_widest_cell_decides_and_rows_outside_where_are_ignored():
    from implicit_em.experiments.calibration import Calibration

    c = Calibration("x", "f", "t", "v", {"ok": True}, 3.0, "", cells=("K",))
    rows = [{"ok": True, "K": k, "v": v} for k, vals in ((4, (1, 2, 3)), (8, (1, 1, 1.5)))
            for v in vals] + [{"ok": False, "K": 4, "v": 100.0}] * 3  # fmt: skip
    assert c.sd(rows) == pytest.approx(1.0)  # K = 4's SD, not K = 8's, nor the ignored rows
    with pytest.raises(ValueError, match="at least 3 seeds"):
        c.sd(rows[:2])


def test_calibrate_refuses_graded_seeds_and_a_missing_experiment(tmp_path):
    from implicit_em.experiments.calibration import calibrate

    with pytest.raises(FileNotFoundError, match="--set seed=100 --seeds 5"):
        calibrate(tmp_path)
    _write_run(tmp_path, seeds=(0, 1, 2, 3, 4))
    with pytest.raises(ValueError, match="which are graded"):
        calibrate(tmp_path)
