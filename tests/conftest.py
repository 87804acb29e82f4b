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
