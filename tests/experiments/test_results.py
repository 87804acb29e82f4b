"""Verdict records: validation and grading."""

import pytest

from implicit_em.experiments import (
    Verdict,
    grade_below,
)


def test_verdict_validation_and_grading():
    with pytest.raises(ValueError, match="unknown claim"):
        Verdict("C99", "confirmed", 1.0, "", "")
    with pytest.raises(ValueError, match="verdict must be"):
        Verdict("C1", "yes", 1.0, "", "")
    assert grade_below(1e-13, 1e-12, 1e-6) == "confirmed"
    assert grade_below(1e-8, 1e-12, 1e-6) == "partly"
    assert grade_below(1e-3, 1e-12, 1e-6) == "refuted"
    assert grade_below(float("nan"), 1e-12) == "open"
