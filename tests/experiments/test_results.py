"""Verdict records: validation."""

import pytest

from implicit_em.experiments import Verdict


def test_verdict_validation():
    with pytest.raises(ValueError, match="unknown claim"):
        Verdict("C99", "confirmed", 1.0, "", "")
    with pytest.raises(ValueError, match="verdict must be"):
        Verdict("C1", "yes", 1.0, "", "")
    assert Verdict("C1", "open", None, "", "").to_dict()["verdict"] == "open"
