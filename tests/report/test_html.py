"""The HTML report: the run's claims, the rest named, numbers formatted, quick runs marked
indicative."""

import dataclasses
import json

import pytest

from helpers import TOY
from implicit_em.claims import CLAIMS
from implicit_em.experiments import (
    run_experiments,
)
from implicit_em.report import build_report
from implicit_em.report.html import _table, fmt


def test_report_shows_the_run_s_claims_names_the_rest_and_formats_numbers(tmp_path):
    run_experiments([TOY], tmp_path, quick=True, log=lambda *_: None)
    html = build_report(tmp_path).read_text()
    assert "<td>C1</td>" in html and "<td>C9</td>" not in html  # one row per measured claim
    note = html.split("Not measured by this run's experiments: ")[1].split(" (")[0]
    assert note.split(", ") == [c for c in CLAIMS if c != "C1"]  # the rest, in one line
    assert fmt(1.1102e-16) == "1.11e-16" and fmt(0.98312) == "0.9831" and fmt(3) == "3"
    assert fmt(float("nan")) == "—" and "nan" not in html.lower().replace("nano", "")
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        build_report(tmp_path / "toy")


def test_quick_runs_mark_undecidable_claims_indicative_and_show_the_last_full_run(
    tmp_path, monkeypatch
):
    from implicit_em.experiments import Rule, runner

    noisy = dataclasses.replace(  # the value varies by seed; the full run sits 1 below 6
        TOY, rules=(Rule("C1", "t", "value", "<", 6.0),),
        run=lambda cfg, out: {"tables": {"t": [{"value": cfg.n * cfg.rate + cfg.seed}]}},
    )  # fmt: skip
    run_experiments([noisy], tmp_path / "full", quick=False, n_seeds=1, log=lambda *_: None)
    assert runner.record_margins(tmp_path / "full") == tmp_path / "full" / "margins.json"
    assert json.loads((tmp_path / "full" / "margins.json").read_text()) == {"C1": {"t.value": 1.0}}
    monkeypatch.setattr(runner, "FULL_MARGINS", tmp_path / "full" / "margins.json")
    run_experiments([noisy], tmp_path / "quick", quick=True, log=lambda *_: None)
    full = json.loads((tmp_path / "full" / "toy" / "results.json").read_text())
    quick = json.loads((tmp_path / "quick" / "toy" / "results.json").read_text())
    assert full["verdicts"][0]["indicative"] is False
    assert quick["verdicts"][0]["indicative"] is True  # its interval is wider than 1
    html = build_report(tmp_path / "quick").read_text()
    assert "indicative (quick sizes)" in html and "last full run <code>full</code>" in html
    assert "indicative (quick sizes)" not in build_report(tmp_path / "full").read_text()
    with pytest.raises(ValueError, match="quick run"):
        runner.record_margins(tmp_path / "quick")


def test_every_table_scrolls_inside_its_section(tmp_path):
    wide = dataclasses.replace(TOY, name="wide")
    wide.run = lambda cfg, out: {"tables": {"w": [{f"column {i}": i for i in range(60)}]}}
    run_experiments([TOY, wide], tmp_path, quick=True, log=lambda *_: None)
    html = build_report(tmp_path).read_text()
    assert html.count("<table") == html.count('<div class="tw"><table') > 3
    assert ".tw{overflow-x:auto;max-width:100%}" in html


def test_declared_goals_are_graded_and_shown_in_their_own_table(tmp_path):
    from implicit_em.experiments import Rule

    goal = Rule("value stays under 100", "t", "value", "<", 100.0)
    toy = dataclasses.replace(TOY, goals=(goal,))
    run_experiments([toy], tmp_path, quick=False, n_seeds=3, log=lambda *_: None)
    record = json.loads((tmp_path / "toy" / "results.json").read_text())
    (row,) = record["tables"]["goals"]
    assert row["goal"] == "value stays under 100" and row["outcome"] == "met"
    html = build_report(tmp_path).read_text()
    assert "<h2>Goals</h2>" in html and "value stays under 100" in html
    from implicit_em.report.html import goal_lines

    (line,) = goal_lines(tmp_path)  # the terminal's line (iem run prints them)
    assert line.split()[0] == "met" and "value stays under 100: " in line and "< 100" in line


def test_a_nan_cell_reads_as_a_dash_with_a_footnote():
    table = _table([{"unit": "a", "corr": float("nan")}, {"unit": "b", "corr": 0.5}])
    assert '<td class="num">—</td>' in table and "not computable there" in table
    assert "not computable" not in _table([{"unit": "b", "corr": 0.5}])


def test_a_quick_section_says_the_sizes_it_ran_at(tmp_path):
    from implicit_em.experiments.registry import EXPERIMENTS
    from implicit_em.experiments.results import read_results
    from implicit_em.report.html import _sizes

    run_experiments([EXPERIMENTS["identities"]], tmp_path, quick=True, log=lambda *_: None)
    assert "quick sizes" in build_report(tmp_path).read_text()
    exp = EXPERIMENTS["benchmark_small"]
    config = {**dataclasses.asdict(exp.config()), **exp.quick}
    quick = dataclasses.replace(read_results(tmp_path / "identities" / "results.json"),
                                quick=True, config=config)  # fmt: skip
    assert "widths = 16" in _sizes("benchmark_small", quick)
    assert _sizes("benchmark_small", dataclasses.replace(quick, quick=False)) == "full sizes"


def _chromium():
    import shutil

    return (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )


@pytest.mark.skipif(_chromium() is None, reason="needs Chromium (CI installs it)")
def test_in_a_browser_the_first_screen_holds_the_summary_and_nothing_overflows(tmp_path):
    """Headless Chromium at 1400 x 900: the verdict summary and the claims table's start
    are on the first screen, and the page is no wider than the window (wide tables scroll
    inside their own box)."""
    import subprocess

    from implicit_em.experiments.registry import EXPERIMENTS

    run_experiments([EXPERIMENTS["identities"], TOY], tmp_path, quick=True,
                    log=lambda *_: None)  # fmt: skip
    page = build_report(tmp_path)
    probe = (
        "<script>window.addEventListener('load', () => {"
        "const s = document.getElementById('summary').getBoundingClientRect();"
        "const t = document.querySelector('table').getBoundingClientRect();"
        "const o = document.createElement('pre'); o.id = 'measured';"
        "o.textContent = JSON.stringify({summary: s.bottom, table: t.top,"
        " page: document.documentElement.scrollWidth, window: window.innerWidth});"
        "document.body.appendChild(o);});</script>"
    )
    measured_page = tmp_path / "measured.html"
    measured_page.write_text(page.read_text().replace("</body>", probe + "</body>"))
    proc = subprocess.run(
        [_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--dump-dom",
         "--window-size=1400,900", measured_page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads(proc.stdout.split('<pre id="measured">')[1].split("</pre>")[0])
    assert 0 < found["summary"] < 900 and found["table"] < 900, found  # on the first screen
    assert found["page"] <= found["window"], found  # no horizontal overflow
