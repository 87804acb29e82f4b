"""The experiment suite: each experiment gives measured verdicts on the claims in
:mod:`implicit_em.claims`."""

from .base import Experiment, Verdict
from .config import ConfigError, build_config
from .registry import EXPERIMENTS, get_experiments, list_experiments
from .rules import Rule
from .runner import RunError, run_experiments

__all__ = [
    "EXPERIMENTS",
    "ConfigError",
    "Experiment",
    "Rule",
    "RunError",
    "Verdict",
    "build_config",
    "get_experiments",
    "list_experiments",
    "run_experiments",
]
