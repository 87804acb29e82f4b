"""The benchmark's numbers, generated into the README and the docs from one run."""

import pytest

from helpers import stand_in_mnist
from implicit_em.cli import main
from implicit_em.experiments import benchmark as B
from implicit_em.experiments import run_experiments
from implicit_em.report.benchmark import END, START, benchmark_markdown, goal_counts, markers


@pytest.fixture
def benchmark_run(tmp_path, monkeypatch):
    stand_in_mnist(monkeypatch, B, 90, 45, "stand-in images")
    run_dir = tmp_path / "run"
    learners = f"benchmark.learners=SoftHebb,{B.IEM}"
    from implicit_em.experiments.config import parse_overrides

    status = run_experiments(
        [B.EXPERIMENT], run_dir, quick=True, jobs=1, log=lambda *_: None,
        overrides=parse_overrides([learners, "benchmark.widths=4,6"]),
    )  # fmt: skip
    assert status == {"benchmark": "done"}
    return run_dir


def test_the_table_and_goals_come_from_the_run(benchmark_run, tmp_path):
    text = benchmark_markdown(benchmark_run)
    # the run's --set values are part of its sizes
    assert "Run `run/benchmark` (quick sizes, with " in text and "widths = " in text
    assert "stand-in images; pixels in [0, 1]; every learner at its class defaults" in text
    assert "read-outs: fixed probe, tuned probe, power top layer (2 epochs); 2 seeds" in text
    for readout in B.READOUTS:  # one table per read-out
        assert f"| {readout} | K = 4 | K = 6 |" in text
    assert (
        f"| {B.IEM} | " in text
        and "| beat every local learner (power top layer) | K=6, learner=SoftHebb: " in text
    )
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nstale\n{END}\nrest\n")
    assert main(["report", str(benchmark_run), "--benchmark", str(readme)]) == 0
    filled = readme.read_text()
    assert filled.startswith(f"intro\n{START}\nRun `run/benchmark`") and filled.endswith(
        f"{END}\nrest\n"
    )
    assert "stale" not in filled and text in filled
    # the README's headline block: the same stamp and tables, each goal's outcomes counted
    start, end = markers("benchmark-headline")
    readme.write_text(f"intro\n{start}\nstale\n{END}\n{end}\nrest\n")
    assert main(["report", str(benchmark_run), "--benchmark", str(readme)]) == 0
    short = readme.read_text().split(start, 1)[1].split(end, 1)[0]
    assert short.strip().split("\n| goal")[0] == text.strip().split("\n| goal")[0]
    assert "| goal | met | missed | not resolved |" in short
    rows = goal_rows_of(text)
    for goal in {r[0] for r in rows}:
        counted = [line for line in short.splitlines() if line.startswith(f"| {goal} |")]
        assert len(counted) == 1
        cells = [int(c) for c in counted[0].strip("|").split("|")[1:]]
        assert sum(cells) == sum(r[0] == goal for r in rows)
    plain = tmp_path / "plain.md"
    plain.write_text("no markers")
    assert main(["report", str(benchmark_run), "--benchmark", str(plain)]) == 2
    with pytest.raises(FileNotFoundError, match="iem run benchmark"):
        benchmark_markdown(tmp_path)


def goal_rows_of(block: str) -> list[tuple[str, str]]:
    """``(goal, outcome)`` of each row of a full block's goals table."""
    table = block.split("\n| goal | where |", 1)[1].splitlines()[2:]
    return [(cells[0].strip(), cells[-1].strip())
            for cells in (line.strip("|").split(" | ") for line in table if line)]  # fmt: skip


def test_goal_counts_give_each_outcome():
    goals = [{"goal": "a", "outcome": "met"}, {"goal": "a", "outcome": "missed"},
             {"goal": "b", "outcome": "not resolved at 5 seeds"},
             {"goal": "b", "outcome": "not measured"}, {"goal": "a", "outcome": "met"}]  # fmt: skip
    assert goal_counts(goals) == [
        {"goal": "a", "met": 2, "missed": 1, "not resolved": 0, "other": 0},
        {"goal": "b", "met": 0, "missed": 0, "not resolved": 1, "other": 1},
    ]


def test_the_committed_copies_are_one_generated_block():
    """README.md's headline block and docs/local_learners.md's full block come from one
    run: the same stamp and tables, and the README counts the page's goal rows."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    start, end = markers("benchmark-headline")
    readme = (root / "README.md").read_text()
    docs = (root / "docs/local_learners.md").read_text()
    assert start in readme and end in readme, "README.md needs a generated headline block"
    assert START in docs and END in docs, "docs/local_learners.md needs the full block"
    short = readme.split(start, 1)[1].split(end, 1)[0]
    full = docs.split(START, 1)[1].split(END, 1)[0]
    assert short.split("\n| goal")[0] == full.split("\n| goal")[0]
    goals = [{"goal": g, "outcome": o} for g, o in goal_rows_of(full)]
    for c in goal_counts(goals):
        assert f"| {c['goal']} | {c['met']} | {c['missed']} | {c['not resolved']} |" in short
