"""``python -m recsys_core``: see :mod:`recsys_core.cli`."""

import sys

from recsys_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
