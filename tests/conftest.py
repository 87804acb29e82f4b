import os
from pathlib import Path

import pytest

os.environ.setdefault("IEM_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
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


def _run_script(script, *args, processes: int = 1, timeout: int = 300):
    """Run a Python script alone, or under torchrun with ``processes`` gloo ranks on a free
    loopback port; fail the test with the script's stderr if it does not succeed."""
    import socket
    import subprocess
    import sys

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
    env = dict(os.environ, OMP_NUM_THREADS="1", IEM_PROGRESS="0")
    proc = subprocess.run(
        [*cmd, str(script), *map(str, args)],
        env=env,
        timeout=timeout,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture
def run_script():
    """:func:`_run_script` as a fixture."""
    return _run_script
