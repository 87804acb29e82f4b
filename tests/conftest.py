import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("IEM_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).parent))  # shared helpers: ``import helpers``


def pytest_configure(config):
    """Opt-in robustness passes (issue 34): ``IEM_DETERMINISTIC=1`` runs the suite under
    ``torch.use_deterministic_algorithms(True)``, ``IEM_THREADS=N`` with ``N`` intra-op
    threads (``torch.set_num_threads``), to show that no test depends on the summation
    order a thread count or a non-deterministic kernel picks. Set before collection, so
    module-level tensors are made under the same settings. Subprocesses (the torchrun
    scripts, the examples) do not read them."""
    deterministic = os.environ.get("IEM_DETERMINISTIC", "")
    threads = os.environ.get("IEM_THREADS", "")
    if not deterministic and not threads:
        return
    import torch

    if deterministic not in ("", "0", "1"):
        raise pytest.UsageError(f"IEM_DETERMINISTIC must be 0 or 1, got {deterministic!r}")
    if deterministic == "1":
        torch.use_deterministic_algorithms(True)
    if threads:
        if not threads.isdigit() or int(threads) < 1:
            raise pytest.UsageError(f"IEM_THREADS must be an integer >= 1, got {threads!r}")
        torch.set_num_threads(int(threads))


@pytest.fixture(scope="session")
def real_mnist_dir():
    """The folder holding the real MNIST files (via IEM_DATA), or a visible skip."""
    from implicit_em.data import find_mnist

    root = os.environ.get("IEM_DATA")
    found = find_mnist(root) if root else None
    if found is None:
        pytest.skip(
            "real MNIST not available: set IEM_DATA to a folder with the IDX files "
            "(CI uses ../shared/data)"
        )
    return Path(found[0])


DISTRIBUTED_SCRIPTS = Path(__file__).parent / "distributed"


def _run_script(script, *args, processes: int = 1, timeout: int = 300):
    """Run a script of ``tests/distributed/`` (by name) alone, or under torchrun with
    ``processes`` gloo ranks on a free loopback port; fail the test with the script's
    stderr if it does not succeed.

    A multi-process launch is tried up to three times (each on a fresh port): the
    loopback rendezvous occasionally fails to bind on a busy machine. A real bug fails
    every try and is reported with the last try's stderr.
    """
    import socket
    import subprocess
    import sys

    script = DISTRIBUTED_SCRIPTS / script
    env = dict(os.environ, OMP_NUM_THREADS="1", IEM_PROGRESS="0")
    for attempt in range(3 if processes > 1 else 1):
        cmd = [sys.executable]
        if processes > 1:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            cmd += [
                "-m",
                "torch.distributed.run",
                "--nnodes=1",
                f"--nproc_per_node={processes}",
                "--master_addr=127.0.0.1",
                f"--master_port={port}",
            ]
        proc = subprocess.run(
            [*cmd, str(script), *map(str, args)],
            env=env,
            timeout=timeout,
            capture_output=True,
            text=True,
        )
        if proc.returncode == 0:
            if attempt:
                print(f"{script}: launch succeeded on try {attempt + 1}")
            return
    raise AssertionError(f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


@pytest.fixture
def run_script():
    """:func:`_run_script` as a fixture."""
    return _run_script
