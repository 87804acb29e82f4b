"""The benchmark's numbers, generated into the README and the docs from one run."""

import pytest

from helpers import stand_in_mnist
from implicit_em.cli import main
from implicit_em.experiments import benchmark as B
from implicit_em.experiments import run_experiments
from implicit_em.report.benchmark import END, START, benchmark_markdown


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
    plain = tmp_path / "plain.md"
    plain.write_text("no markers")
    assert main(["report", str(benchmark_run), "--benchmark", str(plain)]) == 2
    with pytest.raises(FileNotFoundError, match="iem run benchmark"):
        benchmark_markdown(tmp_path)


def test_the_committed_copies_are_one_generated_block():
    """README.md and docs/local_learners.md quote the same generated benchmark block."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    blocks = []
    for name in ("README.md", "docs/local_learners.md"):
        text = (root / name).read_text()
        assert START in text and END in text, f"{name} needs a generated benchmark block"
        blocks.append(text.split(START, 1)[1].split(END, 1)[0])
    assert blocks[0] == blocks[1]
