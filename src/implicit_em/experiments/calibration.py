r"""Thresholds in units of seed-to-seed noise, calibrated on seeds that are never graded.

Some rules need a tolerance that only the noise of the measurement can set: "keeps the
accuracy" is "at most twice the reference's seed-to-seed SD below it". Measuring that SD
on the seeds that are then graded (0-4) would let the graded numbers choose their own
threshold, so each is measured on the calibration seeds 100-104 instead::

    iem run competition passing_forward supervised layerwise \
        --set seed=100 --seeds 5 --out runs/calibration
    python -m implicit_em.experiments.calibration runs/calibration

prints, per threshold, the SD, the factor, the calibrated value and the ``Config``
default beside it. Each ``Config`` comment names the calibration run it came from. Not
calibrated, and said so where they are set: thresholds that are the claim's own words
(C19's "maximum" as 90 %), and C13's margin, whose statistic (the shortfall of a variant
chosen per seed on validation) is too heavy-tailed for an SD to measure noise.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CALIBRATION_SEEDS = tuple(range(100, 105))
GRADED_SEEDS = tuple(range(0, 5))


@dataclass(frozen=True)
class Calibration:
    """One threshold: ``factor`` times the SD over seeds of ``stat`` in ``table``'s rows
    matching ``where`` (one value per seed; ``scale`` converts to the threshold's units).
    """

    experiment: str
    field: str
    table: str
    stat: str
    where: dict[str, Any]
    factor: float
    says: str
    scale: float = 1.0
    cells: tuple[str, ...] = ()  # several cells: the largest SD decides

    def sd(self, rows: list[dict]) -> float:
        """The largest seed-to-seed SD over this threshold's cells (``rows``: every
        seed's, each with its ``seed`` column)."""
        chosen = [r for r in rows if all(r.get(k) == v for k, v in self.where.items())]
        groups: dict[tuple, list[float]] = {}
        for r in chosen:
            v = r.get(self.stat)
            if isinstance(v, (int, float)):
                groups.setdefault(tuple(r.get(c) for c in self.cells), []).append(float(v))
        if not groups or min(len(v) for v in groups.values()) < 3:
            raise ValueError(
                f"calibrating {self.experiment}.{self.field}: table {self.table!r} needs "
                f"{self.stat!r} on at least 3 seeds where {self.where}; run it with --seeds 5"
            )
        return max(statistics.stdev(v) for v in groups.values()) * self.scale


def _accuracy(exp: str, fld: str, table: str, where: dict, says: str) -> list[Calibration]:
    return [Calibration(exp, f"{fld}_{d}", table, "accuracy", {**where, "dataset": d}, 2.0, says)
            for d in ("mnist", "digits")]  # fmt: skip


CALIBRATIONS: tuple[Calibration, ...] = (
    *_accuracy("competition", "tolerance", "fits", {"activation": "relu"},
               "C25: twice the ReLU network's test-accuracy SD"),
    *_accuracy("passing_forward", "works", "outputs", {"output": "ReLU"},
               "C21: twice the ReLU network's test-accuracy SD"),
    *_accuracy("supervised", "tolerance", "configs", {"config": "baseline (CE only)"},
               "C22: twice CE alone's test-accuracy SD"),
    *(Calibration("layerwise", f"gain_{d}", "layers", "probe_accuracy",
                  {"kind": "implicit-EM", "mode": "greedy", "layer": 1, "dataset": d}, 2.0,
                  "C20: twice the first layer's probe-accuracy SD") for d in ("mnist", "digits")),
    Calibration("layerwise", "independence_slack", "layers", "mean_abs_corr",
                {"kind": "implicit-EM", "mode": "greedy", "layer": 1}, 4.0,
                "C20: four SDs of the first layer's mean |corr|, the wider dataset",
                cells=("dataset",)),
)  # fmt: skip


def calibrate(run_dir: Path | str, load: Callable[[Path], dict] | None = None) -> list[dict]:
    """Every calibrated threshold from the run in ``run_dir`` (one row each:
    experiment, field, seeds, sd, factor, calibrated, default). Refuses a run on graded
    seeds."""
    from .registry import EXPERIMENTS

    run_dir = Path(run_dir)
    read = load or (lambda p: json.loads(p.read_text()))
    out = []
    for c in CALIBRATIONS:
        path = run_dir / c.experiment / "results.json"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `iem run {c.experiment} --set "
                                    f"seed=100 --seeds 5 --out {run_dir}` first")  # fmt: skip
        results = read(path)
        seeds = tuple(results["seeds"])
        if set(seeds) & set(GRADED_SEEDS):
            raise ValueError(f"{path} ran on seeds {list(seeds)}, which are graded; calibrate "
                             f"on seeds {CALIBRATION_SEEDS[0]}-{CALIBRATION_SEEDS[-1]} "
                             "(--set seed=100 --seeds 5)")  # fmt: skip
        sd = c.sd(results["tables"][c.table])
        default = getattr(EXPERIMENTS[c.experiment].config(), c.field)
        out.append({"experiment": c.experiment, "field": c.field, "what": c.says,
                    "seeds": f"{seeds[0]}-{seeds[-1]}", "sd": sd, "factor": c.factor,
                    "calibrated": c.factor * sd, "default": default})  # fmt: skip
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m implicit_em.experiments.calibration RUN``: print the table."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m implicit_em.experiments.calibration RUN_DIR", file=sys.stderr)
        return 2
    rows = calibrate(args[0])
    print("| threshold | what | seeds | SD | factor | calibrated | default |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['experiment']}.{r['field']} | {r['what']} | {r['seeds']} | {r['sd']:.4g} "
              f"| {r['factor']:g} | {r['calibrated']:.4g} | {r['default']:g} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
