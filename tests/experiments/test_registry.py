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


def test_the_data_line_is_the_datasets_in_words_then_the_note():
    from implicit_em.experiments.registry import EXPERIMENTS

    layerwise = EXPERIMENTS["layerwise"]
    cfg = layerwise.config(datasets=("digits",))
    assert layerwise.describe_data(cfg) == (
        "scikit-learn digits: 1797 8x8 images split 1438 train / 359 test; "
        "centred, one global scale"
    )
    plain = EXPERIMENTS["passing_forward"]
    assert plain.describe_data(plain.config(datasets=("digits",))).endswith("359 test")
