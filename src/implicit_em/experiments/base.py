"""What an experiment is, what it returns, and how a verdict is recorded.

An experiment is one file with a ``@dataclass`` config (which has a ``seed`` field),
``QUICK`` overrides for CI-sized runs, ``run(cfg, out_dir) -> dict`` and optionally
``plot(result, out_dir) -> list[figure]`` that draws only from the saved result.

``run`` returns ``{"metrics": {...}, "tables": {name: [row dicts]},
"verdicts": [Verdict, ...], "summary": "text"}``; the runner adds the config, seed and
wall time and writes ``results.json`` atomically (see :mod:`implicit_em.experiments.results`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, is_dataclass

from ..claims import CLAIMS

VERDICTS = ("confirmed", "refuted", "partly", "open")


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict, computed from a measurement.

    Attributes:
        claim: claim ID (``"C1"`` ... ``"C17"``).
        verdict: ``"confirmed" | "refuted" | "partly" | "open"``.
        value: the key measured number (``None`` if there is none).
        threshold: the rule that decided the verdict, in words.
        evidence: one sentence with the numbers behind it.
    """

    claim: str
    verdict: str
    value: float | None
    threshold: str
    evidence: str

    def __post_init__(self):
        if self.claim not in CLAIMS:
            raise ValueError(f"unknown claim {self.claim!r}; expected one of {list(CLAIMS)}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def image_dataset(name: str, seed: int, mnist_train: int):
    """``digits`` or ``mnist`` (``mnist_train`` training images of the local files);
    ``None`` when the MNIST files are not available (experiments record the skip)."""
    from ..data import find_mnist, load_dataset

    if name != "mnist":
        return load_dataset(name, seed=seed)
    if find_mnist() is None:
        return None
    return load_dataset("mnist", seed=seed, download=False, n_train=mnist_train)


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


@dataclass
class Experiment:
    """A registered experiment."""

    name: str
    title: str
    claims: tuple[str, ...]
    config: type
    run: Callable[[object, object], dict]
    quick: dict = field(default_factory=dict)
    plot: Callable[[dict, object], list] | None = None
    description: str = ""

    def __post_init__(self):
        if not is_dataclass(self.config) or "seed" not in {f.name for f in fields(self.config)}:
            raise TypeError(f"{self.name}: config must be a dataclass with a 'seed' field")
        unknown = set(self.quick) - {f.name for f in fields(self.config)}
        if unknown:
            raise TypeError(f"{self.name}: QUICK sets unknown config fields {sorted(unknown)}")
