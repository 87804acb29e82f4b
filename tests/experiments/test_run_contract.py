"""Issue 34: what a command may and may not do to a run directory and to the package.

A resume never mixes work (config, seeds, data files); a refused command writes nothing;
``--margins`` never writes the packaged file by default; ``--regrade`` keeps ``--set``
thresholds and rewrites the CSVs; ``--conv``/``--benchmark`` fail in one line; one
``--set`` per key; Ctrl-C and SIGTERM stop the worker processes cleanly.
"""

import csv
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from helpers import TOY, ToyConfig, toy_run
from implicit_em.cli import main
from implicit_em.experiments import Rule, RunError, registry, run_experiments, runner
from implicit_em.experiments.config import ConfigError, build_config, parse_overrides

QUIET = {"log": lambda *_: None, "jobs": 1}  # seeds here: the toys are not registered


@dataclasses.dataclass
class MnistConfig(ToyConfig):
    datasets: tuple[str, ...] = ("mnist",)
    mnist_train: int = 100


READS_MNIST = dataclasses.replace(TOY, config=MnistConfig)  # its data: the MNIST files found


def _mnist_folder(path, seed):
    """A folder with small test-only MNIST files (content varies with ``seed``)."""
    from implicit_em.data import write_idx
    from implicit_em.data.mnist import FILES

    path.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    write_idx(path / FILES["test_images"], rng.integers(0, 256, (20, 28, 28)).astype(np.uint8))
    write_idx(path / FILES["test_labels"], rng.integers(0, 10, 20).astype(np.uint8))
    return path


@pytest.fixture
def two_data_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no cached MNIST
    return _mnist_folder(tmp_path / "a", 0), _mnist_folder(tmp_path / "b", 1)


def test_other_data_files_refuse_a_finished_experiment_and_write_nothing(
    tmp_path, monkeypatch, capsys, two_data_folders
):
    a, b = two_data_folders
    out = tmp_path / "run"
    monkeypatch.setenv("IEM_DATA", str(a))
    assert run_experiments([READS_MNIST], out, quick=True, **QUIET) == {"toy": "done"}
    assert run_experiments([READS_MNIST], out, quick=True, **QUIET) == {"toy": "skipped"}
    before = (out / "run.json").read_bytes()
    monkeypatch.setitem(registry.EXPERIMENTS, "toy", READS_MNIST)
    cli = ["run", "toy", "--quick", "--out", str(out), "--jobs", "1", "--data-dir"]
    assert main([*cli, str(b)]) == 2  # was: "skipped", exit 0, the old results kept
    err = capsys.readouterr().err.strip()
    assert err.startswith("iem: error:") and len(err.splitlines()) == 1 and "mnist data" in err
    monkeypatch.setenv("IEM_DATA", str(b))  # same config, other files: was "skipped"
    with pytest.raises(
        RunError, match=f"mnist data {re.escape(str(a))} .* -> {re.escape(str(b))} "
    ):
        run_experiments([READS_MNIST], out, quick=True, **QUIET)
    assert (out / "run.json").read_bytes() == before
    record = json.loads((out / "toy" / "results.json").read_text())
    assert record["data_files"]["mnist"]["folder"] == str(a)
    assert run_experiments([READS_MNIST], out, quick=True, force=True, **QUIET) == {"toy": "done"}
    record = json.loads((out / "toy" / "results.json").read_text())
    assert record["data_files"]["mnist"]["folder"] == str(b)
    # the same files in another folder are the same data
    shutil.copytree(b, tmp_path / "copy")
    monkeypatch.setenv("IEM_DATA", str(tmp_path / "copy"))
    assert run_experiments([READS_MNIST], out, quick=True, **QUIET) == {"toy": "skipped"}


def test_an_interrupted_experiment_resumes_only_on_the_same_data(
    tmp_path, monkeypatch, two_data_folders
):
    """Seed 0 from one folder and seed 1 from another: refused, unless --force."""
    from implicit_em.experiments.runner import run_one

    a, b = two_data_folders
    calls = []

    def interrupted_after_seed_0(cfg, out_dir):
        calls.append(cfg.seed)
        if cfg.seed == 1 and calls.count(1) == 1:
            raise KeyboardInterrupt
        return toy_run(cfg, out_dir)

    exp = dataclasses.replace(READS_MNIST, run=interrupted_after_seed_0)
    cfg = MnistConfig(n=2)
    monkeypatch.setenv("IEM_DATA", str(a))
    with pytest.raises(KeyboardInterrupt):
        run_one(exp, cfg, tmp_path, quick=True, n_seeds=2, **QUIET)
    assert (tmp_path / ".toy.partial" / ".work.json").exists()
    monkeypatch.setenv("IEM_DATA", str(b))
    with pytest.raises(RunError, match=r"\.toy\.partial holds an interrupted run .*mnist data"):
        run_one(exp, cfg, tmp_path, quick=True, n_seeds=2, **QUIET)
    with pytest.raises(RunError, match="config n 2 -> 3"):  # a --set change is named too
        run_one(exp, MnistConfig(n=3), tmp_path, quick=True, n_seeds=2, **QUIET)
    assert calls == [0, 1]  # nothing ran
    assert run_one(exp, cfg, tmp_path, quick=True, n_seeds=2, force=True, **QUIET) == "done"
    assert calls == [0, 1, 0, 1]  # --force: started again, every seed on the new files


def test_a_refused_run_exits_non_zero_and_leaves_run_json_byte_identical(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(registry.EXPERIMENTS, "toy", TOY)
    out = str(tmp_path / "run")
    args = ["run", "toy", "--quick", "--out", out, "--jobs", "1"]
    assert main([*args, "--set", "n=3"]) == 0
    before = (tmp_path / "run" / "run.json").read_bytes()
    assert "finished" in json.loads(before)
    capsys.readouterr()
    assert main([*args, "--set", "n=5"]) == 2
    assert (tmp_path / "run" / "run.json").read_bytes() == before
    err = capsys.readouterr().err.strip()
    assert err.startswith("iem: error:") and len(err.splitlines()) == 1
    assert "config n 3 -> 5" in err and "--force" in err
    assert main([*args, "--set", "n=oops"]) == 2  # a bad value
    assert main([*args, "--set", "n=3", "--set", "n=4"]) == 2  # a key given twice
    assert (tmp_path / "run" / "run.json").read_bytes() == before


def test_a_set_key_given_twice_is_refused_and_the_named_experiment_wins(capsys):
    with pytest.raises(ConfigError, match=r"--set n is given twice \('3' and '4'\)"):
        parse_overrides(["n=3", "n=4"])
    with pytest.raises(ConfigError, match=r"toy\.n is given twice"):
        parse_overrides(["toy.n=3", "toy.n=4"])
    for items in (["n=3", "toy.n=7"], ["toy.n=7", "n=3"]):  # whatever the order
        assert build_config(TOY, overrides=parse_overrides(items)).n == 7
    assert main(["run", "identities", "--set", "trials=3", "--set", "trials=5"]) == 2
    assert "trials is given twice" in capsys.readouterr().err


@dataclasses.dataclass
class BarConfig(ToyConfig):
    bar: float = 100.0  # the threshold: value (n * rate = 1.0 at quick sizes) < bar


BARRED = dataclasses.replace(TOY, config=BarConfig, rules=(Rule("C1", "t", "value", "<", "bar"),))


def _cells(run_dir):
    with open(run_dir / "toy" / "verdict_cells.csv") as f:
        return list(csv.DictReader(f))


def test_regrade_keeps_a_set_threshold_and_rewrites_the_csvs(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(registry.EXPERIMENTS, "toy", BARRED)
    assert main(["run", "toy", "--quick", "--out", str(tmp_path), "--jobs", "1",
                 "--set", "bar=0.5"]) == 0  # fmt: skip
    assert _cells(tmp_path)[0]["limit"] == "0.5" and _cells(tmp_path)[0]["outcome"] == "fails"
    # today's rule is stricter (<=): regraded with the run's own bar, 0.5, not the default
    stricter = dataclasses.replace(BARRED, rules=(Rule("C1", "t", "value", "<=", "bar"),))
    monkeypatch.setitem(registry.EXPERIMENTS, "toy", stricter)
    assert main(["report", str(tmp_path), "--regrade"]) == 0
    record = json.loads((tmp_path / "toy" / "results.json").read_text())
    assert record["verdicts"][0]["verdict"] == "refuted"  # 1.0 <= 0.5 fails on every seed
    assert record["config"]["bar"] == 0.5 and record["overrides"] == {"bar": 0.5}
    assert [s["verdicts"]["C1"] for s in record["per_seed"]] == ["refuted", "refuted"]
    (cell,) = {c["cell"]: c for c in record["tables"]["verdict_cells"]}.values()
    assert cell["test"] == "<= 0.5"
    assert _cells(tmp_path)[0]["test"] == "<= 0.5"  # the CSV says what results.json says
    html = (tmp_path / "report.html").read_text()
    assert "&lt;= 0.5" in html or "<= 0.5" in html
    # a run that did not record its --set fields: taken from run.json's argv
    del record["overrides"]
    (tmp_path / "toy" / "results.json").write_text(json.dumps(record))
    assert main(["report", str(tmp_path), "--regrade"]) == 0
    assert json.loads((tmp_path / "toy" / "results.json").read_text())["config"]["bar"] == 0.5
    assert _cells(tmp_path)[0]["limit"] == "0.5"


def test_margins_are_written_beside_the_run_never_into_the_package(tmp_path, monkeypatch, capsys):
    packaged = tmp_path / "packaged-margins.json"  # a copy of the file the package ships
    shutil.copy(runner.FULL_MARGINS, packaged)
    shipped = packaged.read_bytes()
    monkeypatch.setattr(runner, "FULL_MARGINS", packaged)
    run_experiments([TOY], tmp_path / "full", quick=False, n_seeds=1, **QUIET)
    assert main(["report", str(tmp_path / "full"), "--margins"]) == 0
    assert f"margins written to {tmp_path / 'full' / 'margins.json'}" in capsys.readouterr().out
    assert json.loads((tmp_path / "full" / "margins.json").read_text()) == {"C1": {"t.value": 95.0}}
    assert packaged.read_bytes() == shipped
    # a one-experiment run may not replace the packaged margins, even when asked to
    assert main(["report", str(tmp_path / "full"), "--margins-out", str(packaged)]) == 2
    assert "lacks" in capsys.readouterr().err and packaged.read_bytes() == shipped
    # an interrupted run: refused, nothing written
    run_experiments([TOY], tmp_path / "cut", quick=False, n_seeds=1, **QUIET)
    meta = json.loads((tmp_path / "cut" / "run.json").read_text())
    del meta["finished"]
    (tmp_path / "cut" / "run.json").write_text(json.dumps(meta))
    assert main(["report", str(tmp_path / "cut"), "--margins"]) == 2
    assert "did not finish" in capsys.readouterr().err
    assert not (tmp_path / "cut" / "margins.json").exists() and packaged.read_bytes() == shipped


def _conv_like(cfg, out_dir):
    rows = [{"learner": "IEM", "dataset": "mnist", "depth": 1, "probe_accuracy": 0.9}]
    return {"tables": {"summary_over_seeds": rows, "fits": [{"cell_s": 60.0}]}}


def test_conv_and_benchmark_blocks_fail_in_one_line_on_a_damaged_page_or_run(tmp_path, capsys):
    good, bad = tmp_path / "good", tmp_path / "bad"
    conv = dataclasses.replace(TOY, name="conv", run=_conv_like, claims=(), rules=())
    assert run_experiments([conv], good, quick=True, n_seeds=1, **QUIET) == {"conv": "done"}
    run_experiments([dataclasses.replace(TOY, name="conv")], bad, quick=True, **QUIET)
    page, other = tmp_path / "page.md", tmp_path / "other.md"
    page.write_text("a\n<!-- conv:start -->\nold\n<!-- conv:end -->\nb\n")
    other.write_text("<!-- conv:end -->\n<!-- conv:start -->\n")  # markers the wrong way
    before = page.read_text()
    for argv, says in (
        (["report", str(bad), "--conv", str(page)], "is not a complete conv run"),
        (["report", str(good), "--conv", str(page), str(other)], f"{other} has no"),
        (["report", str(good), "--conv", str(tmp_path)], str(tmp_path)),  # a folder
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("iem: error:") and says in err and len(err.splitlines()) == 1
    assert page.read_text() == before  # every page is checked before any is written
    (tmp_path / "binary.md").write_bytes(b"\xff\xfe<!-- conv:start --><!-- conv:end -->")
    assert main(["report", str(good), "--conv", str(tmp_path / "binary.md")]) == 2
    assert "binary.md is not UTF-8 text" in capsys.readouterr().err
    assert main(["report", str(good), "--conv", str(page)]) == 0
    assert "| IEM | 90.00 |" in page.read_text() and page.read_text().endswith("end -->\nb\n")


_SLOW_WORKERS = """
import os, sys, time
from pathlib import Path

if __name__ == "__mp_main__":  # a seed's worker process, starting: slow on purpose
    Path(os.environ["MARKS"], f"worker-{os.getpid()}").write_text("")
    time.sleep(60)

from dataclasses import dataclass
from implicit_em.experiments import Experiment, registry

@dataclass
class Cfg:
    seed: int = 0

registry.EXPERIMENTS["slow"] = Experiment("slow", "Slow", (), Cfg, lambda cfg, out: {})

if __name__ == "__main__":
    from implicit_em.cli import main
    sys.exit(main(sys.argv[1:]))
"""


def _stop_run_with(tmp_path, sig, whom):
    """Start ``iem run slow --jobs 2``, wait until both workers are starting, send ``sig``
    to the process group or the main process; returns (exit code, output, worker pids)."""
    script, marks = tmp_path / "slow.py", tmp_path / "marks"
    script.write_text(textwrap.dedent(_SLOW_WORKERS))
    marks.mkdir()
    env = dict(os.environ, MARKS=str(marks), IEM_PROGRESS="0")
    cmd = [sys.executable, str(script), "run", "slow", "--quick", "--jobs", "2",
           "--out", str(tmp_path / "run")]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True,  # its own group, with Ctrl-C's default action
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len(list(marks.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = [int(p.name.split("-")[1]) for p in marks.iterdir()]
        assert len(pids) == 2, "the workers did not start"
        os.killpg(proc.pid, sig) if whom == "group" else os.kill(proc.pid, sig)
        out, _ = proc.communicate(timeout=30)  # well before the workers' 60 s
        return proc.returncode, out, pids
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].startswith(("Z", "X"))
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals and /proc")
def test_ctrl_c_with_jobs_stops_the_workers_in_one_line(tmp_path):
    code, out, pids = _stop_run_with(tmp_path, signal.SIGINT, "group")  # as a terminal does
    assert code == 130, out
    assert "Traceback" not in out and out.count("iem: interrupted.") == 1, out
    assert all(_gone(p) for p in pids)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals and /proc")
def test_sigterm_with_jobs_shuts_the_pool_down_cleanly(tmp_path):
    code, out, pids = _stop_run_with(tmp_path, signal.SIGTERM, "main")
    assert code == 143, out
    assert "leaked semaphore" not in out and "Traceback" not in out, out
    assert "iem: terminated (SIGTERM)." in out and not (tmp_path / "run" / ".lock").exists()
    assert all(_gone(p) for p in pids)
