"""``python -m local_kafka ...`` (with ``deploy/`` on ``PYTHONPATH``) or ``python deploy/local_kafka ...``."""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a directory: sys.path[0] is this folder, make the package importable instead
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from local_kafka.cli import main

if __name__ == "__main__":
    sys.exit(main())
