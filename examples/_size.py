"""Example sizes: ``IEM_EXAMPLE_TINY=1`` (set by the test suite) shrinks every example to a
few seconds; without it the examples run at sizes that show the effect."""

import os

TINY = os.environ.get("IEM_EXAMPLE_TINY") == "1"


def size(full: int, tiny: int) -> int:
    """``tiny`` under the test suite, else ``full``."""
    return tiny if TINY else full
