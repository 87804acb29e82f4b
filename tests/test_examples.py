"""Every script in examples/ runs to the end at tiny sizes (``IEM_EXAMPLE_TINY=1``)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def test_there_are_examples():
    assert len(SCRIPTS) >= 5, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs(script):
    env = dict(os.environ, IEM_EXAMPLE_TINY="1", IEM_PROGRESS="0", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, script], cwd=EXAMPLES, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip(), f"{script} printed nothing"
