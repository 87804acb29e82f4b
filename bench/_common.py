"""Shared helpers for the benchmarks: timing with torch.utils.benchmark, table, JSON,
and the machine's state beside every result.

Every result records the load average when the benchmark started and when it ended, the
core count, torch's threads and the BLAS / OpenMP libraries in use (threadpoolctl). A
result taken on a busy machine (a load average above the core count at either moment)
is marked ``busy`` and does not overwrite a committed ``results/NAME.json``: it goes to
``results/NAME.busy.json`` unless ``IEM_BENCH_FORCE=1`` (``make bench FORCE=1``).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch
from torch.utils import benchmark

from implicit_em._machine import cpu_info

RESULTS = Path(__file__).parent / "results"
LOAD_AT_START = os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def machine_state(load_at_start: float | None = None) -> dict:
    """Load averages (1 min) at the start and now, cores, torch threads, the BLAS and
    OpenMP libraries, and ``busy``: a load above the core count at either moment."""
    from threadpoolctl import threadpool_info

    start = LOAD_AT_START if load_at_start is None else load_at_start
    now = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    cores = os.cpu_count() or 1
    pools = [f"{p.get('internal_api')} {p.get('version') or ''} ({p.get('num_threads')} threads)"
             .replace("  ", " ") for p in threadpool_info()]  # fmt: skip
    loads = [v for v in (start, now) if v is not None]
    return {"load_start": start, "load_end": now, "cores": cores,
            "torch_threads": torch.get_num_threads(), "blas": "; ".join(pools),
            "busy": bool(loads) and max(loads) > cores}  # fmt: skip


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
        **cpu_info(),
        "python": platform.python_version(),
    }
    state = machine_state()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    forced = os.environ.get("IEM_BENCH_FORCE") == "1"
    if state["busy"] and path.exists() and not forced:
        path = RESULTS / f"{name}.busy.json"
        print(f"the machine was busy (load {state['load_start']}, {state['load_end']} on "
              f"{state['cores']} cores): not overwriting results/{name}.json; set "
              "IEM_BENCH_FORCE=1 to publish it anyway")  # fmt: skip
    payload = {"meta": {**meta, "env": env, "machine_state": state}, "rows": rows}
    path.write_text(json.dumps(payload, indent=2))
    print(f"wrote {path}")
    return path


def mnist_tensors(quick: bool, stand_in: int) -> tuple:
    """``(x, y, x_test, y_test, real)``: MNIST's 60k / 10k as tensors (``real``), or, at
    ``quick`` sizes or without the MNIST files, ``stand_in`` random rows of 784 pixels
    with the last sixth held out."""
    from implicit_em.data import find_mnist, load_dataset

    found = find_mnist()
    if quick or found is None or not found[1]:
        g = torch.Generator().manual_seed(0)
        x = torch.rand(stand_in, 784, generator=g)
        y = torch.randint(0, 10, (stand_in,), generator=g)
        cut = stand_in - stand_in // 6
        return x[:cut], y[:cut], x[cut:], y[cut:], False
    ds = load_dataset("mnist", download=False)
    return (torch.as_tensor(ds.X_train), torch.as_tensor(ds.y_train),
            torch.as_tensor(ds.X_test), torch.as_tensor(ds.y_test), True)  # fmt: skip
