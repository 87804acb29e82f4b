"""Measured experiment times: a run records what computing each experiment took, only
experiments computed from scratch are recorded, and ``iem list`` shows them."""

import json

import pytest

from helpers import BOOM, TOY
from implicit_em._machine import cpu_info
from implicit_em.cli import list_rows, main
from implicit_em.experiments import run_experiments, times

QUIET = {"log": lambda *_: None, "jobs": 1}


def test_a_run_records_each_computed_experiment_and_the_machine(tmp_path, capsys):
    run_experiments([TOY, BOOM], tmp_path / "quick", quick=True, **QUIET)
    run_experiments([TOY], tmp_path / "full", quick=False, n_seeds=1, **QUIET)
    out = tmp_path / "times.json"
    assert main(["report", str(tmp_path / "quick"), "--times-out", str(out)]) == 0
    assert main(["report", str(tmp_path / "full"), "--times-out", str(out)]) == 0
    assert f"times of full/toy written to {out}" in capsys.readouterr().out
    recorded = times.recorded_times(out)
    quick, full = recorded["quick"]["toy"], recorded["full"]["toy"]
    assert "boom" not in recorded["quick"]  # failed: it took no meaningful time
    assert quick["cpu"] == cpu_info()["cpu"] and quick["jobs"] == 1
    assert (quick["seeds"], full["seeds"]) == (2, 1) and quick["seconds"] >= 0
    assert "resumed" not in quick
    # run again: toy is complete and skipped; its recorded time is still the first one
    meta = json.loads((tmp_path / "quick" / "run.json").read_text())
    run_experiments([TOY], tmp_path / "quick", quick=True, **QUIET)
    again = json.loads((tmp_path / "quick" / "run.json").read_text())
    assert again["timings"]["toy"] == meta["timings"]["toy"]


def test_resumed_or_failed_experiments_give_no_time(tmp_path):
    run_experiments([TOY], tmp_path, quick=True, **QUIET)
    meta = json.loads((tmp_path / "run.json").read_text())
    meta["timings"]["toy"]["resumed"] = True  # computed in part by an earlier invocation
    (tmp_path / "run.json").write_text(json.dumps(meta))
    out = tmp_path / "times.json"
    with pytest.raises(ValueError, match="computed no experiment from scratch"):
        times.record_times(tmp_path, out)
    assert not out.exists()
    assert main(["report", str(tmp_path), "--times-out", str(out)]) == 2 and not out.exists()


def test_a_run_from_before_timings_is_read_from_its_wall_times(tmp_path):
    run_experiments([TOY], tmp_path, quick=True, **QUIET)
    meta = json.loads((tmp_path / "run.json").read_text())
    del meta["timings"], meta["env"]["cpu"]
    meta["wall_s"]["toy"] = 125.0
    (tmp_path / "run.json").write_text(json.dumps(meta))
    toy = times.run_times(tmp_path)["quick"]["toy"]
    assert toy["seconds"] == 125.0 and toy["cpu"] == "not recorded" and toy["jobs"] == 1


def test_list_shows_the_recorded_times_and_their_machine(tmp_path, monkeypatch, capsys):
    packaged = tmp_path / "times.json"
    timing = {"cpu": "AMD EPYC", "cores": 2, "jobs": 5, "seeds": 5, "date": "2026-12-08"}
    full = {"benchmark": {"seconds": 7560, **timing}}
    packaged.write_text(json.dumps({"quick": {}, "full": full}))
    monkeypatch.setattr(times, "TIMES", packaged)
    rows = {r["name"]: r for r in list_rows()}
    assert rows["benchmark"]["full"] == "2.1 h" and rows["benchmark"]["quick"] == "-"
    assert main(["list"]) == 0
    assert "AMD EPYC, 2 cores, 5 workers, 5 seeds (full)" in capsys.readouterr().out


def test_the_packaged_times_name_their_machine():
    for mode, entries in times.recorded_times().items():
        for name, t in entries.items():
            assert t["seconds"] > 0 and t["cpu"] and t["jobs"] >= 1, (mode, name)
