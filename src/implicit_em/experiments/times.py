"""How long each experiment takes, measured: the wall-clock seconds of recorded runs,
quick and full, with the CPU, cores, worker processes and seeds that gave them.

``iem list`` shows them beside each experiment. The packaged :data:`TIMES` is written only
by a developer, explicitly, from runs that computed the experiments from scratch
(``iem report RUN --times-out src/implicit_em/experiments/times.json``); an experiment
that was resumed, skipped (already complete) or failed in a run gives no time.

The record, one entry per mode (``"quick"`` or ``"full"``) and experiment::

    {"full": {"benchmark": {"seconds": 7210.4, "cpu": "AMD EPYC", "cores": 2,
                            "jobs": 5, "seeds": 5, "date": "2026-12-08"}}}
"""

from __future__ import annotations

from pathlib import Path

from .._io import read_json, write_json
from .results import read_results, read_run_meta

TIMES = Path(__file__).with_name("times.json")
MODES = ("quick", "full")


def recorded_times(path: str | Path | None = None) -> dict[str, dict[str, dict]]:
    """``{mode: {experiment: timing}}`` from ``path`` (the packaged :data:`TIMES` by
    default); empty modes when not recorded."""
    path = Path(TIMES if path is None else path)
    found = read_json(path) if path.is_file() else {}
    return {mode: dict(found.get(mode, {})) for mode in MODES}


def run_times(run_dir: str | Path) -> dict[str, dict[str, dict]]:
    """The timings of the experiments that ``run_dir`` computed from scratch, by mode.

    A run records each experiment's timing as it finishes (``run.json``'s ``timings``).
    Runs recorded before that gave only ``wall_s``, the run's worker count and its
    environment; those are read as runs made from scratch, on the CPU their environment
    names ("not recorded" where it names none)."""
    run_dir = Path(run_dir)
    meta = read_run_meta(run_dir / "run.json")
    failed = set(meta.get("failures", {}))
    env = meta.get("env", {})
    times: dict[str, dict[str, dict]] = {mode: {} for mode in MODES}
    for name in meta.get("experiments", []):
        timing = meta.get("timings", {}).get(name)
        if timing is None and name in meta.get("wall_s", {}):  # a run before `timings`
            timing = {"seconds": meta["wall_s"][name], "cpu": env.get("cpu", "not recorded"),
                      "cores": env.get("cpu_count"), "jobs": meta.get("jobs"),
                      "seeds": meta.get("n_seeds"),
                      "date": meta.get("started", "")[:10]}  # fmt: skip
        if timing is None or timing.get("resumed") or name in failed:
            continue
        mode = "quick" if read_results(run_dir / name / "results.json").quick else "full"
        times[mode][name] = {k: v for k, v in timing.items() if k != "resumed"}
    return times


def record_times(run_dir: str | Path, out: str | Path) -> tuple[Path, list[str]]:
    """Merge the timings of ``run_dir`` (:func:`run_times`) into ``out``; returns ``out``
    and the ``mode/experiment`` entries written. ``ValueError`` (nothing written) when the
    run computed nothing from scratch."""
    new = run_times(run_dir)
    written = [f"{mode}/{name}" for mode in MODES for name in new[mode]]
    if not written:
        raise ValueError(
            f"{run_dir} computed no experiment from scratch (each was resumed, skipped or "
            "failed): it gives no times to record"
        )
    merged = recorded_times(out)
    for mode in MODES:
        merged[mode].update(new[mode])
    write_json(out, {mode: dict(sorted(merged[mode].items())) for mode in MODES})
    return Path(out), written


def duration(seconds: float) -> str:
    """A wall time as a reader wants it: ``"40 s"``, ``"12 min"``, ``"2.1 h"``.

    Examples:
        >>> duration(4.2), duration(59), duration(725), duration(7560)
        ('4 s', '59 s', '12 min', '2.1 h')
    """
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def machines(times: dict[str, dict[str, dict]]) -> list[str]:
    """Each distinct machine setting that ``times`` were measured on, in words: ``"AMD
    EPYC, 2 cores, 2 workers, 2 seeds (quick)"``."""
    seen = []
    for mode in MODES:
        for t in times[mode].values():
            cpu = t.get("cpu") or "not recorded"
            cpu = "CPU not recorded" if cpu == "not recorded" else cpu
            words = (f"{cpu}, {t.get('cores')} cores, "
                     f"{t.get('jobs')} workers, {t.get('seeds')} seeds ({mode})")  # fmt: skip
            if words not in seen:
                seen.append(words)
    return seen
