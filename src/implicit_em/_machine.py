"""The CPU a number was measured on: its model name and the vector extensions that change
timings, recorded beside every run (``run.json``) and every benchmark result."""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_info(cpuinfo: str | None = None) -> dict:
    r"""The CPU's model name and the vector extensions that change timings (``avx2``,
    ``avx512f``, ``amx_tile``), from ``/proc/cpuinfo`` (Linux); the platform's processor
    string elsewhere.

    Examples:
        >>> cpu_info("model name\t: AMD EPYC\nflags\t\t: fpu avx2 sse\n")
        {'cpu': 'AMD EPYC', 'cpu_flags': 'avx2'}
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return {"cpu": platform.processor() or platform.machine(), "cpu_flags": ""}
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    return {
        "cpu": fields.get("model name") or platform.processor() or platform.machine(),
        "cpu_flags": " ".join(f for f in ("avx2", "avx512f", "amx_tile") if f in flags),
    }
