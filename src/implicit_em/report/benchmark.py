"""Where implicit EM stands on a benchmark, as Markdown from a run of the ``benchmark``
experiment (``iem report RUN_DIR --benchmark README.md docs/local_learners.md``) or of
``conv`` (``iem report RUN_DIR --conv docs/conv.md``).

Fills each file's ``<!-- NAME:start -->`` ... ``<!-- NAME:end -->`` block with a stamp
naming the run and its computing time, the accuracy table (mean ± half the 95 % interval
over the seeds, per learner and column: width, or dataset and depth) and each goal with
its outcome, so that the numbers the README and the docs quote are generated from one
run, never by hand. A file with a ``<!-- NAME-headline:start -->`` block instead (the
README) gets the same stamp and tables with the goals counted, one row per goal.
"""

from __future__ import annotations

from pathlib import Path

from .._io import atomic_write_text
from ..experiments.results import read_results
from .html import goal_rows

START, END = "<!-- benchmark:start -->", "<!-- benchmark:end -->"
# per experiment: the summary's columns besides the learner, and a column's label
COLUMNS = {"benchmark": (("K",), lambda c: f"K = {c[0]}"),
           "conv": (("dataset", "depth"), lambda c: f"{c[0]}, depth {c[1]}")}  # fmt: skip


def markers(name: str) -> tuple[str, str]:
    """The block's start and end markers for experiment ``name``."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def _cell(text) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def benchmark_markdown(run_dir: str | Path, name: str = "benchmark", headline: bool = False) -> str:
    """The stamp, the accuracy table and the goals of ``run_dir/name`` as Markdown (with
    ``headline``, each goal's outcomes counted instead of listed); a ``ValueError``
    naming the file when its results lack what the table needs."""
    path = Path(run_dir) / name / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run `iem run {name} --out {run_dir}`")
    res = read_results(path)
    try:
        return _markdown(run_dir, name, res, headline)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ValueError(
            f"{path} is not a complete {name} run ({type(err).__name__}: {err}); re-run it "
            f"with `iem run {name} --out {run_dir}`"
        ) from None


def readouts(name: str) -> dict[str, str]:
    """The read-outs (name -> the summary's column) that experiment ``name`` reports."""
    if name == "benchmark":
        from ..experiments.benchmark import READOUTS

        return READOUTS
    return {"linear read-out": "probe_accuracy"}


def _percent(row: dict, stat: str) -> str:
    """``row[stat]`` in percent, ± half its 95 % interval where the row has one."""
    from ..experiments.verdicts import percent_interval

    if row.get(f"{stat}_lo") is not None:
        return percent_interval(row, stat)
    if stat == "probe_accuracy" and row.get("probe_95"):
        return str(row["probe_95"])
    return f"{100 * row[stat]:.2f}"


OUTCOMES = ("met", "missed", "not resolved")  # a goal's outcomes, as the headline counts


def goal_counts(goals: list[dict]) -> list[dict]:
    """Per goal (in order), how many of its rows were ``met``, ``missed`` or ``not
    resolved`` (any other outcome, such as "not measured", counts as ``other``)."""
    counts: dict[str, dict] = {}
    for g in goals:
        row = counts.setdefault(g["goal"], {"goal": g["goal"], **dict.fromkeys(OUTCOMES, 0),
                                            "other": 0})  # fmt: skip
        kind = next((o for o in OUTCOMES if str(g["outcome"]).startswith(o)), "other")
        row[kind] += 1
    return list(counts.values())


def _markdown(run_dir: str | Path, name: str, res, headline: bool = False) -> str:
    summary = res.tables["summary_over_seeds"]
    keys, label = COLUMNS[name]
    widths = sorted({tuple(r[k] for k in keys) for r in summary})
    learners = list(dict.fromkeys(r["learner"] for r in summary))
    at = {(tuple(r[k] for k in keys), r["learner"]): r for r in summary}
    minutes = sum(r.get("cell_s") or 0 for r in res.tables["fits"]) / 60
    sizes = "quick sizes" if res.quick else "full sizes"
    if res.overrides:  # --set values: the run is not the experiment's default size
        sizes += ", with " + ", ".join(f"{k} = {v}" for k, v in res.overrides.items())
    lines = [
        f"Run `{Path(run_dir).name}/{name}` ({sizes}), "
        f"finished {res.finished}: {res.data}; {len(res.seeds)} seeds; "
        f"{minutes:.0f} min of computing (every learner, cell and seed, one after "
        "another; `--jobs` runs seeds at once). Test accuracy, %, mean ± half the 95 % "
        "interval over the seeds, per read-out:",
    ]
    outs = readouts(name)
    for readout, stat in outs.items():
        if all(r.get(stat) is None for r in summary):
            continue  # not measured in this run
        head = readout if len(outs) > 1 else "learner"  # one read-out: a plain table
        lines += [
            "",
            f"| {_cell(head)} | " + " | ".join(label(k) for k in widths) + " |",
            "|---|" + "---|" * len(widths),
        ]
        for learner in learners:
            cells = []
            for k in widths:
                r = at.get((k, learner))
                value = None if r is None else r.get(stat)
                cells.append("—" if r is None or value is None else _percent(r, stat))
            lines.append(f"| {_cell(learner)} | " + " | ".join(cells) + " |")
    if headline:
        counts = goal_counts(goal_rows({name: res}))
        other = any(c["other"] for c in counts)
        heads = [*OUTCOMES, *(("other",) if other else ())]
        lines += ["", "| goal | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]
        for c in counts:
            lines.append(f"| {_cell(c['goal'])} | " + " | ".join(str(c[h]) for h in heads) + " |")
        return "\n".join(lines) + "\n"
    lines += [
        "",
        "| goal | where | measured (mean [95 % interval]) | outcome |",
        "|---|---|---|---|",
    ]
    for g in goal_rows({name: res}):
        cols = (g["goal"], g["where"], g["measured"], g["outcome"])
        lines.append("| " + " | ".join(map(_cell, cols)) + " |")
    return "\n".join(lines) + "\n"


def fill_benchmark(
    run_dir: str | Path, files: list[str | Path], name: str = "benchmark", block: str = ""
) -> str:
    """Put :func:`benchmark_markdown` between the markers of each of ``files`` (``block``:
    the markers' name, default ``name``); returns the text. Every file is read and
    checked before any is written: a ``ValueError`` naming the file when it is not UTF-8
    text or has no start marker followed by an end marker."""
    text = benchmark_markdown(run_dir, name)
    start, end = markers(block or name)
    short_start, short_end = markers(f"{block or name}-headline")
    filled = {}
    for f in map(Path, files):
        try:
            current = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{f} is not UTF-8 text: give a Markdown page") from None
        a, b, body = start, end, text
        if short_start in current:  # the README's: the tables and the goals counted
            a, b, body = short_start, short_end, benchmark_markdown(run_dir, name, True)
        head, found, rest = current.partition(a)
        if not found or b not in rest:
            raise ValueError(
                f"{f} has no {start} ... {end} block (or {short_start} ... {short_end}) to "
                "fill (the start marker, then the end marker, each on its own)"
            )
        filled[f] = f"{head}{a}\n{body}{b}{rest.split(b, 1)[1]}"
    for f, new in filled.items():
        atomic_write_text(f, new)
    return text
