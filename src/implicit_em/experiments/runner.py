"""Run experiments into a run directory, resumably.

Each experiment runs in a hidden ``.NAME.partial/`` folder that is renamed to ``NAME/``
only once ``results.json`` is written, so a run directory never holds half an
experiment. Seeds run in parallel worker processes (``jobs``), each seed on one thread,
so a seed gives the same numbers whether it runs alone, in series or beside others.
Started again on the same directory, a run skips every experiment whose
``results.json`` was computed from the same work, and resumes an interrupted one in its
``.NAME.partial/`` folder only when that folder was started on the same work. The work
(:func:`work_record`) is what decides the numbers: the config (``--set`` included), the
seeds, and the data files the config reads with their content checksums
(:func:`data_files`). Other work in the directory is refused before anything is written
(``RunError`` naming what changed) unless ``force`` (``--force``) replaces it; a
damaged ``results.json`` (truncated, empty, wrong structure) counts as incomplete: the
experiment is re-run and the damaged file kept beside the new one as
``results.json.damaged``. An exclusive ``fcntl.flock`` on ``.lock`` (which holds the
writer's process id, for the error message) keeps a second run out of a directory that a
live run is writing; the kernel drops the lock when its process ends, so there are no
stale locks to take over.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import functools
import hashlib
import itertools
import os
import platform
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: fall back to O_EXCL lock files
    fcntl = None  # type: ignore[assignment]

import numpy as np
import torch

from .._io import jsonable, read_json, write_csv, write_json
from .._machine import cpu_info
from .base import Experiment
from .config import Override, build_config, check_overrides, override_keys, parse_overrides
from .results import (
    DamagedFileError,
    Figure,
    Result,
    read_results,
    read_run_meta,
    write_results,
)
from .rules import cell_table, grade, grade_goals, indicative, stack

QUICK_SEEDS = 2  # seeds per stochastic experiment at quick sizes (make run)
FULL_SEEDS = 5  # and at full sizes (iem run all)
SEED_THREADS = 1  # torch threads per seed: the same numbers whatever the parallelism


class RunError(RuntimeError):
    """A run that cannot proceed (e.g. a completed experiment with another config)."""


def environment() -> dict:
    """Versions, platform, threads and device of this process (recorded in ``run.json``)."""
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
        "threads": f"{SEED_THREADS} per seed",
        "cpu_count": os.cpu_count(),
        **cpu_info(),
        "iem_data": os.environ.get("IEM_DATA"),
    }


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def default_run_dir(root: str | Path = "runs") -> Path:
    """A fresh ``runs/YYYYmmdd-HHMMSS`` folder name (suffixed if it exists)."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path, i = Path(root) / stamp, 1
    while path.exists():
        path, i = Path(root) / f"{stamp}-{i}", i + 1
    return path


def _check_result(exp: Experiment, cfg: Any, result) -> dict:
    name = exp.name
    if not isinstance(result, dict):
        raise TypeError(f"{name}.run must return a dict, got {type(result).__name__}")
    if "verdicts" in result:
        raise TypeError(
            f"{name}.run returned verdicts; an experiment returns measurements and declares "
            "its rules (Experiment(rules=...)), which the runner grades"
        )
    unknown = set(result) - {"metrics", "tables", "summary", "data"}
    if unknown:
        raise TypeError(f"{name}.run returned unknown keys {sorted(unknown)}")
    return {
        "metrics": result.get("metrics", {}),
        "tables": result.get("tables", {}),
        "summary": result.get("summary") or exp.summary,
        "data": result.get("data") or exp.describe_data(cfg),
    }


def _figure(f: dict | tuple) -> Figure:
    """A ``plot`` entry, ``{"file": ..., "caption": ...}`` or ``(file, caption)``."""
    return Figure(f["file"], f.get("caption", "")) if isinstance(f, dict) else Figure(*f)


def seeds_for(exp: Experiment, cfg: Any, n_seeds: int) -> list[int]:
    """The seeds ``exp`` runs: ``cfg.seed, cfg.seed + 1, ...`` (one for deterministic
    experiments)."""
    n = n_seeds if exp.stochastic else 1
    return [cfg.seed + i for i in range(n)]


@functools.lru_cache(maxsize=64)
def _checksum(path: str, mtime_ns: int, size: int, uncompressed: bool) -> str:
    """MD5 of a file's content (of its uncompressed content for MNIST's gzip files), cached
    per path, modification time and size."""
    if uncompressed:
        from ..data.mnist import content_md5

        return content_md5(path)
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files_record(folder: Path, names: Sequence[str], uncompressed: bool) -> dict:
    sums = {}
    for name in names:
        st = (folder / name).stat()
        sums[name] = _checksum(str(folder / name), st.st_mtime_ns, st.st_size, uncompressed)
    return {"folder": str(folder), "files": sums}


def data_files(cfg: Any) -> dict:
    """The data files ``cfg`` reads, and their content MD5s: ``{"mnist": {"folder": ...,
    "files": {name: md5}}}`` (``None`` for a dataset whose files are not found: the
    experiment skips it); ``{}`` for built-in or generated data only.

    The datasets are the config's ``datasets``; a config with ``mnist_train`` and no
    ``datasets`` (the benchmarks) reads MNIST. The files are the ones the loaders pick
    (:func:`implicit_em.data.find_mnist`, :func:`implicit_em.data.find_cifar10`: the
    ``--data-dir``/``IEM_DATA`` folder, then the cache)."""
    names = set(getattr(cfg, "datasets", ()))
    if hasattr(cfg, "mnist_train") and not hasattr(cfg, "datasets"):
        names.add("mnist")
    out: dict[str, dict | None] = {}
    if "mnist" in names:
        from ..data.mnist import FILES, find_mnist

        found = find_mnist()
        kinds = ("train", "test") if found and found[1] else ("test",)
        files = [FILES[f"{k}_{part}"] for k in kinds for part in ("images", "labels")]
        out["mnist"] = _files_record(found[0], files, uncompressed=True) if found else None
    if "cifar10" in names:
        from ..data.cifar10 import TEST, TRAIN, find_cifar10

        folder = find_cifar10()
        out["cifar10"] = _files_record(folder, TRAIN + TEST, uncompressed=False) if folder else None
    return out


def work_record(exp: Experiment, cfg: Any, n_seeds: int) -> dict:
    """What decides ``exp``'s numbers: ``{"config", "seeds", "data_files"}`` (JSON-ready)."""
    return jsonable({"config": dataclasses.asdict(cfg), "seeds": seeds_for(exp, cfg, n_seeds),
                     "data_files": data_files(cfg)})  # fmt: skip


def _data_text(record: dict | None) -> str:
    if not record:
        return "not found"
    digest = hashlib.md5(repr(sorted(record["files"].items())).encode()).hexdigest()[:8]
    return f"{record['folder']} ({len(record['files'])} files, content {digest})"


def _difference(old: dict, new: dict) -> str:
    """What differs between two :func:`work_record` records, in words ("" for nothing)."""
    parts = []
    was, now = old.get("config") or {}, new["config"]
    for key in sorted(set(was) | set(now), key=str):
        if was.get(key, "unset") != now.get(key, "unset"):
            parts.append(f"config {key} {was.get(key, 'unset')!r} -> {now.get(key, 'unset')!r}")
    if old.get("seeds") != new["seeds"]:
        parts.append(f"seeds {old.get('seeds')} -> {new['seeds']}")
    before, after = old.get("data_files"), new["data_files"]
    if before is None:  # written before data files were recorded
        if after:
            parts.append(f"data files not recorded then, now {', '.join(sorted(after))}")
        before = after
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name), after.get(name)
        if (a or {}).get("files") != (b or {}).get("files"):
            parts.append(f"{name} data {_data_text(a)} -> {_data_text(b)}")
    return "; ".join(parts)


def _resume_state(name: str, run_dir: Path, work: dict, force: bool) -> str:
    """``"skip"`` (``name`` is complete with ``work``), ``"resume"`` (its partial folder was
    started on ``work``) or ``"start"``; a ``RunError`` naming what changed when the
    directory holds ``name`` computed or started with other work, unless ``force``."""
    results = run_dir / name / "results.json"
    if results.exists() and not force:
        try:
            previous = read_results(results)
        except DamagedFileError:
            previous = None  # re-run (run_one keeps the damaged file)
        if previous is not None:
            changed = _difference(previous.work(), work)
            if not changed:
                return "skip"
            raise RunError(
                f"{results} was computed with a different config, seeds or data ({changed}); "
                "use a new --out, or --force to replace it"
            )
    partial = run_dir / f".{name}.partial"
    try:
        started = read_json(partial / ".work.json")
    except (OSError, ValueError):
        started = None
    if not isinstance(started, dict) or not isinstance(started.get("config"), dict):
        return "start"  # no record of its work: leftovers, discarded
    changed = _difference(started, work)
    if not changed:
        return "resume"
    if force:
        return "start"
    raise RunError(
        f"{partial} holds an interrupted run of other work ({changed}); run it again as it "
        "was to resume it, use --force to discard it, or a new --out"
    )


# the margins of the last complete full run, shipped with the package; written only by a
# developer, explicitly (`iem report RUN --margins-out src/implicit_em/experiments/margins.json`)
FULL_MARGINS = Path(__file__).with_name("margins.json")


def full_margins() -> dict:
    """Each claim's cells' distance from their thresholds in the last full run
    (:func:`implicit_em.experiments.rules.margins`); empty when not recorded."""
    return read_json(FULL_MARGINS) if FULL_MARGINS.is_file() else {}


def record_margins(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the margins (every graded cell's distance from its threshold) of the finished
    full run ``run_dir`` to ``out``, by default ``run_dir/margins.json``; returns where.

    Refused (``ValueError``, nothing written): a run that is not finished, has failed
    experiments, holds quick results or no graded cell; and, for the packaged
    :data:`FULL_MARGINS` (which quick runs compare their intervals with), a run that
    lacks one of the suite's experiments (``iem run all``)."""
    from .registry import list_experiments
    from .rules import margins

    run_dir = Path(run_dir)
    meta = read_run_meta(run_dir / "run.json")
    if "finished" not in meta or meta.get("failures"):
        why = "has failed experiments" if meta.get("failures") else "did not finish"
        raise ValueError(f"{run_dir} {why}: margins come from a finished full run")
    cells = []
    for name in meta["experiments"]:
        r = read_results(run_dir / name / "results.json")
        if r.quick:
            raise ValueError(f"{run_dir / name} is a quick run: margins come from a full run")
        cells += r.tables.get("verdict_cells", [])
    if not cells:
        raise ValueError(f"{run_dir} has no graded verdict cells: no margins to record")
    out = Path(out) if out is not None else run_dir / "margins.json"
    if out.resolve() == FULL_MARGINS.resolve():
        suite = [e.name for e in list_experiments() if e.in_all and e.rules]
        if missing := [n for n in suite if n not in meta["experiments"]]:
            raise ValueError(
                f"the packaged {FULL_MARGINS.name} comes from a complete full run "
                f"(iem run all); {run_dir} lacks {', '.join(missing)}"
            )
    write_json(out, margins(cells))
    return out


def _with_why(exp: Experiment, v):
    """``v`` with the experiment's reason why its rule is the fair test, if it gives one."""
    why = exp.why.get(v.claim)
    return dataclasses.replace(v, threshold=f"{v.threshold} Why this test: {why}") if why else v


def _combine(exp: Experiment, cfg, seeds: list[int], runs: list[dict], quick=False) -> dict:
    """One record from the per-seed results: tables stacked with a ``seed`` column, and
    the verdicts graded on them by ``exp``'s declared rules
    (:func:`implicit_em.experiments.rules.grade`), with their graded cells as the table
    ``verdict_cells``; at ``quick`` sizes, claims whose intervals are wider than the full
    run's margins are marked indicative (:func:`implicit_em.experiments.rules.indicative`)."""
    tables = stack([r["tables"] for r in runs], seeds, exp.fixed_tables)
    if exp.across_seeds is not None:  # shown first; rules and goals may read them
        tables = {**exp.across_seeds(tables, cfg), **tables}
    cells = cell_table(exp.rules, tables, cfg, exp.stochastic)
    unsure = indicative(cells, full_margins()) if quick else set()
    verdicts = [_with_why(exp, dataclasses.replace(v, indicative=v.claim in unsure))
                for v in grade(exp.rules, tables, cfg, exp.stochastic)]  # fmt: skip
    if exp.rules:
        tables = {**tables, "verdict_cells": cells}
    if exp.goals:
        tables = {"goals": grade_goals(exp.goals, tables, cfg, exp.stochastic), **tables}
    per_seed = [  # each seed graded alone, on its own values: evidence, never voted on
        {"seed": s, "metrics": r["metrics"],
         "verdicts": {v.claim: v.verdict for v in grade(exp.rules, r["tables"], cfg, False)}}
        for s, r in zip(seeds, runs, strict=True)
    ]  # fmt: skip
    return {
        "metrics": runs[0]["metrics"],
        "tables": tables,
        "verdicts": verdicts,
        "summary": runs[0]["summary"],
        "data": runs[0]["data"],
        "per_seed": per_seed,
    }


def run_seed(exp: Experiment | str, cfg: Any, seed: int, out: Path) -> dict:
    """One seed of ``exp`` (an experiment or a registered name) into ``out``, on
    ``SEED_THREADS`` torch threads with every global RNG seeded; returns its checked
    result."""
    if isinstance(exp, str):
        from .registry import EXPERIMENTS

        exp = EXPERIMENTS[exp]
    threads = torch.get_num_threads()
    torch.set_num_threads(SEED_THREADS)
    try:
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)  # noqa: NPY002 - legacy global RNG users (sklearn)
        cfg = dataclasses.replace(cfg, seed=seed)
        return _check_result(exp, cfg, exp.run(cfg, out))
    finally:
        torch.set_num_threads(threads)


def _run_seeds(exp: Experiment, cfg, seeds: list[int], partial: Path, jobs: int, log) -> list:
    """Every seed's result, in ``seeds`` order: in ``jobs`` worker processes when there
    are several seeds and ``exp`` is registered (a worker finds it by name), else here."""
    from .registry import EXPERIMENTS

    outs = [partial if i == 0 else partial / f"seed-{s}" for i, s in enumerate(seeds)]
    for out in outs:
        out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    def done(seed):
        if len(seeds) > 1:
            log(f"    seed {seed} done ({time.perf_counter() - start:.1f} s)")

    workers = min(jobs, len(seeds))
    if workers <= 1 or EXPERIMENTS.get(exp.name) is not exp:
        runs = []
        for seed, out in zip(seeds, outs, strict=True):
            runs.append(run_seed(exp, cfg, seed, out))
            done(seed)
        return runs
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")  # no fork of a threaded torch
    pool = ProcessPoolExecutor(workers, mp_context=context)
    futures: dict = {}
    try:
        with _sigint_blocked():  # workers inherit it: Ctrl-C reaches this process only
            for seed, out in zip(seeds, outs, strict=True):
                futures[pool.submit(run_seed, exp.name, cfg, seed, out)] = seed
        for future in as_completed(futures):
            future.result()  # a failing seed fails the experiment now
            done(futures[future])
    except BaseException:  # a failure, Ctrl-C or SIGTERM: stop the other seeds now
        for future in futures:
            future.cancel()
        _stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [f.result() for f in futures]


@contextlib.contextmanager
def _sigint_blocked():
    """SIGINT blocked in this thread while worker processes start, so that they start with
    it blocked (a signal mask survives ``exec``): Ctrl-C, which a terminal sends to every
    process of the group, interrupts the run here once, not each worker with its own
    traceback; the run then stops the workers (:func:`_stop_workers`)."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _stop_workers(pool) -> None:
    """Terminate ``pool``'s worker processes (seeds still running are lost; finished ones
    are kept by the caller), so that its shutdown does not wait for them."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            process.terminate()


def run_one(
    exp: Experiment,
    cfg: Any,
    run_dir: Path,
    *,
    quick: bool,
    force: bool = False,
    log: Callable[[str], None] = print,
    n_seeds: int = 1,
    jobs: int = 1,
    work: dict | None = None,
    overrides: Sequence[str] = (),
) -> str:
    """Run ``exp`` with ``cfg`` on its seeds (:func:`seeds_for`) into ``run_dir/exp.name``;
    returns ``"done"`` or ``"skipped"`` (complete with the same :func:`work_record`,
    ``work`` when given); a ``RunError`` when the directory holds ``exp`` computed or
    started with other work, unless ``force``. ``overrides``: the config fields set with
    ``--set`` (recorded, so that :func:`regrade` keeps them).

    The first seed runs in the experiment's folder (its files feed the figures), the
    others in ``seed-<s>/`` below it, up to ``jobs`` at a time (:func:`run_seed`);
    the verdicts are graded on every seed's tables together
    (:func:`implicit_em.experiments.rules.grade`).
    """
    final = run_dir / exp.name
    config = dataclasses.asdict(cfg)
    seeds = seeds_for(exp, cfg, n_seeds)
    work = work if work is not None else work_record(exp, cfg, n_seeds)
    state = _resume_state(exp.name, run_dir, work, force)
    if state == "skip":
        return "skipped"
    results_path = final / "results.json"
    if results_path.exists() and not force:  # not skipped nor refused: damaged
        os.replace(results_path, final / "results.json.damaged")
        log(f"    {results_path} is damaged; re-running it (the damaged file is kept as "
            "results.json.damaged)")  # fmt: skip
    partial = run_dir / f".{exp.name}.partial"
    # an interrupted run of the same work resumes in its folder (experiments that save
    # their pieces there, as the benchmark's cells, skip finished ones); other leftovers go
    if state == "resume":
        log(f"    resuming in {partial}")
    else:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        write_json(partial / ".work.json", work)
    start = time.perf_counter()
    try:
        runs = _run_seeds(exp, cfg, seeds, partial, jobs, log)
    except Exception:  # a failure re-runs clean; an interruption (Ctrl-C) keeps its pieces
        shutil.rmtree(partial, ignore_errors=True)
        raise
    combined = _combine(exp, cfg, seeds, runs, quick)
    result = Result(
        experiment=exp.name,
        title=exp.title,
        claims=list(exp.claims),
        config=jsonable(config),
        seed=cfg.seed,
        quick=quick,
        wall_s=round(time.perf_counter() - start, 3),
        finished=_now(),
        seeds=seeds,
        data_files=work["data_files"],
        overrides=jsonable({k: config[k] for k in overrides}),
        **combined,
    )
    for table, rows in result.tables.items():
        write_csv(partial / f"{table}.csv", rows)
    if exp.plot:  # figures come from the first seed's record
        record = result.to_dict()  # across-seeds tables, and the first seed's own
        first = {**record, "tables": {**record["tables"], **jsonable(runs[0]["tables"])}}
        result.figures = [_figure(f) for f in exp.plot(first, partial)]
    write_results(partial / "results.json", result)
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
        self.fd: int | None = None

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
        assert self.fd is not None  # __enter__ opened it
        os.close(self.fd)
        self.fd = None


def run_experiments(
    experiments: list[Experiment],
    run_dir: str | Path,
    *,
    quick: bool = False,
    seed: int | None = None,
    overrides: Sequence[Override] = (),
    force: bool = False,
    argv: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
    n_seeds: int | None = None,
    jobs: int | None = None,
) -> dict:
    """Run ``experiments`` into ``run_dir``; returns ``{name: "done" | "skipped" | error}``.

    Stochastic experiments run on ``n_seeds`` seeds (default: ``QUICK_SEEDS`` with
    ``quick``, else ``FULL_SEEDS``; one when ``seed`` is given, for debugging) and
    decide on all of them, up to ``jobs`` seeds at a time in worker processes (default:
    the number of CPUs). A failing experiment is reported and the others still run;
    what finished is kept.
    """
    run_dir = Path(run_dir)
    if n_seeds is None:
        n_seeds = 1 if seed is not None else (QUICK_SEEDS if quick else FULL_SEEDS)
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ValueError(f"n_seeds must be an integer >= 1, got {n_seeds!r}")
    if jobs is None:
        jobs = os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    check_overrides(experiments, overrides)
    configs = {
        e.name: build_config(e, quick=quick, seed=seed, overrides=overrides) for e in experiments
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir):
        works = {e.name: work_record(e, configs[e.name], n_seeds) for e in experiments}
        for e in experiments:  # refuse other work before anything is written
            _resume_state(e.name, run_dir, works[e.name], force)
        plan = {
            e.name: {
                "cfg": configs[e.name],
                "work": works[e.name],
                "overrides": override_keys(e, overrides),
            }
            for e in experiments
        }
        return _run_locked(experiments, plan, run_dir, quick, force, argv, log, n_seeds, jobs)


def _run_locked(experiments, plan, run_dir, quick, force, argv, log, n_seeds, jobs) -> dict:
    meta_path = run_dir / "run.json"
    meta: dict[str, Any] = {"started": _now(), "experiments": []}
    if meta_path.exists():
        try:
            meta = read_run_meta(meta_path)
        except DamagedFileError as err:
            os.replace(meta_path, run_dir / "run.json.damaged")
            meta["experiments"] = sorted(  # what is complete is still complete
                p.parent.name for p in run_dir.glob("*/results.json")
            )
            log(f"{err}; starting a new run record (the damaged file is kept as run.json.damaged)")
    meta.update(
        argv=list(argv if argv is not None else sys.argv),
        env=environment(),
        quick=quick,
        n_seeds=n_seeds,
        jobs=jobs,
    )
    meta.pop("finished", None)
    write_json(meta_path, meta)
    status = {}
    for i, exp in enumerate(experiments, 1):
        log(f"[{i}/{len(experiments)}] {exp.name}: {exp.title}")
        start = time.perf_counter()
        resumed = (run_dir / f".{exp.name}.partial").is_dir()  # or leftovers: no time taken
        try:
            status[exp.name] = run_one(
                exp,
                plan[exp.name]["cfg"],
                run_dir,
                quick=quick,
                force=force,
                log=log,
                n_seeds=n_seeds,
                jobs=jobs,
                work=plan[exp.name]["work"],
                overrides=plan[exp.name]["overrides"],
            )
        except RunError:
            raise
        except Exception as err:  # keep going: one failure must not lose the others
            status[exp.name] = f"failed: {type(err).__name__}: {err}"
            log(traceback.format_exc())
        took = time.perf_counter() - start
        log(f"    {status[exp.name]} ({took:.1f} s)")
        meta.setdefault("wall_s", {})[exp.name] = round(took, 3)
        if status[exp.name] == "done":  # what computing it took (experiments/times.py)
            meta.setdefault("timings", {})[exp.name] = {
                "seconds": round(took, 3), "cpu": meta["env"].get("cpu"),
                "cores": os.cpu_count(), "jobs": jobs, "seeds": n_seeds,
                "date": _now()[:10], "resumed": resumed}  # fmt: skip
        if status[exp.name] in ("done", "skipped") and exp.name not in meta["experiments"]:
            meta["experiments"].append(exp.name)
        meta.setdefault("failures", {}).pop(exp.name, None)
        if status[exp.name].startswith("failed"):
            meta["failures"][exp.name] = status[exp.name]
        write_json(meta_path, meta)
    meta["finished"] = _now()
    write_json(meta_path, meta)
    return status


def _thresholds(exp: Experiment, r: Result, argv: Sequence[str]) -> dict:
    """The threshold values (the config fields ``exp``'s rules and goals name) to grade the
    saved ``r`` with: the ones set with ``--set`` as saved, the others today's (the
    ``Config`` defaults, with ``exp.quick`` for a quick run). Runs that did not record
    their ``--set`` fields take them from ``argv`` (``run.json``)."""
    rules = (*exp.rules, *exp.goals)
    names = {rule.threshold for rule in rules if isinstance(rule.threshold, str)}
    today: Any = build_config(exp, quick=r.quick)
    today = dataclasses.asdict(today)
    if r.overrides is not None:
        kept = set(r.overrides)
    else:
        items = [b for a, b in itertools.pairwise(argv) if a == "--set"]
        items += [a.split("=", 1)[1] for a in argv if a.startswith("--set=")]
        try:
            kept = set(override_keys(exp, parse_overrides(items)))
        except ValueError:
            kept = set()
    return {n: r.config[n] if n in kept and n in r.config else today[n] for n in names}


def _seed_tables(exp: Experiment, r: Result, seed: int) -> dict:
    """One seed's own tables, back from the tables stacked over the seeds (rules.stack)."""
    if len(r.seeds) <= 1:
        return r.tables
    out = {n: rows for n, rows in r.tables.items() if n in exp.fixed_tables}
    for name, rows in r.tables.items():
        if name not in out and rows and all("seed" in row for row in rows):
            out[name] = [{k: v for k, v in row.items() if k != "seed"}
                         for row in rows if row["seed"] == seed]  # fmt: skip
    return out


def _regrade_one(exp: Experiment, r: Result, argv: Sequence[str], log) -> None:
    """Grade ``r`` again in place (see :func:`regrade`)."""
    from types import SimpleNamespace

    r.config = {**r.config, **_thresholds(exp, r, argv)}
    cfg = SimpleNamespace(**r.config)
    if exp.across_seeds is not None:  # derived from the stored measurements
        r.tables.update(exp.across_seeds(r.tables, cfg))
    cells = cell_table(exp.rules, r.tables, cfg, exp.stochastic)
    unsure = indicative(cells, full_margins()) if r.quick else set()
    r.verdicts = [_with_why(exp, dataclasses.replace(v, indicative=v.claim in unsure))
                  for v in grade(exp.rules, r.tables, cfg, exp.stochastic)]  # fmt: skip
    if exp.rules:
        r.tables["verdict_cells"] = cells
    missing = sorted({g.table for g in exp.goals} - set(r.tables))
    if exp.goals and not missing:
        r.tables["goals"] = grade_goals(exp.goals, r.tables, cfg, exp.stochastic)
    elif missing:
        log(f"{exp.name}: goals kept as saved (the run has no table {', '.join(missing)})")
    for entry in r.per_seed:  # each seed alone, on its own rows, as the run graded them
        if isinstance(entry, dict) and entry.get("seed") in r.seeds:
            tables = _seed_tables(exp, r, entry["seed"])
            with contextlib.suppress(KeyError):  # a table the seed alone lacks: as saved
                entry["verdicts"] = {v.claim: v.verdict
                                     for v in grade(exp.rules, tables, cfg, False)}  # fmt: skip


def regrade(run_dir: str | Path, log: Callable[[str], None] = print) -> list[str]:
    """Grade a finished run's saved measurements again with today's declared rules,
    goals and thresholds, without measuring anything: each experiment's across-seeds
    tables, verdicts, ``verdict_cells``, ``goals`` and per-seed verdicts are recomputed
    from its stored tables (stacked over seeds) and its saved config. A threshold set with
    ``--set`` keeps its saved value; the others take today's (the ``Config`` defaults),
    and the saved config shows the values graded with. ``results.json`` and every table's
    CSV are rewritten, each atomically (the CSVs first). Returns the experiments regraded.

    Only rules that read stored tables can be regraded: a rule that needs a table the
    run did not save raises ``KeyError`` naming it (re-run that experiment); goals whose
    table is missing are kept as saved."""
    from .registry import EXPERIMENTS

    run_dir = Path(run_dir)
    meta = read_run_meta(run_dir / "run.json")
    argv = [str(a) for a in meta.get("argv") or ()]
    done = []
    for name in meta["experiments"]:
        path, exp = run_dir / name / "results.json", EXPERIMENTS.get(name)
        if exp is None or not path.is_file() or not (exp.rules or exp.goals or exp.across_seeds):
            continue
        r = read_results(path)
        _regrade_one(exp, r, argv, log)
        for table, rows in r.tables.items():
            write_csv(path.parent / f"{table}.csv", rows)
        write_results(path, r)
        done.append(name)
        log(f"regraded {name}: " + ", ".join(f"{v.claim} {v.verdict}" for v in r.verdicts))
    return done
