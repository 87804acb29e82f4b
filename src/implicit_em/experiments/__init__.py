"""The experiment suite: each experiment gives measured verdicts on the claims in
:mod:`implicit_em.claims`."""

from .base import Experiment, Verdict, grade_below
from .config import ConfigError, build_config
from .registry import EXPERIMENTS, get_experiments, list_experiments
from .runner import RunError, run_experiments

__all__ = [
    "EXPERIMENTS",
    "ConfigError",
    "Experiment",
    "RunError",
    "Verdict",
    "build_config",
    "get_experiments",
    "grade_below",
    "list_experiments",
    "run_experiments",
]
