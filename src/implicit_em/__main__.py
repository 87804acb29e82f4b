"""``python -m implicit_em``: the ``iem`` command line."""

import sys

from .cli import main

sys.exit(main())
