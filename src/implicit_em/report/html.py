"""Build one self-contained HTML report from a run directory (figures embedded as base64).

Layout: claims table (every claim, its verdicts, key number, link), one section per
experiment (summary, verdicts, figures, tables, config), then the environment.
"""

from __future__ import annotations

import base64
import html
import sys
from collections.abc import Callable
from pathlib import Path

from .._io import atomic_write_text
from ..claims import CLAIMS, REGISTRY
from ..experiments.results import DamagedFileError, Result, Verdict, read_results, read_run_meta
from ..experiments.rules import RULE_TEXT
from ..experiments.verdicts import PARTS_RULE, combine_parts

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1d2330;
max-width:1150px;margin:0 auto;padding:24px 28px 60px;background:#fbfbfd}
h1{font-size:26px;margin:0 0 4px}h2{font-size:21px;margin:38px 0 6px;padding-top:10px;
border-top:2px solid #e3e6ee}h3{font-size:16px;margin:22px 0 6px;color:#394152}
.sub{color:#5d6679;margin:0 0 18px}table{border-collapse:collapse;margin:8px 0 14px;
background:#fff;font-size:13.5px}th,td{border:1px solid #dde1ea;padding:5px 9px;
text-align:left;vertical-align:top}th{background:#f0f2f7;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.v{display:inline-block;padding:1px 9px;border-radius:10px;font-weight:600;font-size:12.5px;
white-space:nowrap}.confirmed{background:#d8f3df;color:#12612b}.refuted{background:#fbd9d7;
color:#9b1c14}.partly{background:#fcefc9;color:#7a5300}.open{background:#e4e8f0;color:#3c4658}
.none{background:#f1f2f5;color:#8a92a3}img{max-width:100%;border:1px solid #e3e6ee;
background:#fff}figure{margin:10px 0 18px}figcaption{color:#4d5668;font-size:13.5px;
margin-top:4px}details{margin:6px 0}summary{cursor:pointer;color:#2d5bd7}
.fail{background:#fde8e6;border:1px solid #f2b8b3;padding:8px 12px;border-radius:6px}
code{background:#eef0f5;padding:0 4px;border-radius:3px}a{color:#2d5bd7}
.tw{overflow-x:auto;max-width:100%}.words{color:#5d6679;font-size:12.5px;margin-top:3px;
font-style:italic}.ci{color:#5d6679;font-size:12px}ul.doubts li{margin:4px 0}
.summary{font-size:16px;background:#fff;border:1px solid #e3e6ee;padding:10px 14px;
border-radius:6px}td{overflow-wrap:break-word}
"""


def fmt(value: object) -> str:
    """Compact number formatting for tables (``1.1e-16``, ``0.9831``, ``12345``; NaN as
    ``—``)."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:  # NaN: a quantity the run could not compute there
            return "—"
        if value == 0:
            return "0"
        if abs(value) < 1e-3 or abs(value) >= 1e5:
            return f"{value:.2e}"
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v) for v in value)
    return str(value)


def _e(value) -> str:
    return html.escape(fmt(value))


def _badge(verdict: str | None) -> str:
    if verdict is None:
        return '<span class="v none">not measured</span>'
    return f'<span class="v {html.escape(verdict)}">{html.escape(verdict)}</span>'


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p><em>(empty)</em></p>"
    cols: list[str] = []
    for row in rows:
        cols += [k for k in row if k not in cols]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)

    def cell(v):
        cls = ' class="num"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
        return f"<td{cls}>{_e(v)}</td>"

    body = "".join("<tr>" + "".join(cell(r.get(c)) for c in cols) + "</tr>" for r in rows)
    nan = any(isinstance(v, float) and v != v for r in rows for v in r.values())
    foot = ('<p class="words">— : not computable there (e.g. a correlation of a constant '
            "unit, or a quantity the method does not have).</p>" if nan else "")  # fmt: skip
    return f'<div class="tw"><table><tr>{head}</tr>{body}</table></div>{foot}'


def _kv(mapping: dict) -> str:
    return _table([{"key": k, "value": v} for k, v in mapping.items()])


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'


def _value(v: Verdict) -> str:
    """The key number, with its 95 % interval across seeds when there is one."""
    text = _e(v.value)
    if v.interval is not None:
        lo, hi = v.interval
        text += f' <span class="ci">[{_e(lo)}, {_e(hi)}]</span>'
    return text


def _seeds(v: Verdict) -> str:
    return f"{v.seeds_agree}/{v.seeds_total}" if v.seeds_total else ""


def claim_verdicts(results: dict[str, Result]) -> dict[str, tuple[str, list[tuple[str, Verdict]]]]:
    """``{claim: (combined verdict, [(experiment, verdict), ...])}`` for measured claims."""
    out = {}
    for cid in CLAIMS:
        parts = [(n, v) for n, r in results.items() for v in r.verdicts if v.claim == cid]
        if parts:
            out[cid] = (combine_parts([v.verdict for _, v in parts]), parts)
    return out


def cell_counts(parts: list[tuple[str, Verdict]]) -> str:
    """``"3 / 1 / 2; secondary 0 / 4 / 1"``: the primary test's cells that hold / fail /
    are undecided, then the secondary cells', summed over the verdict's parts (``""``
    where no part was made from cells)."""
    counts = [v.counts for _, v in parts if v.counts is not None]
    if not counts:
        return ""
    second = [v.secondary for _, v in parts if v.secondary is not None]
    text = " / ".join(str(sum(c[i] for c in counts)) for i in range(3))
    if any(sum(c) for c in second):
        text += "; secondary " + " / ".join(str(sum(c[i] for c in second)) for i in range(3))
    return text


def _indicative(parts) -> bool:
    return any(v.indicative for _, v in parts)


def last_full_run(run_dir: Path) -> tuple[str, dict] | None:
    """The newest finished full-size run beside ``run_dir`` (same parent folder):
    ``(name, claim_verdicts)``, or ``None``."""
    best = None
    for meta_path in run_dir.parent.glob("*/run.json"):
        if meta_path.parent.resolve() == run_dir.resolve():
            continue
        try:
            meta = read_run_meta(meta_path)
        except (DamagedFileError, OSError):
            continue
        if meta.get("quick") is not False or "finished" not in meta:
            continue
        if best is None or str(meta["finished"]) > str(best[1]["finished"]):
            best = (meta_path.parent, meta)
    if best is None:
        return None
    results = {}
    for name in best[1]["experiments"]:
        try:
            results[name] = read_results(best[0] / name / "results.json")
        except (DamagedFileError, OSError):
            continue
    return best[0].name, claim_verdicts(results)


def verdict_lines(run_dir: str | Path) -> list[str]:
    """One line per claim the run measured, for the terminal: ``C1  confirmed
    (identities)``, marked ``indicative`` where a quick run cannot decide it."""
    _, results, _ = load_run(run_dir, log=lambda _: None)
    lines = []
    for cid, (verdict, parts) in claim_verdicts(results).items():
        shown = f"indicative (quick: {verdict})" if _indicative(parts) else verdict
        lines.append(f"{cid:>4}  {shown:<28} ({', '.join(n for n, _ in parts)})")
    return lines


def goal_lines(run_dir: str | Path) -> list[str]:
    """One line per goal the run graded, for the terminal: its outcome, the goal, where
    and what was measured (:func:`goal_rows`)."""
    _, results, _ = load_run(run_dir, log=lambda _: None)
    return [f"  {g['outcome']:<24} {g['goal']}: {g['where']} ({g['measured']})"
            for g in goal_rows(results)]  # fmt: skip


def _claims_table(verdicts: dict, full: tuple[str, dict] | None = None) -> str:
    rows = []
    for cid, claim in REGISTRY.items():
        words = (
            f'<div class="words">&ldquo;{html.escape(claim.words)}&rdquo; '
            f"&mdash; {html.escape(claim.source_label())}</div>"
        )
        text = f"{html.escape(claim.text)}{words}"
        if cid not in verdicts:  # named below the table, not a row each
            continue
        verdict, parts = verdicts[cid]
        badge = _badge(verdict)
        if _indicative(parts):
            last = full[1].get(cid) if full else None
            badge = (
                '<span class="v open">indicative (quick sizes)</span>'
                f'<div class="words">quick: {html.escape(verdict)}; '
                + (
                    f"last full run <code>{html.escape(full[0])}</code>: {_badge(last[0])}"
                    if full is not None and last
                    else "no full run in this folder yet (iem run all)"
                )
                + "</div>"
            )
        links = "<br>".join(
            f'<a href="#exp-{html.escape(n)}">{html.escape(n)}</a> {_badge(v.verdict)}'
            if len(parts) > 1
            else f'<a href="#exp-{html.escape(n)}">{html.escape(n)}</a>'
            for n, v in parts
        )
        values = "<br>".join(_value(v) for _, v in parts)
        seeds = "<br>".join(_seeds(v) for _, v in parts)
        tally = cell_counts(parts)
        if tally:
            badge += f'<div class="words">primary test hold / fail / undecided: {tally}</div>'
        rows.append(
            f"<tr><td>{cid}</td><td>{text}</td><td>{badge}</td>"
            f'<td class="num">{values}</td><td class="num">{seeds}</td><td>{links}</td></tr>'
        )
    head = (
        "<tr><th>ID</th><th>claim, and the source's own words</th><th>verdict</th>"
        "<th>deciding number [95 % interval]</th><th>seeds alone</th><th>evidence</th></tr>"
    )
    missing = [cid for cid in REGISTRY if cid not in verdicts]
    note = (
        f'<p class="words">Not measured by this run\'s experiments: {", ".join(missing)} '
        "(<code>iem run all</code> measures every claim).</p>"
        if missing
        else ""
    )
    return f'<div class="tw"><table>{head}{"".join(rows)}</table></div>{note}'


def _doubts(verdicts: dict) -> str:
    """One line per refuted or partly claim: why (the evidence of the parts that fail)."""
    lines = []
    for cid, (verdict, parts) in verdicts.items():
        if verdict not in ("refuted", "partly"):
            continue
        why = " ".join(
            f"[{html.escape(n)}: {html.escape(v.verdict)}] {html.escape(v.evidence)}"
            for n, v in parts
            if v.verdict != "confirmed"
        )
        note = " (indicative: quick sizes)" if _indicative(parts) else ""
        lines.append(
            f"<li>{_badge(verdict)}{note} <b>{cid}</b> {html.escape(CLAIMS[cid])} {why}</li>"
        )
    if not lines:
        return "<p>None in this run: every measured claim was confirmed or left open.</p>"
    return f'<ul class="doubts">{"".join(lines)}</ul>'


def summary_line(verdicts: dict, goals: list[dict]) -> str:
    """The first screen's one line: how many claims got each verdict (indicative ones
    apart) and how many goals were met (HTML)."""
    counts: dict[str, int] = {}
    for verdict, parts in verdicts.values():
        key = "indicative" if _indicative(parts) else verdict
        counts[key] = counts.get(key, 0) + 1
    order = ("confirmed", "partly", "refuted", "open", "indicative")
    said = ", ".join(f"{_badge(k) if k != 'indicative' else 'indicative'} {counts[k]}"
                     for k in order if counts.get(k))  # fmt: skip
    line = f"<b>{len(verdicts)} claims measured</b>: {said or 'none'}"
    if goals:
        met = sum(1 for g in goals if g.get("outcome") == "met")
        line += f" · <b>goals</b>: {met} of {len(goals)} met"
    return line


def goal_rows(results: dict[str, Result]) -> list[dict]:
    """Every experiment's ``goals`` table as one list: experiment, goal, where, what was
    measured (mean [95 % interval], or against a target) and the outcome."""
    out = []
    for name, r in results.items():
        for g in r.tables.get("goals", []):
            if "cell" in g:  # declared and graded (implicit_em.experiments.rules.grade_goals)
                ci = f" [{fmt(g['lo'])}, {fmt(g['hi'])}]" if g.get("lo") is not None else ""
                measured, where = f"{fmt(g['mean'])}{ci} {g['test']}", g["cell"]
            else:
                measured = f"{fmt(g.get('measured'))} vs {fmt(g.get('target'))}"
                where = f"K = {g['K']}" if "K" in g else ""
            out.append({"experiment": name, "goal": g["goal"], "where": where,
                        "measured": measured, "outcome": g["outcome"]})  # fmt: skip
    return out


def _overview(meta: dict, results: dict[str, Result]) -> str:
    env = meta.get("env", {})
    quick = meta.get("quick")
    sizes = "quick sizes" if quick else "full sizes" if quick is not None else "sizes unknown"
    n = meta.get("n_seeds")
    seeds = (
        f"{n} seed(s) per stochastic experiment (deterministic ones run once)"
        if n
        else "seeds: see each section"
    )
    data = "".join(
        f"<li><code>{html.escape(name)}</code>: {html.escape(r.data)}</li>"
        for name, r in results.items()
        if r.data
    )
    wall = sum(r.wall_s for r in results.values())
    machine = (
        f"{env.get('platform', '?')}, {env.get('device', '?')}, {env.get('cpu_count', '?')} "
        f"CPUs, torch threads: {env.get('threads', '?')}"
        + (f", up to {meta['jobs']} seeds at once" if meta.get("jobs") else "")
    )
    return (
        f'<p class="sub"><b>{sizes}</b> · {html.escape(seeds)} · total wall time '
        f"{wall / 60:.1f} min · {html.escape(machine)}</p>"
        + (
            f"<details><summary>Data actually used, per experiment</summary><ul>{data}</ul>"
            "</details>"
            if data
            else ""
        )
    )


def _sizes(name: str, r: Result) -> str:
    """``full sizes``, or ``quick sizes`` with the values the quick run shrank (the
    experiment's ``QUICK`` keys, as this run's config has them), so a title's full-size
    numbers are never read as the run's."""
    if not r.quick:
        return "full sizes"
    from ..experiments.registry import EXPERIMENTS

    exp = EXPERIMENTS.get(name)
    keys = [k for k in (exp.quick if exp else {}) if k in r.config]
    shrunk = ", ".join(f"{k} = {fmt(r.config[k])}" for k in keys)
    return "quick sizes" + (f" ({html.escape(shrunk)})" if shrunk else "")


def _folded(text: str, keep: int = 160) -> str:
    """``text`` escaped; past ``keep`` characters, its start with the rest folded away."""
    if len(text) <= keep:
        return html.escape(text)
    cut = text.rfind(" ", 0, keep)
    cut = cut if cut > 0 else keep
    return (f"{html.escape(text[:cut])} <details><summary>more</summary>"
            f"{html.escape(text[cut:])}</details>")  # fmt: skip


def _section(name: str, r: Result, exp_dir: Path) -> str:
    parts = [f'<h2 id="exp-{html.escape(name)}">{html.escape(r.title or name)}</h2>']
    seeds = ", ".join(str(s) for s in r.seeds) if r.seeds else str(r.seed)
    parts.append(
        f'<p class="sub"><code>{html.escape(name)}</code> · '
        f"claims {', '.join(r.claims) or 'none (measurements and goals)'} · "
        f"seed(s) {seeds} · {_sizes(name, r)} · {r.wall_s:.1f} s</p>"
    )
    if r.summary:
        parts.append(f"<p>{html.escape(r.summary)}</p>")
    if r.verdicts:
        parts.append("<h3>Verdicts</h3>")
        rows = [
            f"<tr><td>{html.escape(v.claim)}</td><td>{_badge(v.verdict)}</td>"
            f'<td class="num">{_value(v)}</td><td class="num">{_seeds(v)}</td>'
            f"<td>{_folded(v.threshold)}</td><td>{_folded(v.evidence)}</td></tr>"
            for v in r.verdicts
        ]
        tally = ", ".join(html.escape(f"{v.claim} {v.verdict}") for v in r.verdicts)
        parts.append(
            f"<details><summary>{tally}: values, rules and evidence</summary>"
            '<div class="tw"><table><tr><th>claim</th><th>verdict</th><th>value</th>'
            f"<th>seeds</th><th>rule</th><th>evidence</th></tr>{''.join(rows)}</table></div>"
            "</details>"
        )
    for fig in r.figures:  # folded under their captions: the report reads in one pass
        path = exp_dir / fig.file
        if path.is_file():
            caption = html.escape(fig.caption)
            parts.append(f"<details><summary>Figure: {caption}</summary>"
                         f"<figure>{_img(path)}<figcaption>{caption}</figcaption></figure>"
                         "</details>")  # fmt: skip
    for tname, table in r.tables.items():  # the measurements, folded
        parts.append(f"<details><summary>Table: {html.escape(tname)} ({len(table)} rows)"
                     f"</summary>{_table(table)}</details>")  # fmt: skip
    if r.metrics:
        parts.append(f"<h3>Metrics</h3><details><summary>show</summary>{_kv(r.metrics)}</details>")
    parts.append(f"<details><summary>Config</summary>{_kv(r.config)}</details>")
    return "\n".join(parts)


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


def load_run(
    run_dir: str | Path, log: Callable[[str], None]
) -> tuple[dict, dict[str, Result], dict[str, str]]:
    """``(run.json's meta, {experiment: Result}, {experiment: why skipped})`` of a run
    directory; a damaged ``results.json`` is skipped and said on ``log``."""
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no run.json)")
    meta = read_run_meta(run_dir / "run.json")
    results, damaged = {}, {}
    for name in meta["experiments"]:
        path = run_dir / name / "results.json"
        if path.is_file():
            try:
                results[name] = read_results(path)
            except DamagedFileError as err:
                damaged[name] = str(err)
                log(f"iem: skipped {name}: {err}")
    return meta, results, damaged


def build_report(run_dir: str | Path, log: Callable[[str], None] | None = None) -> Path:
    """Write ``run_dir/report.html`` from ``run.json`` and each ``*/results.json``.

    Layout: what ran (sizes, seeds, data, machine, wall time); the claims table with one
    verdict per claim (combined across experiments by
    :func:`implicit_em.experiments.verdicts.combine_parts`); where the sources are wrong
    or unproven; one section per experiment; the environment. A damaged
    ``results.json`` is skipped with a note in the report (and on ``log``, default
    standard error); a damaged ``run.json`` raises :class:`DamagedFileError`.
    """
    run_dir = Path(run_dir)
    meta, results, damaged = load_run(run_dir, log or _stderr)
    failures = {str(n): str(m) for n, m in meta.get("failures", {}).items()}
    fail_html = "".join(
        f'<p class="fail"><b>{html.escape(n)}</b> failed: {html.escape(m)}</p>'
        for n, m in failures.items()
    ) + "".join(
        f'<p class="fail"><b>{html.escape(n)}</b> skipped: {html.escape(m)}. Run the same '
        "<code>iem run</code> command on this directory to recompute it.</p>"
        for n, m in damaged.items()
    )
    verdicts = claim_verdicts(results)
    env = dict(meta.get("env", {}), argv=" ".join(meta.get("argv", [])))
    body = [
        "<h1>implicit-em report</h1>",
        f'<p class="sub">run <code>{html.escape(run_dir.name)}</code> · started '
        f"{html.escape(str(meta.get('started', '?')))} · finished "
        f"{html.escape(str(meta.get('finished', 'not finished')))}</p>",
        f'<p class="summary" id="summary">{summary_line(verdicts, goals := goal_rows(results))}'
        "</p>",
        _overview(meta, results),
        fail_html,
        "<h2>Claims</h2><p>One verdict per claim, computed from measurements in this run; "
        "each experiment's rules and graded cells are in its section.</p>"
        "<details><summary>How a verdict is decided</summary>"
        f"<p>{html.escape(RULE_TEXT)}; {html.escape(PARTS_RULE)}.</p></details>",
        _claims_table(verdicts, last_full_run(run_dir) if meta.get("quick") else None),
        "<h2>Goals</h2><p>The goals set for the library and its benchmark, graded like the "
        "claims (met, missed, or not resolved at this many seeds); each experiment's section "
        "has the details.</p>",
        _table(goals) if goals else "<p>No goals in this run.</p>",
        "<h2>Where the sources are wrong or unproven</h2>"
        f"<details><summary>The evidence against each refuted or partly claim</summary>"
        f"{_doubts(verdicts)}</details>",
        *(_section(name, r, run_dir / name) for name, r in results.items()),
        f'<h2 id="environment">Environment</h2>{_kv(env)}',
    ]
    doc = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>implicit-em report · {html.escape(run_dir.name)}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>"
    )
    out = run_dir / "report.html"
    atomic_write_text(out, doc)
    return out
