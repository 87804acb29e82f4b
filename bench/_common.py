"""Shared helpers for the benchmarks: timing with torch.utils.benchmark, table, JSON."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch
from torch.utils import benchmark

RESULTS = Path(__file__).parent / "results"


def median_seconds(fn, min_run_time: float = 1.0) -> float:
    """Median wall time of ``fn()`` (warm-up and repeat handled by torch's Timer)."""
    fn()
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def report(name: str, rows: list[dict], meta: dict) -> Path:
    """Print ``rows`` as an aligned table and write them with ``meta`` to results/NAME.json."""
    cols = list(dict.fromkeys(k for r in rows for k in r))

    def cell(v):
        return "" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v))

    cells = [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    env = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"meta": {**meta, "env": env}, "rows": rows}, indent=2))
    print(f"wrote {path}")
    return path
