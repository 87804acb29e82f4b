import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("IEM_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).parent))  # shared helpers: ``import helpers``


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
