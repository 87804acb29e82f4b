"""Atomic writes keep the usual file mode; importing the package changes no process state."""

import os
import stat
import subprocess
import sys

from implicit_em import _io


def test_atomic_writes_use_the_umask_of_the_moment(tmp_path):
    old = os.umask(0o027)
    try:
        assert _io._umask() == 0o027
        _io.atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    assert (tmp_path / "a.txt").read_text() == "x"


def test_import_changes_neither_the_matplotlib_backend_nor_the_umask():
    code = (
        "import os, matplotlib; matplotlib.use('pdf'); os.umask(0o077)\n"
        "import implicit_em, implicit_em.experiments.figures, implicit_em.experiments\n"
        "from implicit_em.experiments.figures import new_figure, save_figure\n"
        "assert matplotlib.get_backend() == 'pdf', matplotlib.get_backend()\n"
        "assert os.umask(0o022) == 0o077\n"
        "fig, ax = new_figure(1, 2)\n"
        "ax[0].plot([0, 1], [1, 0])\n"
        "import tempfile; d = tempfile.mkdtemp()\n"
        "assert save_figure(fig, d, 'f.png').stat().st_size > 0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
