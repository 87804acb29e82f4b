"""Declared verdict rules, and the one grader that turns measurements into verdicts.

An experiment measures (tables of rows, one table per measurement, stacked over seeds
with a ``seed`` column) and declares its claims' rules as :class:`Rule` records: which
table, which rows (``where``), which columns make a cell (``cells``), the statistic (a
column), and its test (``op`` against a threshold that is a ``Config`` field, so it lives
in one place). :func:`grade` does the rest, the same way for every claim:

1. **Cells over seeds.** Each cell's statistic gets a 95 % interval over its seeds, of
   the kind its rule declares (:data:`~.verdicts.KINDS`): a mean's Student-t interval;
   for a 0/1 outcome, the share of seeds where it is true with a Wilson interval; for a
   ratio or a heavy-tailed gap, the median with the sign test's interval. Intervals are
   clipped to the statistic's range (``bounds``: accuracies and fractions stay in
   [0, 1], counts >= 0).
2. **Cells graded on their interval.** The whole interval passes the test -> the cell
   *holds*; the whole interval fails -> it *fails*; otherwise it is *undecided* at that
   many seeds. One seed of a stochastic experiment decides nothing (undecided);
   deterministic experiments grade their single value.
3. **The claim from its primary test.** Each claim declares its primary test before the
   run: the cells of its ``primary`` rules (a rule with ``pool`` columns averages its
   statistic over them in each seed: one cell per value of its other ``cells``). They
   decide: all hold -> confirmed; some hold and some fail -> partly; none holds and some
   fail -> refuted (an undecided cell never hides a failing one); otherwise (every cell
   undecided, or some holding and the rest undecided) -> open. The claim's other cells
   are secondary: graded, counted and shown, never deciding (a claim that declares no
   primary rule is decided by all its cells). A ``gate`` rule is a control that must hold for the
   measurement to mean anything (a working instrument, never a result that argues
   against the claim: that is a graded cell): unless every gate cell holds, the claim is
   open. A ``necessary`` rule is the claim's premise: a failing cell refutes the claim,
   an undecided one leaves it open. The verdict shows its counts of holding, failing and
   undecided cells and its deciding cell: for refuted or partly the worst failing one.

A graded rule "value < a confirmed, < b partly" is two rules on the same statistic (both
hold, one holds, none holds). The per-seed verdicts (each seed's cells graded on their
own values) are shown as evidence ("4 of 5 seeds"), never voted on.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .results import Verdict
from .verdicts import COUNT, KINDS, REAL, UNIT, interval_of

__all__ = ["COUNT", "REAL", "UNIT", "Cell", "Rule", "cell_table", "contrast", "describe_cell",
           "grade", "grade_cell", "grade_claim", "grade_goals", "indicative", "margins", "stack",
           "verdict_of"]  # fmt: skip

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
RULE_TEXT = (
    "every cell's 95 % interval over seeds (a mean's Student-t, a 0/1 outcome's Wilson "
    "interval of its share of seeds, a ratio's sign-test interval of its median; clipped to "
    "the statistic's range) is graded: "
    "wholly passing holds, wholly failing fails, else undecided; the claim's primary test "
    "decides: all its cells hold -> "
    "confirmed, some hold and some fail -> partly, none holds and some fail -> refuted, "
    "else open; secondary cells are shown, never deciding; "
    "a control that does not hold -> open, a premise that fails -> refuted"
)


@dataclass(frozen=True)
class Rule:
    """One declared test of a claim (or of a goal) on a table's cells.

    Attributes:
        claim: the claim's ID; for a goal (:func:`grade_goals`), the goal in words.
        table: the measured table the rule reads.
        stat: the column tested.
        op: ``">=" | ">" | "<=" | "<"``: the cell holds when ``stat op threshold``.
        threshold: a ``Config`` field's name (the one place its value lives), or a number
            for a threshold that is part of the claim itself (e.g. ``0``: "positive").
        cells: the columns that name a cell (``seed`` never: seeds are aggregated).
        where: only the rows whose columns equal these values.
        bounds: the statistic's range, which its interval never leaves.
        says: what the statistic means, in words, for the report.
        gate: a control that must hold (every cell) for the claim to be decided at all.
        necessary: the claim's premise: any failing cell refutes the claim.
        kind: the statistic's kind, which picks its interval (:data:`~.verdicts.KINDS`):
            ``"mean"``; ``"share"`` for a 0/1 outcome per seed (test the share against
            0.5: ``> 0.5`` is "true in most seeds", which 5 of 5 shows at 95 %);
            ``"median"`` for ratios and heavy-tailed gaps.
        primary: part of the claim's primary test, declared before the run: its cells
            decide the verdict, the other rules' cells are secondary.
        pool: columns the statistic is averaged over within each seed (a test pooled
            across datasets or widths), then graded over seeds: one cell per value of
            ``cells``.
    """

    claim: str
    table: str
    stat: str
    op: str
    threshold: str | float
    cells: tuple[str, ...] = ()
    where: Mapping[str, Any] = field(default_factory=dict)
    bounds: tuple[float, float] = REAL
    says: str = ""
    gate: bool = False
    necessary: bool = False
    kind: str = "mean"
    primary: bool = False
    pool: tuple[str, ...] = ()

    def __post_init__(self):
        if self.primary and self.gate:
            raise ValueError("a Rule is a control (gate) or part of the primary test, not both")
        if "seed" in self.pool or set(self.pool) & set(self.cells):
            raise ValueError("Rule pool names columns averaged within a seed: not 'seed', "
                             "nor a column of cells")  # fmt: skip
        if self.pool and self.kind == "share":
            raise ValueError("a 'share' statistic (0/1 per seed) cannot be pooled: its "
                             "average is no longer 0 or 1; declare cells instead")  # fmt: skip
        if self.kind not in KINDS:
            raise ValueError(f"Rule kind must be one of {list(KINDS)}, got {self.kind!r}")
        if self.op not in OPS:
            raise ValueError(f"Rule op must be one of {list(OPS)}, got {self.op!r}")
        if "seed" in self.cells:
            raise ValueError("Rule cells must not include 'seed': seeds are aggregated")
        lo, hi = self.bounds
        if not lo < hi:
            raise ValueError(f"Rule bounds must be (low, high) with low < high, got {self.bounds}")
        if self.gate and self.necessary:
            raise ValueError("a Rule is a gate (control) or necessary (premise), not both")

    def limit(self, cfg: Any) -> float:
        """The threshold's value under ``cfg``."""
        if isinstance(self.threshold, str):
            if not hasattr(cfg, self.threshold):
                raise AttributeError(
                    f"rule for {self.claim} names threshold {self.threshold!r}, which "
                    f"{type(cfg).__name__} does not have"
                )
            return float(getattr(cfg, self.threshold))
        return float(self.threshold)

    def describe(self, cfg: Any) -> str:
        """The rule in words, generated from the declaration and ``cfg``."""
        name = self.threshold if isinstance(self.threshold, str) else ""
        limit = f"{name} = {self.limit(cfg):g}" if name else f"{self.limit(cfg):g}"
        where = ", ".join(f"{k} = {v}" for k, v in self.where.items())
        per = f" per {', '.join(self.cells)}" if self.cells else ""
        scope = f" ({where}{per})" if where else (f" ({per.strip()})" if per else "")
        says = f" [{self.says}]" if self.says else ""
        if self.pool:
            scope = scope[:-1] + "; " if scope else " ("
            scope += f"pooled over {', '.join(self.pool)})"
        role = ("control: " if self.gate else "necessary: " if self.necessary
                else "primary: " if self.primary else "")  # fmt: skip
        kind = "" if self.kind == "mean" else f" ({KINDS[self.kind]})"
        return f"{role}{self.table}.{self.stat}{says}{scope}{kind} {self.op} {limit}"


@dataclass(frozen=True)
class Cell:
    """One graded cell: the rule, the cell's key, the statistic over ``n`` seeds (mean,
    interval or ``None``), and the outcome."""

    rule: Rule
    key: tuple
    n: int
    mean: float | None
    interval: tuple[float, float] | None
    outcome: str  # "holds" | "fails" | "undecided"

    def row(self, limit: float) -> dict:
        """The cell as a table row: its name, what it measures, seeds, the statistic and
        its value (``mean``: the centre of its kind, see :data:`~.verdicts.KINDS`),
        interval, the test and the outcome."""
        lo, hi = self.interval or (None, None)
        return {"cell": self.label(), "says": self.rule.says, "seeds": self.n,
                "statistic": self.rule.kind, "mean": self.mean, "lo": lo, "hi": hi,
                "test": f"{self.rule.op} {limit:g}", "limit": limit,
                "outcome": self.outcome}  # fmt: skip

    def label(self) -> str:
        """``"variant=infomax(z): table.stat"``-style name of the cell."""
        named = [*self.rule.where.items(),
                 *((c, v) for c, v in zip(self.rule.cells, self.key, strict=True)
                   if c not in self.rule.where)]  # fmt: skip
        key = ", ".join(f"{c}={v}" for c, v in named)
        pooled = f" pooled over {', '.join(self.rule.pool)}" if self.rule.pool else ""
        return f"{key + ': ' if key else ''}{self.rule.table}.{self.rule.stat}{pooled}"


def stack(
    per_seed: Sequence[Mapping[str, list[dict]]], seeds: Sequence[int], fixed: Sequence[str] = ()
) -> dict:
    """The tables of several seeds' results as one, each row with its ``seed``; the
    ``fixed`` tables (not measured: e.g. published numbers) are kept once, without
    ``seed`` (one seed's tables are returned as they are)."""
    if len(per_seed) == 1:
        return dict(per_seed[0])
    out = {}
    for name, first in per_seed[0].items():
        if name in fixed:
            out[name] = first
        else:
            out[name] = [{"seed": s, **row} for s, t in zip(seeds, per_seed, strict=True)
                         for row in t.get(name, [])]  # fmt: skip
    return out


def contrast(
    rows: Sequence[dict], column: str, reference: Any, stats: Sequence[str],
    within: Sequence[str] = (),
) -> list[dict]:  # fmt: skip
    """How far each row's ``stats`` are below the reference row's (reference minus row),
    as ``{stat}_below_ref``: the reference
    is the row whose ``column`` equals ``reference`` among the rows that share the
    ``within`` columns (e.g. the same dataset); ``None`` where either value is missing.
    The derived table a comparative rule reads.

    Examples:
        >>> rows = [{"m": "ours", "acc": 0.93}, {"m": "ref", "acc": 0.90}]
        >>> [round(r["acc_below_ref"], 2) for r in contrast(rows, "m", "ref", ["acc"])]
        [-0.03, 0.0]
    """
    refs = {tuple(r[w] for w in within): r for r in rows if r[column] == reference}
    out = []
    for r in rows:
        ref = refs.get(tuple(r[w] for w in within))
        if ref is None:
            where = {w: r[w] for w in within}
            raise KeyError(f"contrast: no row with {column} = {reference!r} among {where}")
        out.append({**{w: r[w] for w in within}, column: r[column],
                    **{f"{s}_below_ref": None if None in (ref.get(s), r.get(s)) else ref[s] - r[s]
                       for s in stats}})  # fmt: skip
    return out


def _cells(rule: Rule, rows: list[dict]) -> dict[tuple, list[float]]:
    """The rule's rows (``where``) grouped by its cell columns: the statistic's values (a
    row without the statistic was not measured there and is left out)."""
    chosen = [r for r in rows if all(r.get(k) == v for k, v in rule.where.items())]
    missing = [c for c in (rule.stat, *rule.cells, *rule.pool)
               if chosen and not any(c in r for r in chosen)]  # fmt: skip
    if missing:
        raise KeyError(f"rule for {rule.claim}: table {rule.table!r} has no column(s) {missing}")
    groups: dict[tuple, list[float]] = {}
    if rule.pool:  # each seed's mean over the pooled columns, per cell
        pooled: dict[tuple, dict[Any, list[float]]] = {}
        for row in chosen:
            v = row.get(rule.stat)
            if isinstance(v, (int, float)) and math.isfinite(v):
                key = tuple(row[c] for c in rule.cells)
                pooled.setdefault(key, {}).setdefault(row.get("seed"), []).append(float(v))
        return {k: [sum(vs) / len(vs) for vs in by_seed.values()]
                for k, by_seed in pooled.items()}  # fmt: skip
    for row in chosen:
        if rule.stat in row:
            groups.setdefault(tuple(row[c] for c in rule.cells), []).append(row[rule.stat])
    return groups


def grade_cell(rule: Rule, key: tuple, values: list, limit: float, stochastic: bool) -> Cell:
    """One cell: aggregate ``values`` (one per seed) and grade the interval against ``limit``."""
    finite = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    test = OPS[rule.op]
    mean, ci = interval_of(finite, rule.bounds, rule.kind)
    if mean is None:
        outcome = "undecided"
    elif ci is None and not stochastic:
        outcome = "holds" if test(mean, limit) else "fails"
    elif ci is None:
        outcome = "undecided"
    elif test(ci[0], limit) and test(ci[1], limit):
        outcome = "holds"
    elif not test(ci[0], limit) and not test(ci[1], limit):
        outcome = "fails"
    else:
        outcome = "undecided"
    return Cell(rule, key, len(finite), mean, ci, outcome)


def verdict_of(outcomes: Sequence[str]) -> str:
    """The claim's verdict from its cells' outcomes (see the module docstring).

    Examples:
        >>> verdict_of(["holds", "holds"]), verdict_of(["holds", "fails", "undecided"])
        ('confirmed', 'partly')
        >>> verdict_of(["fails", "undecided"]), verdict_of(["holds", "undecided"])
        ('refuted', 'open')
    """
    if not outcomes:
        raise ValueError("verdict_of needs at least one cell")
    holds, fails = outcomes.count("holds"), outcomes.count("fails")
    if holds == len(outcomes):
        return "confirmed"
    if fails:
        return "partly" if holds else "refuted"
    return "open"


def grade_claim(
    claim: str, rules: Sequence[Rule], tables: Mapping[str, list[dict]], cfg: Any,
    stochastic: bool = True,
) -> tuple[str, list[Cell]]:  # fmt: skip
    """``(verdict, graded cells)`` of one claim from its rules on ``tables``."""
    cells = []
    for rule in rules:
        if rule.table not in tables:
            raise KeyError(f"rule for {claim}: no table {rule.table!r}; have {sorted(tables)}")
        limit = rule.limit(cfg)
        for key, values in _cells(rule, tables[rule.table]).items():
            cells.append(grade_cell(rule, key, values, limit, stochastic))
    if not cells:
        return "open", cells
    gates = [c for c in cells if c.rule.gate]
    if any(c.outcome != "holds" for c in gates):
        return "open", cells
    premise = [c.outcome for c in cells if c.rule.necessary]
    if "fails" in premise:
        return "refuted", cells
    if "undecided" in premise:
        return "open", cells
    tested = [c.outcome for c in _primary(cells)]
    return (verdict_of(tested) if tested else "open"), cells


def _primary(cells: list[Cell]) -> list[Cell]:
    """The cells of the claim's primary test: its ``primary`` rules' cells, or every
    tested (non-control) cell where the claim declares none."""
    tested = [c for c in cells if not c.rule.gate]
    return [c for c in tested if c.rule.primary] or tested


def _deciding(verdict: str, cells: list[Cell], cfg: Any = None) -> Cell | None:
    """The cell whose statistic decided ``verdict``: a gate or premise that did not hold;
    else, for refuted or partly, the worst failing cell (:func:`_shortfall`); for open,
    the first undecided one; for confirmed, the first tested cell."""
    for c in cells:
        if (c.rule.gate or c.rule.necessary) and c.outcome != "holds":
            return c
    tested = _primary(cells)
    failing = [c for c in tested if c.outcome == "fails"]
    if verdict in ("refuted", "partly") and failing:
        return max(failing, key=lambda c: _shortfall(c, cfg))
    want = "undecided" if verdict == "open" else None
    return next((c for c in tested if c.outcome == want), tested[0] if tested else None)


def _shortfall(cell: Cell, cfg: Any) -> float:
    """How far a failing cell's mean lies on the failing side of its threshold, in units
    of its interval's half-width (a cell without an interval: infinitely far), so that
    cells of different statistics compare."""
    if cell.mean is None or cfg is None:
        return 0.0
    gap = abs(cell.mean - cell.rule.limit(cfg))
    if cell.interval is None:
        return math.inf if gap > 0 else 0.0
    half = (cell.interval[1] - cell.interval[0]) / 2
    return gap / half if half > 0 else math.inf


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def describe_cell(c: Cell, limit: float) -> str:
    """``"label 0.62 [0.55, 0.70] >= 0.5: holds (5 seeds)"``."""
    ci = f" [{_fmt(c.interval[0])}, {_fmt(c.interval[1])}]" if c.interval else ""
    return f"{c.label()} {_fmt(c.mean)}{ci} {c.rule.op} {limit:g}: {c.outcome} ({c.n} seeds)"


def grade(
    rules: Sequence[Rule], tables: Mapping[str, list[dict]], cfg: Any, stochastic: bool = True,
) -> list[Verdict]:  # fmt: skip
    """One :class:`Verdict` per claim of ``rules`` (in first-declared order), from
    ``tables`` stacked over seeds (a ``seed`` column, or one seed's rows)."""
    verdicts = []
    for claim in dict.fromkeys(r.claim for r in rules):
        mine = [r for r in rules if r.claim == claim]
        verdict, cells = grade_claim(claim, mine, tables, cfg, stochastic)
        seeds = sorted({row["seed"] for r in mine for row in tables[r.table] if "seed" in row})
        per_seed = [
            grade_claim(claim, mine, {n: [row for row in t if row.get("seed") == s]
                                      for n, t in tables.items()}, cfg, stochastic=False)[0]
            for s in seeds
        ] if len(seeds) > 1 else []  # fmt: skip
        top = _deciding(verdict, cells, cfg)
        primary = _primary(cells)
        secondary = [c for c in cells if not c.rule.gate and c not in primary]
        counts, second = _counts(primary), _counts(secondary)
        seeds_line = (f" Per seed (each graded alone, not voted on): {per_seed.count(verdict)} of "
                      f"{len(per_seed)} seeds {verdict}." if per_seed else "")  # fmt: skip
        evidence = ((f"primary test: {_tally(counts)}; secondary cells: {_tally(second)}. "
                     if cells else "no cells measured. ")
                    + "; ".join(describe_cell(c, c.rule.limit(cfg)) for c in cells) + "."
                    + seeds_line)  # fmt: skip
        verdicts.append(Verdict(
            claim=claim,
            verdict=verdict,
            value=top.mean if top else None,
            threshold="; ".join(r.describe(cfg) for r in mine) + f". {RULE_TEXT}",
            evidence=evidence,
            interval=top.interval if top else None,
            seeds_agree=per_seed.count(verdict) if per_seed else None,
            seeds_total=len(per_seed) or None,
            per_seed=tuple(per_seed),
            counts=counts,
            secondary=second,
            primary="; ".join(dict.fromkeys(r.describe(cfg) for r in mine if r.primary))
            or "every cell (no primary test declared)",
        ))  # fmt: skip
    return verdicts


def _counts(cells: list[Cell]) -> tuple[int, int, int]:
    """How many of ``cells`` hold, fail and are undecided."""
    holds, fails = (sum(c.outcome == o for c in cells) for o in ("holds", "fails"))
    return holds, fails, len(cells) - holds - fails


def _tally(counts: tuple[int, int, int]) -> str:
    return ", ".join(f"{n} {o}" for o, n in zip(("hold", "fail", "undecided"), counts,
                                                  strict=True) if n) or "none"  # fmt: skip


GOAL_OUTCOMES = {"holds": "met", "fails": "missed", "undecided": "not resolved"}


def grade_goals(
    goals: Sequence[Rule], tables: Mapping[str, list[dict]], cfg: Any, stochastic: bool = True
) -> list[dict]:
    """Each goal's cells graded like a claim's (interval wholly passing: met; wholly
    failing: missed; else not resolved at that many seeds): one row per cell."""
    rows = []
    for goal in goals:
        limit = goal.limit(cfg)
        for key, values in _cells(goal, tables[goal.table]).items():
            c = grade_cell(goal, key, values, limit, stochastic)
            outcome = GOAL_OUTCOMES[c.outcome]
            if c.outcome == "undecided":
                outcome = (
                    f"{outcome} at {c.n} seeds" if c.n else "not measured (no seed gave a value)"
                )
            rows.append({"goal": goal.claim, **c.row(limit), "outcome": outcome})
    return rows


def cell_table(rules: Sequence[Rule], tables: Mapping[str, list[dict]], cfg: Any,
               stochastic: bool = True) -> list[dict]:  # fmt: skip
    """Every graded cell as a row (claim, cell, statistic, seeds, mean, interval,
    threshold, outcome): the evidence table the report shows beside the verdicts."""
    out = []
    for claim in dict.fromkeys(r.claim for r in rules):
        _, cells = grade_claim(claim, [r for r in rules if r.claim == claim], tables, cfg,
                               stochastic)  # fmt: skip
        out += [{"claim": claim, "control": c.rule.gate, **c.row(c.rule.limit(cfg))}
                for c in cells]  # fmt: skip
    return out


def margins(cells: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Per claim and cell, how far a (full) run's mean lies from the threshold,
    ``|mean - limit|``, from its graded cells (:func:`cell_table` rows); the nearest
    threshold where several rules test one cell."""
    out: dict[str, dict[str, float]] = {}
    for c in cells:
        if c.get("mean") is not None and c.get("limit") is not None:
            mine = out.setdefault(c["claim"], {})
            gap = abs(c["mean"] - c["limit"])
            mine[c["cell"]] = min(gap, mine.get(c["cell"], gap))
    return out


def indicative(cells: Sequence[Mapping[str, Any]], full: Mapping[str, Mapping[str, float]]) -> set:
    """The claims a quick run cannot decide as the full run does: one of their cells has a
    95 % interval wider than that cell's margin in the full run (:func:`margins`), or one
    the full run did not grade, or one whose several seeds give no interval (a median
    needs 5). Cells of one seed (deterministic) never count."""
    out = set()
    for c in cells:
        if c.get("lo") is None or c.get("hi") is None:
            if (c.get("seeds") or 0) > 1:  # too few seeds for this statistic's interval
                out.add(c["claim"])
            continue
        margin = full.get(c["claim"], {}).get(c["cell"])
        if margin is None or c["hi"] - c["lo"] > margin:
            out.add(c["claim"])
    return out
