"""Verdict rules that combine: across seeds, and across the experiments that test a claim.

Each experiment decides its claims per seed with its own rule (a pure function of that
seed's measurements). The runner combines the seeds with :func:`combine_seeds`, and the
report combines the experiments that test one claim with :func:`combine_parts`, so that
every claim shows one verdict, with the rule that produced it stated here and tested.

Across seeds (``combine_seeds``): unanimous seeds give their verdict; seeds that disagree
give ``"partly"`` when at least one seed finds the claim holding (confirmed or partly),
else ``"open"``; the key value is the mean with a 95 % Student-t interval.

Across experiments (``combine_parts``): parts that could not decide (``"open"``) are set
aside unless every part is open; the remaining parts give their common verdict when they
agree and ``"partly"`` when they do not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from .results import Verdict

SEEDS_RULE = (
    "across seeds: unanimous seeds give their verdict; disagreeing seeds give partly if any "
    "seed finds the claim holding, else open"
)
PARTS_RULE = (
    "across experiments: open parts are set aside unless all are open; agreeing parts give "
    "their verdict, disagreeing parts give partly"
)


def grade_below(value: float, confirmed: float, partly: float | None = None) -> str:
    """``"confirmed"`` if ``value < confirmed``, ``"partly"`` if ``< partly``, else refuted.

    A non-finite ``value`` (the measurement failed) gives ``"open"``.
    """
    if value is None or not math.isfinite(value):
        return "open"
    if value < confirmed:
        return "confirmed"
    if partly is not None and value < partly:
        return "partly"
    return "refuted"


def interval95(values: Sequence[float | None]) -> tuple[float | None, tuple[float, float] | None]:
    """Mean and 95 % Student-t interval of the finite ``values`` (``None`` if none; the
    interval is ``None`` for fewer than two values)."""
    from scipy.stats import t

    xs = [float(v) for v in values if v is not None and _finite(v)]
    if not xs:
        return None, None
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return mean, None
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    half = float(t.ppf(0.975, len(xs) - 1)) * sd / math.sqrt(len(xs))
    return mean, (mean - half, mean + half)


def over_seeds(rows: list[dict], keys: tuple[str, ...], values: tuple[str, ...]) -> list[dict]:
    """Rows grouped by ``keys`` (in first-seen order), each of ``values`` as its mean and
    95 % interval over the group's rows (one per seed): ``{v}``, ``{v}_lo``, ``{v}_hi``,
    and ``seeds``, the group's size.

    Examples:
        >>> rows = [{"m": "a", "acc": x} for x in (0.9, 0.92, 0.91)]
        >>> r = over_seeds(rows, ("m",), ("acc",))[0]
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
        for v in values:
            mean, ci = interval95([m.get(v) for m in members])
            row[v] = mean
            row[f"{v}_lo"], row[f"{v}_hi"] = ci if ci else (None, None)
        out.append(row)
    return out


def percent_interval(row: dict, value: str) -> str:
    """``"91.23 ± 0.58"``: a row of :func:`over_seeds` as percent, mean ± half the 95 %
    interval (``""`` without an interval)."""
    lo, hi = row[f"{value}_lo"], row[f"{value}_hi"]
    return "" if lo is None else f"{100 * row[value]:.2f} ± {100 * (hi - lo) / 2:.2f}"


def separated(a: dict, b: dict, value: str) -> str:
    """``"above"`` / ``"below"`` when ``a``'s 95 % interval of ``value`` lies wholly above
    / below ``b``'s (rows from :func:`over_seeds`), else ``"overlap"`` (also when an
    interval is missing: one seed decides nothing)."""
    lo, hi = f"{value}_lo", f"{value}_hi"
    if None in (a.get(lo), a.get(hi), b.get(lo), b.get(hi)):
        return "overlap"
    if a[lo] > b[hi]:
        return "above"
    if a[hi] < b[lo]:
        return "below"
    return "overlap"


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def vote(verdicts: list[str]) -> str:
    """The across-seeds rule on verdict strings (see the module docstring)."""
    if not verdicts:
        raise ValueError("vote needs at least one verdict")
    if len(set(verdicts)) == 1:
        return verdicts[0]
    return "partly" if {"confirmed", "partly"} & set(verdicts) else "open"


def combine_seeds(per_seed: list[Verdict], seeds: list[int]) -> Verdict:
    """One verdict from the same claim's verdicts on several seeds (in ``seeds`` order)."""
    if not per_seed or len(per_seed) != len(seeds):
        raise ValueError(f"need one verdict per seed, got {len(per_seed)} for {len(seeds)}")
    claims = {v.claim for v in per_seed}
    if len(claims) != 1:
        raise ValueError(f"combine_seeds needs verdicts on one claim, got {sorted(claims)}")
    first = per_seed[0]
    if len(per_seed) == 1:
        return replace(first, seeds_agree=1, seeds_total=1, per_seed=(first.verdict,))
    names = [v.verdict for v in per_seed]
    verdict = vote(names)
    mean, interval = interval95([v.value for v in per_seed])
    agree = sum(n == verdict for n in names)
    split = ", ".join(f"seed {s}: {n}" for s, n in zip(seeds, names, strict=True))
    evidence = (
        f"{agree}/{len(names)} seeds agree ({split}). Seed {seeds[0]}: {first.evidence}"
        if agree < len(names)
        else f"all {len(names)} seeds agree. Seed {seeds[0]}: {first.evidence}"
    )
    return Verdict(
        claim=first.claim,
        verdict=verdict,
        value=mean,
        threshold=f"{first.threshold}; {SEEDS_RULE}",
        evidence=evidence,
        interval=interval,
        seeds_agree=agree,
        seeds_total=len(names),
        per_seed=tuple(names),
    )


def combine_parts(parts: list[str]) -> str:
    """One verdict from the verdicts of the experiments that test a claim."""
    if not parts:
        raise ValueError("combine_parts needs at least one verdict")
    decided = [p for p in parts if p != "open"] or parts
    return decided[0] if len(set(decided)) == 1 else "partly"
