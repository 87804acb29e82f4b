"""Experiment registry selection."""

import pytest

from implicit_em.experiments import get_experiments


def test_registry_selection():
    assert [e.name for e in get_experiments([])] == [e.name for e in get_experiments(["all"])]
    with pytest.raises(ValueError, match="available"):
        get_experiments(["nope"])
