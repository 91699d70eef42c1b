"""``torchrun --nproc-per-node N -m recsys_core.distributed train|score ...``."""

import sys

from recsys_core.distributed.cli import main

sys.exit(main())
