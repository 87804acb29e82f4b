"""Run experiments into a run directory, resumably.

Each experiment runs in a hidden ``.NAME.partial/`` folder that is renamed to ``NAME/``
only once ``results.json`` is written, so a run directory never holds half an
experiment. Started again on the same directory, a run skips every experiment whose
``results.json`` exists with the same config, and re-runs the rest from scratch; a
damaged ``results.json`` (truncated, empty, wrong structure) counts as incomplete: the
experiment is re-run and the damaged file kept beside the new one as
``results.json.damaged``. An exclusive ``fcntl.flock`` on ``.lock`` (which holds the
writer's process id, for the error message) keeps a second run out of a directory that a
live run is writing; the kernel drops the lock when its process ends, so there are no
stale locks to take over.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import platform
import shutil
import sys
import time
import traceback
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: fall back to O_EXCL lock files
    fcntl = None

import numpy as np
import torch

from .._io import jsonable, write_csv, write_json
from .base import Experiment, Verdict
from .config import build_config, check_overrides
from .results import DamagedFileError, read_results, read_run_meta


class RunError(RuntimeError):
    """A run that cannot proceed (e.g. a completed experiment with another config)."""


def environment() -> dict:
    import matplotlib
    import sklearn

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "matplotlib": matplotlib.__version__,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "iem_data": os.environ.get("IEM_DATA"),
    }


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def default_run_dir(root="runs") -> Path:
    """A fresh ``runs/YYYYmmdd-HHMMSS`` folder name (suffixed if it exists)."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path, i = Path(root) / stamp, 1
    while path.exists():
        path, i = Path(root) / f"{stamp}-{i}", i + 1
    return path


def _check_result(name: str, result) -> dict:
    if not isinstance(result, dict):
        raise TypeError(f"{name}.run must return a dict, got {type(result).__name__}")
    unknown = set(result) - {"metrics", "tables", "verdicts", "summary"}
    if unknown:
        raise TypeError(f"{name}.run returned unknown keys {sorted(unknown)}")
    verdicts = result.get("verdicts", [])
    if not all(isinstance(v, Verdict) for v in verdicts):
        raise TypeError(f"{name}.run must return Verdict objects in 'verdicts'")
    return {
        "metrics": result.get("metrics", {}),
        "tables": result.get("tables", {}),
        "verdicts": [v.to_dict() for v in verdicts],
        "summary": result.get("summary", ""),
    }


def run_one(
    exp: Experiment, cfg, run_dir: Path, *, quick: bool, force: bool = False, log=print
) -> str:
    """Run ``exp`` with ``cfg`` into ``run_dir/exp.name``; returns ``"done"`` or ``"skipped"``."""
    final = run_dir / exp.name
    config = dataclasses.asdict(cfg)
    results_path = final / "results.json"
    if results_path.exists() and not force:
        try:
            previous = read_results(results_path)
        except DamagedFileError as err:
            os.replace(results_path, final / "results.json.damaged")
            log(f"    {err}; re-running it (the damaged file is kept as results.json.damaged)")
        else:
            if previous["config"] == jsonable(config):
                return "skipped"
            raise RunError(
                f"{results_path} was computed with a different config; use a new --out, or "
                "--force to replace it"
            )
    partial = run_dir / f".{exp.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    start = time.perf_counter()
    try:
        partial.mkdir(parents=True)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)  # noqa: NPY002 - legacy global RNG users (sklearn)
        result = _check_result(exp.name, exp.run(cfg, partial))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    wall = time.perf_counter() - start
    record = {
        "experiment": exp.name,
        "title": exp.title,
        "claims": list(exp.claims),
        "config": config,
        "seed": cfg.seed,
        "quick": quick,
        "wall_s": round(wall, 3),
        "finished": _now(),
        **result,
    }
    for table, rows in record["tables"].items():
        write_csv(partial / f"{table}.csv", rows)
    record = jsonable(record)
    record["figures"] = exp.plot(record, partial) if exp.plot else []
    write_json(partial / "results.json", record)
    for damaged in final.glob("*.damaged"):  # keep what could not be read, for a post-mortem
        os.replace(damaged, partial / damaged.name)
    if final.exists():
        shutil.rmtree(final)
    os.replace(partial, final)
    return "done"


class RunLock:
    """Exclusive lock on ``run_dir/.lock`` for the duration of a run.

    ``flock`` is atomic and released by the kernel when the process ends. The file is
    removed on exit while still locked; a process that opened the old file just before
    that sees, after taking its lock, that the path now names another file, and retries.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / ".lock"
        self.fd = None

    def _busy(self) -> RunError:
        try:
            holder = self.path.read_text().strip() or "?"
        except OSError:
            holder = "?"
        return RunError(
            f"another run (process {holder}) is writing to {self.path.parent}; wait for it, "
            "or use another --out"
        )

    def __enter__(self):
        if fcntl is None:  # pragma: no cover
            try:
                self.fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                raise self._busy() from None
            os.write(self.fd, str(os.getpid()).encode())
            return self
        while True:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._busy() from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder removed the file as we opened it: try again
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)
        os.close(self.fd)
        self.fd = None


def run_experiments(
    experiments: list[Experiment],
    run_dir,
    *,
    quick: bool = False,
    seed: int | None = None,
    overrides=(),
    force: bool = False,
    argv=None,
    log=print,
) -> dict:
    """Run ``experiments`` into ``run_dir``; returns ``{name: "done" | "skipped" | error}``.

    A failing experiment is reported and the others still run; what finished is kept.
    """
    run_dir = Path(run_dir)
    check_overrides(experiments, overrides)
    configs = {
        e.name: build_config(e, quick=quick, seed=seed, overrides=overrides) for e in experiments
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir):
        return _run_locked(experiments, configs, run_dir, quick, force, argv, log)


def _run_locked(experiments, configs, run_dir, quick, force, argv, log) -> dict:
    meta_path = run_dir / "run.json"
    meta = {"started": _now(), "experiments": []}
    if meta_path.exists():
        try:
            meta = read_run_meta(meta_path)
        except DamagedFileError as err:
            os.replace(meta_path, run_dir / "run.json.damaged")
            meta["experiments"] = sorted(  # what is complete is still complete
                p.parent.name for p in run_dir.glob("*/results.json")
            )
            log(f"{err}; starting a new run record (the damaged file is kept as run.json.damaged)")
    meta.update(argv=list(argv if argv is not None else sys.argv), env=environment())
    meta.pop("finished", None)
    write_json(meta_path, meta)
    status = {}
    for i, exp in enumerate(experiments, 1):
        log(f"[{i}/{len(experiments)}] {exp.name}: {exp.title}")
        start = time.perf_counter()
        try:
            status[exp.name] = run_one(
                exp, configs[exp.name], run_dir, quick=quick, force=force, log=log
            )
        except RunError:
            raise
        except Exception as err:  # keep going: one failure must not lose the others
            status[exp.name] = f"failed: {type(err).__name__}: {err}"
            log(traceback.format_exc())
        log(f"    {status[exp.name]} ({time.perf_counter() - start:.1f} s)")
        if status[exp.name] in ("done", "skipped") and exp.name not in meta["experiments"]:
            meta["experiments"].append(exp.name)
        meta.setdefault("failures", {}).pop(exp.name, None)
        if status[exp.name].startswith("failed"):
            meta["failures"][exp.name] = status[exp.name]
        write_json(meta_path, meta)
    meta["finished"] = _now()
    write_json(meta_path, meta)
    return status
