"""Experiment registry selection."""

import pytest

from implicit_em.experiments import get_experiments


def test_registry_selection():
    assert [e.name for e in get_experiments([])] == [e.name for e in get_experiments(["all"])]
    with pytest.raises(ValueError, match="available"):
        get_experiments(["nope"])


def test_the_full_benchmark_runs_only_when_named():
    names = [e.name for e in get_experiments(["all"])]
    assert "benchmark" not in names and "benchmark_small" in names
    assert [e.name for e in get_experiments(["benchmark"])] == ["benchmark"]
    assert "benchmark" in [e.name for e in get_experiments(["all", "benchmark"])]
