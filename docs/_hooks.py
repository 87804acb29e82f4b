"""MkDocs hook: the Benchmarks page is generated from ``bench/results/*.json`` at build time
(the tables are never typed by hand)."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"
MARKER = "<!-- benchmark tables -->"


def _cell(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else ("yes" if value else "no")
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value).replace("|", "\\|")


def benchmark_tables(results: Path = RESULTS) -> str:
    """One Markdown table per ``results/NAME.json`` (quick runs left out), with its
    environment; a note when there is none yet."""
    parts = []
    for path in sorted(results.glob("*.json")):
        if path.stem.endswith("-quick"):
            continue
        data = json.loads(path.read_text())
        rows, meta = data.get("rows", []), data.get("meta", {})
        if not rows:
            continue
        cols = list(dict.fromkeys(k for r in rows for k in r))
        env = ", ".join(f"{k} {v}" for k, v in meta.get("env", {}).items())
        parts.append(f"## `bench/{path.stem}.py`\n\nMeasured on: {env or 'unknown'}.\n")
        parts.append("| " + " | ".join(cols) + " |")
        parts.append("|" + "---|" * len(cols))
        parts += ["| " + " | ".join(_cell(r.get(c)) for c in cols) + " |" for r in rows]
        parts.append("")
    if not parts:
        return "*No benchmark results yet: run `make bench`.*\n"
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 (MkDocs API)
    """Fill the Benchmarks page's marker with the tables."""
    if MARKER in markdown:
        return markdown.replace(MARKER, benchmark_tables())
    return markdown
