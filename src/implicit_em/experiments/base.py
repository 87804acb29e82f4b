"""What an experiment is, what it returns, and how its claims are decided.

An experiment is one file with a ``@dataclass`` config (which has a ``seed`` field),
``QUICK`` overrides for CI-sized runs, ``run(cfg, out_dir) -> dict`` (its measurements)
and optionally ``plot(result, out_dir) -> list[figure]`` that draws only from the saved
result, and the rules that decide its claims (:mod:`implicit_em.experiments.rules`).

``run`` returns ``{"metrics": {...}, "tables": {name: [row dicts]}, "summary": "text",
"data": "text"}``; the runner stacks the seeds' tables, grades the rules on them, adds the
config, seeds and wall time and writes ``results.json`` atomically (see
:mod:`implicit_em.experiments.results`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .results import VERDICTS, Verdict

if TYPE_CHECKING:  # torch and the datasets load when an experiment reads data
    import torch

    from ..data.dataset import Dataset

__all__ = [
    "VERDICTS",
    "Experiment",
    "Verdict",
    "centre_and_scale",
    "describe_image_data",
    "image_dataset",
    "image_tensors",
]


def image_dataset(name: str, seed: int, mnist_train: int) -> Dataset | None:
    """``digits`` or ``mnist`` (``mnist_train`` training images of the local files);
    ``None`` when the MNIST files are not available (experiments record the skip)."""
    from ..data import find_mnist, load_dataset

    if name != "mnist":
        return load_dataset(name, seed=seed)
    if find_mnist() is None:
        return None
    return load_dataset("mnist", seed=seed, download=False, n_train=mnist_train)


def image_tensors(
    names: Sequence[str], seed: int, mnist_train: int, skipped: list | None = None
) -> Iterator[tuple[str, Any, torch.Tensor, torch.Tensor]]:
    """For each of ``names`` that is available (:func:`image_dataset`), yield ``(name, ds,
    x, xt)``, the training and test images as float32 tensors; unavailable ones (MNIST
    without its files; the report's data line says so) are appended to ``skipped``."""
    import torch

    for name in names:
        ds = image_dataset(name, seed, mnist_train)
        if ds is None:
            if skipped is not None:
                skipped.append(name)
            continue
        x = torch.as_tensor(ds.X_train, dtype=torch.float32)
        yield name, ds, x, torch.as_tensor(ds.X_test, dtype=torch.float32)


def centre_and_scale(x_train: Any, x_test: Any) -> tuple[Any, Any]:
    """``(x - m) / s`` for both, ``m`` the training images' mean image and ``s`` one
    number, the standard deviation of the centred training pixels: every pixel keeps its
    relative scale. Per-pixel standardisation would divide by the near-zero spread of
    rarely inked pixels (MNIST has some constant on a subset), turning them into outlier
    directions of 1e6 that units correlate through. NumPy arrays or tensors.

    Examples:
        >>> import numpy as np
        >>> a, b = centre_and_scale(np.array([[0.0, 0.0], [2.0, 2.0]]), np.array([[1.0, 3.0]]))
        >>> a.tolist(), b.tolist()
        ([[-1.0, -1.0], [1.0, 1.0]], [[0.0, 2.0]])
    """
    mean = x_train.mean(0)
    centred = x_train - mean
    scale = float((centred**2).mean()) ** 0.5
    if not scale > 0:
        raise ValueError("the training images are all equal: nothing to scale")
    return centred / scale, (x_test - mean) / scale


def describe_image_data(name: str, mnist_train: int) -> str:
    """What :func:`image_dataset` gives, in words, for the report's "data used" line."""
    from ..data import describe_mnist, find_mnist

    if name == "digits":
        return "scikit-learn digits: 1797 8x8 images split 1438 train / 359 test"
    if name != "mnist":
        return name
    found = find_mnist()
    if found is None:
        return "MNIST: not available (run `iem data mnist` or set IEM_DATA); skipped"
    if found[1]:
        return f"{describe_mnist()}: {mnist_train} of the 60k training images; the 10k test images"
    return (
        f"MNIST: the 10k test images split 8k/2k, {min(mnist_train, 8000)} of the 8k for "
        "training (the 60k training set was not available: run `iem data mnist`)"
    )


# Experiment field -> the module attribute that :meth:`Experiment.declared_in` reads
CONVENTION = {"config": "Config", "run": "run", "quick": "QUICK", "plot": "plot",
              "rules": "RULES", "goals": "GOALS", "across_seeds": "across_seeds",
              "why": "WHY"}  # fmt: skip


@dataclass
class Experiment:
    """A registered experiment."""

    name: str
    title: str
    claims: tuple[str, ...]
    config: type
    run: Callable[[Any, Path], dict]  # run(cfg, out_dir) -> result; cfg: this config's type
    quick: dict = field(default_factory=dict)
    plot: Callable[[dict, Path], list] | None = None
    stochastic: bool = True  # False: one seed decides (deterministic measurements)
    # across_seeds(tables, cfg) -> {name: rows}: tables computed from every seed's rows
    # (stacked, with a "seed" column when there are several), shown first in the report
    across_seeds: Callable[[dict, Any], dict] | None = None
    # the goals for this experiment, declared and graded like rules
    # (:func:`implicit_em.experiments.rules.grade_goals`) into the table ``goals``
    goals: tuple = ()
    # tables every seed returns unchanged (published numbers): shown once, not per seed
    fixed_tables: tuple[str, ...] = ()
    # the declared rules that decide ``claims`` (:mod:`implicit_em.experiments.rules`),
    # graded by the runner on the tables stacked over seeds
    rules: tuple = ()
    # False: only run when named (``iem run benchmark``), never as part of ``all``
    in_all: bool = True
    # the report's one-paragraph summary, unless ``run`` returns its own
    summary: str = ""
    # per claim, why its rule is the fair test of what the notes say (shown with the rule)
    why: Mapping[str, str] = field(default_factory=dict)
    # the report's "data used" line: text, or a function of the config; by default the
    # config's ``datasets`` in words (:func:`describe_image_data`), then ``data_note``
    data: str | Callable[[Any], str] | None = None
    data_note: str = ""

    @classmethod
    def declared_in(cls, module: str, title: str, **fields: Any) -> Experiment:
        """The experiment that ``module`` (its ``__name__``) declares by convention: its
        ``Config`` and ``run``, and where present ``QUICK``, ``plot``, ``RULES``, ``GOALS``
        and ``across_seeds``; named after the module, testing the claims its rules name
        (in their order). ``fields`` set the rest, or override.

        Examples:
            ``EXPERIMENT = Experiment.declared_in(__name__, "Dead units: ReLU vs soft")``
        """
        import sys

        mod = sys.modules[module]
        found = {f: getattr(mod, a) for f, a in CONVENTION.items() if hasattr(mod, a)}
        claims = tuple(dict.fromkeys(r.claim for r in found.get("rules", ())))
        return cls(**{"name": module.rsplit(".", 1)[-1], "title": title, "claims": claims,
                      **found, **fields})  # fmt: skip

    def describe_data(self, cfg: Any) -> str:
        """The "data used" line for ``cfg`` (see ``data``)."""
        if callable(self.data):
            return self.data(cfg)
        if self.data is not None:
            return self.data
        names = getattr(cfg, "datasets", ())
        parts = [describe_image_data(n, getattr(cfg, "mnist_train", 0)) for n in names]
        return "; ".join([*parts, self.data_note] if self.data_note else parts)

    def __post_init__(self):
        if not is_dataclass(self.config) or "seed" not in {f.name for f in fields(self.config)}:
            raise TypeError(f"{self.name}: config must be a dataclass with a 'seed' field")
        names = {f.name for f in fields(self.config)}
        unknown = set(self.quick) - names
        if unknown:
            raise TypeError(f"{self.name}: QUICK sets unknown config fields {sorted(unknown)}")
        if self.claims and not self.rules:
            raise TypeError(f"{self.name}: claims {self.claims} need declared rules (rules=...)")
        if unknown := set(self.why) - set(self.claims):
            raise TypeError(f"{self.name}: why names claims it does not test: {sorted(unknown)}")
        for rule in self.rules:
            if rule.claim not in self.claims:
                raise TypeError(f"{self.name}: a rule tests {rule.claim}, not one of {self.claims}")
        for rule in (*self.rules, *self.goals):
            if isinstance(rule.threshold, str) and rule.threshold not in names:
                raise TypeError(
                    f"{self.name}: a rule's threshold {rule.threshold!r} is not a config field"
                )
