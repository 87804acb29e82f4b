"""The runner: atomic, resumable results, parallel seeds equal to serial, failures kept apart,
the run lock, damaged files."""

import json
import subprocess
import sys

import pytest

from helpers import BOOM, CALLS, TOY
from implicit_em.cli import main
from implicit_em.experiments import (
    RunError,
    get_experiments,
    run_experiments,
)
from implicit_em.experiments.config import parse_overrides
from implicit_em.report import build_report

_HOLD_LOCK = """
import sys, time
from implicit_em.experiments.runner import RunLock
with RunLock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def _contend(run_dir, barrier, holders, peak, rounds):
    import time

    from implicit_em.experiments.runner import RunLock

    for _ in range(rounds):
        barrier.wait()
        try:
            with RunLock(run_dir):
                with holders.get_lock():
                    holders.value += 1
                    peak.value = max(peak.value, holders.value)
                time.sleep(0.02)
                with holders.get_lock():
                    holders.value -= 1
        except RunError:
            pass
        barrier.wait()


def test_run_writes_atomically_resumes_and_refuses_other_configs(tmp_path):
    CALLS.clear()
    status = run_experiments([TOY], tmp_path, quick=True, argv=["t"], log=lambda *_: None)
    assert status == {"toy": "done"}
    res = json.loads((tmp_path / "toy" / "results.json").read_text())
    assert res["config"]["n"] == 2 and res["seed"] == 0 and res["quick"] is True
    assert res["verdicts"][0]["verdict"] == "confirmed" and res["wall_s"] >= 0
    assert res["schema"] == 1 and res["seeds"] == [0, 1]  # quick: two seeds
    assert res["verdicts"][0]["seeds_agree"] == 2 and res["verdicts"][0]["seeds_total"] == 2
    assert [c.seed for c in CALLS] == [0, 1]
    csv = (tmp_path / "toy" / "t.csv").read_text().splitlines()
    assert csv == ["seed,n,value", "0,2,1.0", "1,2,1.0"]
    assert not list(tmp_path.glob(".*partial"))
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["experiments"] == ["toy"] and "finished" in meta and "torch" in meta["env"]
    # started again: complete experiments are skipped, not recomputed
    status = run_experiments([TOY], tmp_path, quick=True, log=lambda *_: None)
    assert status == {"toy": "skipped"} and len(CALLS) == 2
    with pytest.raises(RunError, match="different config"):
        run_experiments([TOY], tmp_path, quick=False, log=lambda *_: None)
    status = run_experiments([TOY], tmp_path, quick=False, force=True, log=lambda *_: None)
    assert status == {"toy": "done"} and len(CALLS) == 2 + 5  # full: five seeds
    assert run_experiments([TOY], tmp_path / "one", seed=7, log=lambda *_: None) == {"toy": "done"}
    assert CALLS[-1].seed == 7 and len(CALLS) == 8  # --seed: one seed, for debugging


def test_seeds_in_parallel_workers_give_the_numbers_of_a_serial_run(tmp_path):

    (exp,) = get_experiments(["collapse"])
    overrides = parse_overrides(["collapse.epochs=1", "collapse.units=6"])
    logs = []
    for jobs in (1, 2):
        status = run_experiments(
            [exp], tmp_path / f"j{jobs}", quick=True, overrides=overrides, n_seeds=2,
            jobs=jobs, log=logs.append,
        )  # fmt: skip
        assert status == {"collapse": "done"}
    serial, parallel = (
        json.loads((tmp_path / f"j{j}" / "collapse" / "results.json").read_text()) for j in (1, 2)
    )
    assert parallel["per_seed"] == serial["per_seed"]  # every number, seed by seed
    assert parallel["tables"] == serial["tables"]
    assert (tmp_path / "j2" / "collapse" / "seed-1").is_dir()
    assert json.loads((tmp_path / "j2" / "run.json").read_text())["jobs"] == 2
    assert sum("seed 1 done" in line for line in logs) == 2


def test_a_seed_failing_in_a_worker_fails_its_experiment(tmp_path):

    (exp,) = get_experiments(["infomax"])  # too few permutations: run() refuses
    bad = parse_overrides(["infomax.permutations=10", "infomax.alpha=0.01"])
    status = run_experiments(
        [exp], tmp_path, quick=True, overrides=bad, n_seeds=2, jobs=2, log=lambda *_: None
    )
    assert status["infomax"].startswith("failed: ValueError: 10 permutations cannot reach")
    assert not (tmp_path / "infomax").exists() and not list(tmp_path.glob(".*partial"))
    with pytest.raises(ValueError, match="jobs must be an integer >= 1"):
        run_experiments([exp], tmp_path, jobs=0)


def test_a_failure_keeps_other_results_and_an_interrupted_run_restarts_clean(tmp_path):
    (tmp_path / ".toy.partial").mkdir(parents=True)  # left by a killed run
    (tmp_path / ".toy.partial" / "junk.png").write_text("x")
    status = run_experiments([BOOM, TOY], tmp_path, quick=True, log=lambda *_: None)
    assert status["toy"] == "done" and status["boom"].startswith("failed: RuntimeError")
    assert not (tmp_path / "boom").exists() and not (tmp_path / ".boom.partial").exists()
    assert not (tmp_path / "toy" / "junk.png").exists()
    meta = json.loads((tmp_path / "run.json").read_text())
    assert "exploded on purpose" in meta["failures"]["boom"]
    html = build_report(tmp_path).read_text()
    assert "exploded on purpose" in html and 'id="exp-toy"' in html


def test_a_live_run_locks_its_directory_and_a_dead_one_does_not(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunError, match=f"process {holder.pid}"):
            run_experiments([TOY], tmp_path, quick=True, log=lambda *_: None)
        assert not (tmp_path / "toy").exists()
    finally:
        holder.kill()
        holder.wait()
    assert (tmp_path / ".lock").exists()  # killed: the file stays, but the lock died with it
    assert run_experiments([TOY], tmp_path, quick=True, log=lambda *_: None) == {"toy": "done"}
    assert not (tmp_path / ".lock").exists()
    (tmp_path / ".lock").write_text("")  # an empty lock file (the old race) is no lock
    assert run_experiments([TOY], tmp_path, quick=True, log=lambda *_: None) == {"toy": "skipped"}


def test_the_run_lock_admits_one_of_several_processes_started_together(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    n, rounds = 4, 30
    barrier, holders, peak = ctx.Barrier(n), ctx.Value("i", 0), ctx.Value("i", 0)
    procs = [
        ctx.Process(target=_contend, args=(tmp_path, barrier, holders, peak, rounds))
        for _ in range(n)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert peak.value == 1  # never two holders at once (the O_EXCL + pid-file lock: up to 3)


@pytest.mark.parametrize(
    "damage",
    [b"", b'{"experiment": "toy", "con', b"[1, 2]", b'{"experiment": 3}', "verdicts", "tables"],
)
def test_a_damaged_results_file_is_rerun_and_kept_and_the_report_skips_it(tmp_path, damage):
    run_experiments([TOY], tmp_path, quick=True, log=lambda *_: None)
    path = tmp_path / "toy" / "results.json"
    if isinstance(damage, bytes):
        path.write_bytes(damage)
    else:  # valid JSON, wrong types inside
        record = json.loads(path.read_text())
        record[damage] = {"verdicts": "oops"}[damage] if damage == "verdicts" else [1]
        path.write_text(json.dumps(record))
    bad = path.read_bytes()
    notes = []
    html = build_report(tmp_path, log=notes.append).read_text()
    assert "skipped" in html and str(path) in html and 'id="exp-toy"' not in html
    assert len(notes) == 1 and str(path) in notes[0] and "damaged" in notes[0]
    assert main(["report", str(tmp_path)]) == 0
    logs = []
    assert run_experiments([TOY], tmp_path, quick=True, log=logs.append) == {"toy": "done"}
    assert any("results.json.damaged" in line for line in logs)
    assert (tmp_path / "toy" / "results.json.damaged").read_bytes() == bad
    assert json.loads(path.read_text())["experiment"] == "toy"
    assert 'id="exp-toy"' in build_report(tmp_path).read_text()


def test_a_damaged_run_record_is_named(tmp_path, capsys):
    run_experiments([TOY], tmp_path, quick=True, log=lambda *_: None)
    (tmp_path / "run.json").write_text('{"started": ')
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "run.json") in err and "damaged" in err
    logs = []
    assert run_experiments([TOY], tmp_path, quick=True, log=logs.append) == {"toy": "skipped"}
    assert (tmp_path / "run.json.damaged").exists() and any("run.json" in x for x in logs)
    assert 'id="exp-toy"' in build_report(tmp_path).read_text()


def test_an_interrupted_run_keeps_its_pieces_and_resumes_them(tmp_path):
    """Ctrl-C keeps the partial folder (with the work it is for); the next run of the same
    work finds the pieces there; a run of other work starts clean."""
    import dataclasses

    from helpers import TOY, toy_run
    from implicit_em.experiments.runner import run_one

    seen = []

    def piecewise(cfg, out_dir):
        piece = out_dir / "piece.txt"
        seen.append(piece.exists())
        piece.write_text("done")
        if len(seen) == 1:
            raise KeyboardInterrupt
        return toy_run(cfg, out_dir)

    exp = dataclasses.replace(TOY, run=piecewise)
    cfg = TOY.config(n=2)
    with pytest.raises(KeyboardInterrupt):
        run_one(exp, cfg, tmp_path, quick=True, log=lambda *_: None)
    assert (tmp_path / ".toy.partial" / "piece.txt").exists()
    assert run_one(exp, cfg, tmp_path, quick=True, log=lambda *_: None) == "done"
    assert seen == [False, True]  # resumed: the piece was there
    seen.clear()
    seen.append(None)  # no interruption from here on
    other = tmp_path / "other"
    (other / ".toy.partial").mkdir(parents=True)
    (other / ".toy.partial" / "piece.txt").write_text("stale")  # no record of its work
    assert run_one(exp, cfg, other, quick=True, log=lambda *_: None) == "done"
    assert seen == [None, False]  # other work: started clean


def test_regrade_decides_a_saved_run_again_with_todays_rules(tmp_path, monkeypatch):
    import dataclasses

    from implicit_em.cli import main
    from implicit_em.experiments import Rule, registry, run_experiments
    from implicit_em.experiments.results import read_results
    from implicit_em.experiments.runner import regrade

    run_experiments([TOY], tmp_path, quick=False, n_seeds=3, log=lambda *_: None)
    assert read_results(tmp_path / "toy" / "results.json").verdicts[0].verdict == "confirmed"
    stricter = dataclasses.replace(TOY, rules=(Rule("C1", "t", "value", "<", 1.0),))
    monkeypatch.setitem(registry.EXPERIMENTS, "toy", stricter)
    assert regrade(tmp_path, log=lambda *_: None) == ["toy"]
    record = read_results(tmp_path / "toy" / "results.json")
    assert record.verdicts[0].verdict == "refuted" and record.verdicts[0].value == 5.0
    assert record.tables["verdict_cells"][0]["outcome"] == "fails"
    assert main(["report", str(tmp_path), "--regrade"]) == 0
    # thresholds are today's Config defaults, also for a field the saved run lacks
    for bar, verdict in ((10.0, "confirmed"), (1.0, "refuted")):
        config = dataclasses.make_dataclass("C", [("bar", float, bar)], bases=(TOY.config,))
        declared = dataclasses.replace(TOY, config=config,
                                       rules=(Rule("C1", "t", "value", "<", "bar"),))  # fmt: skip
        monkeypatch.setitem(registry.EXPERIMENTS, "toy", declared)
        regrade(tmp_path, log=lambda *_: None)
        assert read_results(tmp_path / "toy" / "results.json").verdicts[0].verdict == verdict
