"""MkDocs hooks: the build fails when a public name has no docstring, the Benchmarks
page and the Krotov-Hopfield reproduction table are generated from
``bench/results/*.json`` at build time (never typed by hand), and
the maths is rendered to MathML at build time (no script, no network: the pages read
offline)."""

from __future__ import annotations

import html
import inspect
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
MARKER = "<!-- benchmark tables -->"
HEADLINE = "<!-- benchmark headline -->"
REPRODUCTION = "<!-- krotov reproduction -->"


def _cell(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else ("yes" if value else "no")
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value).replace("|", "\\|")


def _with_met(row: dict) -> dict:
    """``row`` with ``met`` filled in where it has a ``goal`` but no verdict: a ``ratio``
    (ours over the baseline) at most the goal, a ``speedup`` at least it."""
    if row.get("goal") is None or "met" in row:
        return row
    if row.get("ratio") is not None:
        return {**row, "met": row["ratio"] <= row["goal"]}
    if row.get("speedup") is not None:
        return {**row, "met": row["speedup"] >= row["goal"]}
    return row


def committed_results(results: Path = RESULTS):
    """``(name, meta, rows)`` of each committed ``results/NAME.json``, by name (quick runs
    and results taken on a busy machine left out), ``met`` filled in (:func:`_with_met`)."""
    for path in sorted(results.glob("*.json")):
        if path.stem.endswith(("-quick", ".busy")):
            continue
        data = json.loads(path.read_text())
        yield path.stem, data.get("meta", {}), [_with_met(r) for r in data.get("rows", [])]


def benchmark_tables(results: Path = RESULTS) -> str:
    """One Markdown table per ``results/NAME.json`` (quick runs left out), with its
    environment; a note when there is none yet."""
    parts = []
    for stem, meta, rows in committed_results(results):
        if not rows:
            continue
        cols = list(dict.fromkeys(k for r in rows for k in r))
        env = ", ".join(f"{k} {v}" for k, v in meta.get("env", {}).items())
        parts.append(f"## `bench/{stem}.py`\n\nMeasured on: {env or 'unknown'}.")
        state = meta.get("machine_state")
        parts.append(
            "Machine state not recorded (taken before it was).\n" if state is None else
            f"Load average {state['load_start']:.2f} at the start, {state['load_end']:.2f} "
            f"at the end, on {state['cores']} cores; {state['blas']}"
            + (" — **taken on a busy machine**" if state["busy"] else "") + ".\n"
        )  # fmt: skip
        parts.append("| " + " | ".join(cols) + " |")
        parts.append("|" + "---|" * len(cols))
        parts += ["| " + " | ".join(_cell(r.get(c)) for c in cols) + " |" for r in rows]
        parts.append("")
    if not parts:
        return "*No benchmark results yet: run `make bench`.*\n"
    return "\n".join(parts)


def _measured(row: dict) -> tuple[str, str] | None:
    """``(measured, goal)`` in words for a row with a goal, or ``None``."""
    if row.get("goal") is None:
        return None
    if row.get("speedup") is not None:
        return f"{row['speedup']:.3g}× faster", f"≥ {row['goal']:g}× faster"
    if row.get("ratio") is not None:
        return f"{row['ratio']:.3g}× the baseline's", f"≤ {row['goal']:g}×"
    return None


def _machine(meta: dict) -> str:
    env = meta.get("env", {})
    cpu, threads, flags = env.get("cpu"), env.get("threads"), env.get("cpu_flags")
    where = (f"{cpu} ({flags or 'no AVX2'})" if cpu
             else f"{env.get('machine', 'unknown')} (CPU model not recorded)")  # fmt: skip
    return f"{where}, {threads} thread{'' if threads == 1 else 's'}" if threads else where


def headline_table(results: Path = RESULTS) -> str:
    """Every row with a goal, from every committed result: benchmark, case, what was
    measured, the goal, met, and the machine that measured it."""
    lines = ["| benchmark | case | measured | goal | met | machine |", "|---|---|---|---|---|---|"]
    for stem, meta, rows in committed_results(results):
        for row in rows:
            words = _measured(row)
            if words is None:
                continue
            met = row.get("met")
            lines.append(f"| `{stem}` | {_cell(row.get('case', ''))} | {words[0]} | "
                         f"{words[1]} | {'—' if met is None else ('yes' if met else '**no**')} "
                         f"| {_machine(meta)} |")  # fmt: skip
    if len(lines) == 2:
        return "*No benchmark with a goal has results yet: run `make bench`.*\n"
    return "\n".join(lines) + "\n"


def reproduction_table(results: Path = RESULTS) -> str:
    """``results/krotov_reproduction.json`` as one row per bottom-layer setting: its
    settings, fit time, and the test accuracy under each read-out, then how far the best
    power top layer is from the published figure."""
    path = results / "krotov_reproduction.json"
    if not path.is_file():
        return "*No reproduction committed yet: run `python bench/krotov_reproduction.py`.*\n"
    data = json.loads(path.read_text())
    meta, rows = data.get("meta", {}), data.get("rows", [])
    def column(readout: str) -> str:  # the tuned probe's label names its chosen C
        return "tuned probe" if "held-out" in readout else readout

    readouts = list(dict.fromkeys(column(r["readout"]) for r in rows))
    lines = ["| bottom layer (2000 units) | settings | fit | " + " | ".join(readouts) + " |",
             "|---|---|---|" + "---|" * len(readouts)]  # fmt: skip
    for setting in dict.fromkeys(r["setting"] for r in rows):
        mine = {column(r["readout"]): r for r in rows if r["setting"] == setting}
        first = next(iter(mine.values()))
        kw = ", ".join(f"{k} {v:g}" for k, v in first["kwargs"].items())
        cells = []
        for name in readouts:
            r = mine.get(name)
            chosen = re.findall(r"(?:power|C)[ =]+[\d.e+-]+", r["readout"]) if r else []
            said = ", ".join(c.replace(" =", "") for c in chosen)
            cells.append("—" if r is None else f"{100 * r['test_accuracy']:.2f} %"
                         + (f" ({said})" if name == "tuned probe" and said else ""))
        lines.append(f"| {setting} | {kw} | {first['fit_s'] / 60:.0f} min | "
                     + " | ".join(cells) + " |")
    power = [r for r in rows if r["readout"].startswith("power")]
    if power and meta.get("published"):
        best = max(power, key=lambda r: r["test_accuracy"])
        gap = 100 * (meta["published"] - best["test_accuracy"])
        lines += ["", f"Published: {100 * meta['published']:.2f} %. The best power top "
                  f"layer here ({best['setting']}) is {gap:.2f} points "
                  f"{'short of it' if gap > 0 else 'above it'} and fits its own training "
                  f"images to {100 * best.get('train_accuracy', float('nan')):.2f} %; one seed "
                  f"({meta.get('seed', 0)}), {meta.get('readout_epochs', '?')} top-layer "
                  f"epochs, measured on {_machine(meta)}."]  # fmt: skip
    return "\n".join(lines) + "\n"


ARITHMATEX = re.compile(r'<(span|div) class="arithmatex">(.*?)</\1>', re.S)


def mathml(page_html: str) -> str:
    """``page_html`` with each ``pymdownx.arithmatex`` formula (``\\(...\\)`` inline,
    ``\\[...\\]`` display) replaced by its MathML (``latex2mathml``), which browsers draw
    natively; a formula it cannot convert fails the build, naming it."""
    from latex2mathml.converter import convert

    def one(m: re.Match) -> str:
        tex = html.unescape(m.group(2)).strip()
        if tex[:2] in ("\\(", "\\[") and tex[-2:] in ("\\)", "\\]"):
            tex = tex[2:-2]
        display = "block" if m.group(1) == "div" else "inline"
        try:
            return convert(tex, display=display)
        except Exception as err:  # latex2mathml raises several kinds
            raise ValueError(f"cannot render the formula {tex!r} as MathML: {err}") from err

    return ARITHMATEX.sub(one, page_html)


def on_page_content(page_html: str, page, config, files) -> str:
    return mathml(page_html)


API_PAGES = tuple(p.stem for p in (ROOT / "docs" / "api").glob("*.md"))  # one per package
DOTTED = re.compile(r"(?<!\[)`(implicit_em(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`")


def api_target(name: str) -> str | None:
    """The API-reference anchor that documents ``name``, or ``None``: a package with its
    own page (``implicit_em.layers``), or a public name of one (in its ``__all__``)."""
    import importlib

    parts = name.split(".")
    if len(parts) < 2 or parts[1] not in API_PAGES or len(parts) > 3:
        return None
    if len(parts) == 2:
        return name
    module = importlib.import_module(".".join(parts[:2]))
    obj = getattr(module, parts[2], None)
    if parts[2] in getattr(module, "__all__", ()) and not inspect.ismodule(obj):
        return name
    return None


def link_dotted_names(markdown: str) -> str:
    """Each backticked ``implicit_em.x[.Name]`` that the API reference documents becomes
    a link to it (mkdocs-autorefs); any other stays plain code."""

    def one(m: re.Match) -> str:
        target = api_target(m.group(1))
        return f"[`{m.group(1)}`][{target}]" if target else m.group(0)

    return DOTTED.sub(one, markdown)


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Fill the Benchmarks page's markers (the headline table and the raw tables), and
    link the narrative pages' dotted names to the API reference."""
    if page is not None and not page.file.src_uri.startswith("api/"):
        markdown = link_dotted_names(markdown)
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, benchmark_tables())
    if HEADLINE in markdown:
        markdown = markdown.replace(HEADLINE, headline_table())
    if REPRODUCTION in markdown:
        markdown = markdown.replace(REPRODUCTION, reproduction_table())
    return markdown


def undocumented(package: str = "implicit_em", search_paths: tuple = (str(ROOT / "src"),)) -> list:
    """Public modules, classes and functions of ``package`` without a docstring (an
    ``@override`` inherits its base's; names under a private module or class are skipped)."""
    import griffe

    missing = []

    def walk(obj, private: bool) -> None:
        for name, member in obj.members.items():
            if member.is_alias or not (member.is_module or member.is_class or member.is_function):
                continue
            hidden = private or (name.startswith("_") and not name.startswith("__"))
            decorators = " ".join(str(d.value) for d in getattr(member, "decorators", []))
            dunder = name.startswith("__")
            if not hidden and not dunder and not member.docstring and "override" not in decorators:
                missing.append(member.path)
            if member.is_module or member.is_class:
                walk(member, hidden)

    walk(griffe.load(package, search_paths=list(search_paths), resolve_aliases=False), False)
    return missing


def on_pre_build(config) -> None:
    """Fail the build on a public name without a docstring."""
    from mkdocs.exceptions import PluginError

    missing = undocumented()
    if missing:
        raise PluginError("public names without a docstring: " + ", ".join(missing))
