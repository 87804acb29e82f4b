"""Intervals over seeds, and the rule that combines the experiments testing one claim.

Seeds are combined by each experiment's declared rules
(:mod:`implicit_em.experiments.rules`), on 95 % intervals that never leave their
quantity's range. The report combines the experiments that test one claim with
:func:`combine_parts`: parts that could not decide (``"open"``) are set aside unless
every part is open; the remaining parts give their common verdict when they agree and
``"partly"`` when they do not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

UNIT = (0.0, 1.0)  # accuracies, fractions, correlations' magnitudes
COUNT = (0.0, math.inf)  # counts, times, distances, non-negative errors
REAL = (-math.inf, math.inf)
PARTS_RULE = (
    "across experiments: open parts are set aside unless all are open; agreeing parts give "
    "their verdict, disagreeing parts give partly"
)


def interval95(
    values: Sequence[float | None], bounds: tuple[float, float] = REAL
) -> tuple[float | None, tuple[float, float] | None]:
    """Mean and 95 % Student-t interval of the finite ``values``, clipped to ``bounds``
    (the quantity's range); ``None`` if there are none, and the interval ``None`` for
    fewer than two values.

    Examples:
        >>> m, (lo, hi) = interval95([0.99, 1.0, 0.98], UNIT)
        >>> round(m, 2), hi
        (0.99, 1.0)
    """
    from scipy.stats import t

    xs = [float(v) for v in values if v is not None and _finite(v)]
    if not xs:
        return None, None
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return mean, None
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    half = float(t.ppf(0.975, len(xs) - 1)) * sd / math.sqrt(len(xs))
    return mean, (max(mean - half, bounds[0]), min(mean + half, bounds[1]))


# The interval each kind of statistic is graded on (a rule declares its kind).
KINDS = {
    "mean": "mean, Student-t interval",
    "share": "share of seeds where it is true, Wilson interval",
    "median": "median, sign-test interval",
}
MEDIAN_COVERAGE = 1 - 2 / 2**5  # 93.75 %: the most five seeds can give; more seeds reach 95 %
_Z95 = 1.959963984540054


def interval_of(
    values: Sequence[float | None], bounds: tuple[float, float] = REAL, kind: str = "mean"
) -> tuple[float | None, tuple[float, float] | None]:
    """The centre and 95 % interval of the finite ``values`` (one per seed) for the
    statistic's ``kind`` (:data:`KINDS`), clipped to ``bounds``; ``(None, None)`` for no
    values, and the interval ``None`` for one value.

    - ``"mean"``: :func:`interval95`.
    - ``"share"``: each value is 0 or 1 (true in that seed); the share of seeds with a
      Wilson score interval, which never has zero width (5 of 5 gives [0.57, 1]).
    - ``"median"``: for ratios and heavy-tailed gaps, the median with the sign test's
      distribution-free interval ``[x_(k), x_(n+1-k)]`` of the sorted values, ``k`` the
      largest with coverage ``1 - 2 P(Bin(n, 1/2) < k)`` at least 95 % (at least
      :data:`MEDIAN_COVERAGE` below 6 seeds: ``[min, max]`` of 5); fewer than 5 values
      give no interval.

    Examples:
        >>> share, (lo, hi) = interval_of([1, 1, 1, 1, 1], kind="share")
        >>> share, round(lo, 3), hi
        (1.0, 0.566, 1.0)
        >>> interval_of([1.6, 1.6, 2.1, 149.0, 74.0], kind="median")
        (2.1, (1.6, 149.0))
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    if kind == "mean":
        return interval95(values, bounds)
    xs = sorted(float(v) for v in values if v is not None and _finite(v))
    if not xs:
        return None, None
    n = len(xs)
    if kind == "share":
        if any(x not in (0.0, 1.0) for x in xs):
            raise ValueError(f"a 'share' statistic takes 0 or 1 per seed, got {xs}")
        p = sum(xs) / n
        if n < 2:
            return p, None
        centre = (p + _Z95**2 / (2 * n)) / (1 + _Z95**2 / n)
        half = _Z95 / (1 + _Z95**2 / n) * math.sqrt(p * (1 - p) / n + _Z95**2 / (4 * n * n))
        return p, (max(centre - half, bounds[0], 0.0), min(centre + half, bounds[1], 1.0))
    median = xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
    k = _sign_test_rank(n)
    if k is None:
        return median, None
    return median, (max(xs[k - 1], bounds[0]), min(xs[n - k], bounds[1]))


def _sign_test_rank(n: int) -> int | None:
    """The largest ``k`` whose order-statistic interval covers the median with at least
    95 % (at least :data:`MEDIAN_COVERAGE` for 5 values), or ``None`` if none does."""
    from scipy.stats import binom

    need = 0.95 if n > 5 else MEDIAN_COVERAGE
    ks = [k for k in range(1, n // 2 + 1) if 1 - 2 * binom.cdf(k - 1, n, 0.5) >= need - 1e-12]
    return max(ks) if ks else None


def over_seeds(
    rows: list[dict], keys: tuple[str, ...], values: Mapping[str, tuple[float, float]]
) -> list[dict]:
    """Rows grouped by ``keys`` (in first-seen order), each column of ``values`` (name ->
    its range) as its mean and 95 % interval within that range over the group's rows (one
    per seed): ``{v}``, ``{v}_lo``, ``{v}_hi``, and ``seeds``, the group's size.

    Examples:
        >>> rows = [{"m": "a", "acc": x} for x in (0.9, 0.92, 0.91)]
        >>> r = over_seeds(rows, ("m",), {"acc": UNIT})[0]
        >>> r["seeds"], round(r["acc"], 3), r["acc_lo"] < 0.91 < r["acc_hi"]
        (3, 0.91, True)
    """
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    out = []
    for key, members in groups.items():
        row = dict(zip(keys, key, strict=True))
        row["seeds"] = len(members)
        for v, bounds in values.items():
            mean, ci = interval95([m.get(v) for m in members], bounds)
            row[v] = mean
            row[f"{v}_lo"], row[f"{v}_hi"] = ci if ci else (None, None)
        out.append(row)
    return out


def percent_interval(row: dict, value: str) -> str:
    """``"91.23 ± 0.58"``: a row of :func:`over_seeds` as percent, mean ± half the 95 %
    interval (``""`` without an interval)."""
    lo, hi = row[f"{value}_lo"], row[f"{value}_hi"]
    return "" if lo is None else f"{100 * row[value]:.2f} ± {100 * (hi - lo) / 2:.2f}"


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def combine_parts(parts: list[str]) -> str:
    """One verdict from the verdicts of the experiments that test a claim."""
    if not parts:
        raise ValueError("combine_parts needs at least one verdict")
    decided = [p for p in parts if p != "open"] or parts
    return decided[0] if len(set(decided)) == 1 else "partly"
